/**
 * What `ModelInfo.health` lists as active alerts follows monitoring/alerts.yml: here the
 * outcome-ratio rule, on the week's interval only, in both directions.
 */
import { describe, expect, it } from '@jest/globals';
import { alertConditions, type LiveMetric } from '../monitor';
import { OUTCOME_RATIO_BOUNDS } from '../quality';
import type { QualityWindow } from '../windows';

function ratio(value: number, low: number, high: number): LiveMetric {
  return { name: 'outcome_ratio', value, low, high, estimated: false, rows: 600 };
}

function windows(week: LiveMetric[], day: LiveMetric[] = []): Record<QualityWindow, { metrics: LiveMetric[]; drift: [] }> {
  return { day: { metrics: day, drift: [] }, week: { metrics: week, drift: [] }, '30d': { metrics: [], drift: [] } };
}

const names = (metrics: LiveMetric[], day: LiveMetric[] = []) => alertConditions('overdue', '1.0.0', windows(metrics, day), {}).map((a) => a.name);

describe('alertConditions: ModelOutcomeRateShift', () => {
  it('fires when the whole weekly interval lies above or below the bounds', () => {
    expect(names([ratio(1.9, OUTCOME_RATIO_BOUNDS.above + 0.01, 2.4)])).toEqual(['ModelOutcomeRateShift']);
    expect(names([ratio(0.5, 0.4, OUTCOME_RATIO_BOUNDS.below - 0.01)])).toEqual(['ModelOutcomeRateShift']);
    expect(alertConditions('overdue', '1.0.0', windows([ratio(1.9, 1.5, 2.4)]), {})[0]?.summary).toMatch(/overdue 1\.0\.0: outcomes are 1\.90 times as frequent/);
  });

  it('stays silent while the interval reaches back inside, or when only another window is out', () => {
    expect(names([ratio(1.4, OUTCOME_RATIO_BOUNDS.above - 0.01, 1.7)])).toEqual([]);
    expect(names([ratio(0.85, 0.7, OUTCOME_RATIO_BOUNDS.below + 0.01)])).toEqual([]);
    expect(names([ratio(1, 0.9, 1.1)], [ratio(3, 2, 4)])).toEqual([]);
    expect(names([{ ...ratio(2, 1.5, 2.5), estimated: true }])).toEqual([]);
  });
});

describe('alertConditions: ModelQualityBelowOffline', () => {
  const auc = (high: number, estimated = false): LiveMetric => ({ name: 'auc', value: high - 0.07, low: high - 0.14, high, estimated, rows: 650 });
  const quality = (metrics: LiveMetric[], floors: Record<string, number>) => alertConditions('overdue', '1.0.0', windows(metrics), floors).filter((a) => a.name === 'ModelQualityBelowOffline');

  it("fires when the week's upper bound lies below the version's floor, naming the floor", () => {
    expect(quality([auc(0.67)], { auc: 0.682 })).toHaveLength(1);
    expect(quality([auc(0.67)], { auc: 0.682 })[0]?.summary).toBe("overdue 1.0.0: live auc is below its offline figure (upper 95% bound 0.670 < 0.682, the held-out weeks' floor)");
  });

  it('stays silent above the floor, for estimates, and for metrics the version has no floor of', () => {
    expect(quality([auc(0.723)], { auc: 0.682 })).toEqual([]);
    expect(quality([auc(0.6, true)], { auc: 0.682 })).toEqual([]);
    expect(quality([auc(0.6)], {})).toEqual([]);
  });
});
