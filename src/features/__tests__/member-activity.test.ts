import { describe, expect, it } from '@jest/globals';
import { expectedVisits } from '../churn';
import { fitVisitRate, visitSummary } from '../member-activity';

/** Checkout ages (days before the cut-off, ascending) of one visit every `every` days from `from` to `to` days ago. */
function visitsEvery(every: number, from: number, to: number): number[] {
  const ages: number[] = [];
  for (let age = from; age <= to; age += every) ages.push(age);
  return ages;
}

describe('visit days', () => {
  it('counts days with a checkout, not loans, and measures the gaps between them', () => {
    // Three loans on day 5, two on day 40, one each on days 100, 200 and 400.
    const ages = [5, 5, 5, 40, 40, 100, 200, 400];
    const v = visitSummary(ages, 1000);
    expect(v.visitDays90d).toBe(2);
    expect(v.visitDaysPrev90d).toBe(1);
    expect(v.visitDays365d).toBe(4);
    // 4 visits over the 365 days observed, per 30 days.
    expect(v.visitRate365d).toBeCloseTo((4 * 30) / 365, 10);
    expect(v.lastVisitGapDays).toBe(35);
    // Gaps 35, 60, 100, 200: the last three (mean 65) against the earlier one (200).
    expect(v.visitGapTrend).toBeCloseTo(65 / 200, 10);
  });

  it('gives a member with one visit its age as the gap, and one with none their tenure', () => {
    expect(visitSummary([12, 12], 50)).toMatchObject({ visitDays90d: 1, lastVisitGapDays: 12, visitGapTrend: 1, visitRate365d: 1 });
    expect(visitSummary([], 50)).toMatchObject({ visitDays365d: 0, lastVisitGapDays: 50, visitRate365d: 0 });
  });
});

describe('the fitted visit rate', () => {
  it('finds a steady rate with no trend', () => {
    // A visit every 10 days for 18 months: 3 a month.
    const fit = fitVisitRate(visitsEvery(10, 3, 539), 2000);
    expect(fit.fittedVisitRate).toBeGreaterThan(2.7);
    expect(fit.fittedVisitRate).toBeLessThan(3.3);
    expect(Math.abs(fit.fittedVisitTrend)).toBeLessThan(0.02);
  });

  it('sees a member slowing down, whom window counts of the last year call steady', () => {
    // Every 5 days until a year ago, every 30 days since: a falling rate now well under the average.
    const ages = [...visitsEvery(30, 10, 360), ...visitsEvery(5, 365, 539)];
    const slowing = fitVisitRate(ages, 2000);
    expect(slowing.fittedVisitTrend).toBeLessThan(-0.05);
    expect(slowing.fittedVisitRate).toBeLessThan(1.5);
    // Fewer visits expected over the next 90 days than three months at the current rate: the trend goes on.
    expect(expectedVisits(slowing, 90)).toBeLessThan(3 * slowing.fittedVisitRate);
  });

  it('leaves out the joining day, and holds a few visits near the prior', () => {
    // Joined 20 days ago and borrowed only that day: no evidence of a habit yet.
    const joinedOnly = fitVisitRate([20], 20);
    const twoMore = fitVisitRate([2, 9, 20], 20);
    expect(joinedOnly.fittedVisitRate).toBeLessThan(twoMore.fittedVisitRate);
    expect(joinedOnly.fittedVisitRate).toBeLessThan(0.7);
    expect(Number.isFinite(fitVisitRate([], 0).fittedVisitRate)).toBe(true);
  });
});
