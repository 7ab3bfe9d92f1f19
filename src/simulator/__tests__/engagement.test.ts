import { describe, expect, it } from '@jest/globals';
import { Random } from '../../util/random';
import { Calendar, dayNumber } from '../calendar';
import { probabilityNoLoan, stopHazard, visitProbability } from '../engagement';
import type { SimMember } from '../members';

function member(overrides: Partial<SimMember>): SimMember {
  const start = dayNumber('2023-01-01');
  return {
    id: 1, name: 'Test Member', email: 'test@example.org', branch: 0, joinDay: start - 400, startDay: start, profile: 'adult',
    shape: 'adult', reliability: 0.8, intensity: 1, engagementTrend: 1, logTrend: 0, extraItemsPerVisit: 0.5,
    renewalPropensity: 0.3, dvdShare: 0, largePrintShare: 0, taste: new Float64Array(15), favouriteAuthors: [], churnDay: -1,
    ...overrides,
  };
}

/** Runs the daily process the simulator runs, from the day after `cutoff`, and reports "no loan". */
function simulateWindow(m: SimMember, cutoff: number, days: number, rng: Random, calendar: Calendar): boolean {
  for (let day = cutoff + 1; day <= cutoff + days; day++) {
    if (rng.next() < stopHazard(m, day)) return true;
    if (rng.next() < visitProbability(m, day, calendar)) return false;
  }
  return true;
}

describe('the churn oracle', () => {
  const calendar = new Calendar(dayNumber('2020-01-01'), dayNumber('2026-12-31'));
  const cutoff = dayNumber('2023-09-30');

  it.each([
    ['steady', member({ intensity: 1.2 })],
    ['declining', member({ intensity: 1.5, engagementTrend: 0.9, logTrend: Math.log(0.9) })],
    ['occasional', member({ intensity: 0.3 })],
    ['new', member({ joinDay: cutoff - 20, startDay: cutoff - 20, intensity: 2 })],
  ])('matches the simulated process for a %s member', (_, m) => {
    const rng = new Random(7);
    const runs = 6_000;
    let quiet = 0;
    for (let r = 0; r < runs; r++) if (simulateWindow(m, cutoff, 90, rng, calendar)) quiet++;
    const analytic = probabilityNoLoan(m, cutoff, 90, calendar);
    const standardError = Math.sqrt((analytic * (1 - analytic)) / runs);
    expect(Math.abs(quiet / runs - analytic)).toBeLessThan(4 * standardError + 1e-3);
  });

  it('is certain for a member who has already stopped, and higher when engagement declines', () => {
    expect(probabilityNoLoan(member({ churnDay: cutoff - 10 }), cutoff, 90, calendar)).toBe(1);
    const steady = probabilityNoLoan(member({ intensity: 1 }), cutoff, 90, calendar);
    const declining = probabilityNoLoan(member({ intensity: 1, engagementTrend: 0.9, logTrend: Math.log(0.9) }), cutoff, 90, calendar);
    expect(declining).toBeGreaterThan(steady);
  });
});
