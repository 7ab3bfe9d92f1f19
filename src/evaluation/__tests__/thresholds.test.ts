import { describe, expect, it } from '@jest/globals';
import { Random } from '../../util/random';
import {
  chooseServedThresholds,
  chooseThreshold,
  confusionAt,
  dummyBaselines,
  chooseNestedThresholds,
  evaluatedThresholds,
  thresholdFigures,
  thresholdReport,
} from '../thresholds';

const scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05];
const labels = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0];

describe('chooseThreshold', () => {
  it('flags the top share, or the capacity per period', () => {
    expect(chooseThreshold(scores, labels, { kind: 'share', share: 0.3 })).toBe(0.7);
    // 20 calls a week among 100 members a week: the top 20%.
    expect(chooseThreshold(scores, labels, { kind: 'capacity', capacity: 20, rowsPerPeriod: 100 })).toBe(0.8);
    expect(chooseThreshold(scores, labels, { kind: 'capacity', capacity: 500, rowsPerPeriod: 100 })).toBe(0.05);
  });

  it('minimises the stated cost', () => {
    // A missed positive costs 3 false alarms: flagging down to 0.3 catches all four positives for 3 false alarms.
    expect(chooseThreshold(scores, labels, { kind: 'cost', falsePositiveCost: 1, falseNegativeCost: 3 })).toBe(0.3);
    // False alarms dear: flag only the two sure ones.
    expect(chooseThreshold(scores, labels, { kind: 'cost', falsePositiveCost: 5, falseNegativeCost: 1 })).toBe(0.8);
  });

  it('finds the lowest threshold that keeps a precision', () => {
    expect(chooseThreshold(scores, labels, { kind: 'precision', atLeast: 0.75 })).toBe(0.6);
    expect(chooseThreshold(scores, labels, { kind: 'precision', atLeast: 1 })).toBe(0.8);
    expect(chooseThreshold([0.5, 0.4], [0, 1], { kind: 'precision', atLeast: 0.9 })).toBe(Infinity);
  });

  it('refuses impossible rules and bad rows', () => {
    expect(() => chooseThreshold(scores, labels, { kind: 'share', share: 0 })).toThrow('the share flagged must lie in (0, 1], got 0');
    expect(() => chooseThreshold(scores, labels, { kind: 'cost', falsePositiveCost: 0, falseNegativeCost: 1 })).toThrow('both costs must be positive');
    expect(() => chooseThreshold([0.1], [2], { kind: 'share', share: 0.5 })).toThrow('labels[0] is 2; labels must be 0 or 1');
    expect(() => chooseThreshold([], [], { kind: 'share', share: 0.5 })).toThrow('a threshold needs at least one row');
  });
});

describe('chooseServedThresholds', () => {
  it('gives MEDIUM and HIGH with their rules in words', () => {
    const served = chooseServedThresholds(scores, labels, {
      medium: { kind: 'share', share: 0.4 },
      high: { kind: 'capacity', capacity: 1, rowsPerPeriod: 10 },
    });
    expect(served).toEqual({
      medium: 0.6,
      high: 0.9,
      rules: { medium: 'flag the top 40.0% of scores', high: 'flag 1 of every 10 rows (the capacity to act per period)' },
    });
  });

  it('refuses a MEDIUM above HIGH', () => {
    expect(() => chooseServedThresholds(scores, labels, { medium: { kind: 'share', share: 0.1 }, high: { kind: 'share', share: 0.5 } })).toThrow(
      "the MEDIUM rule gives 0.9, above HIGH's 0.5",
    );
  });
});

describe('chooseNestedThresholds', () => {
  it('keeps the rules when MEDIUM flags at least as many rows as HIGH', () => {
    const served = chooseNestedThresholds(scores, labels, { medium: { kind: 'share', share: 0.4 }, high: { kind: 'share', share: 0.2 } });
    expect(served).toEqual({ medium: 0.6, high: 0.8, rules: { medium: 'flag the top 40.0% of scores', high: 'flag the top 20.0% of scores' } });
  });

  it('sets MEDIUM to HIGH, and says so, when its rule alone would flag fewer rows', () => {
    // A false positive costs as much as four missed positives: flagging only the surest rows pays.
    const served = chooseNestedThresholds(scores, labels, { medium: { kind: 'cost', falsePositiveCost: 4, falseNegativeCost: 1 }, high: { kind: 'share', share: 0.5 } });
    expect(chooseThreshold(scores, labels, { kind: 'cost', falsePositiveCost: 4, falseNegativeCost: 1 })).toBeGreaterThan(0.5);
    expect(served.medium).toBe(0.5);
    expect(served.high).toBe(0.5);
    expect(served.rules.medium).toBe('minimise 4·false positives + 1·false negatives, capped at HIGH (the rule alone flagged fewer rows)');
  });
});

describe('thresholdReport', () => {
  it('counts the confusion matrix and derives precision, recall, share and lift', () => {
    expect(confusionAt(scores, labels, 0.6)).toEqual({ truePositives: 3, falsePositives: 1, falseNegatives: 1, trueNegatives: 5 });
    expect(thresholdFigures(confusionAt(scores, labels, 0.6))).toEqual({ precision: 0.75, recall: 0.75, share: 0.4, lift: 0.75 / 0.4, baseRate: 0.4 });
  });

  it('says plainly when a threshold flags nobody', () => {
    const report = thresholdReport(scores, labels, 0.95, { resamples: 50 });
    expect(report.precision.value).toBeNaN();
    expect(report.recall).toEqual({ value: 0, low: 0, high: 0 });
    expect(report.share.value).toBe(0);
  });

  it('puts intervals around the figures, next to a random flagger of the same share', () => {
    const random = new Random(3);
    const y = Array.from({ length: 2000 }, () => (random.bernoulli(0.2) ? 1 : 0));
    const s = y.map((label) => random.normal(label, 1));
    const report = thresholdReport(s, y, 1, { resamples: 300 });
    for (const figure of [report.precision, report.recall, report.share, report.lift]) {
      expect(figure.low).toBeLessThanOrEqual(figure.value);
      expect(figure.high).toBeGreaterThanOrEqual(figure.value);
      expect(figure.high).toBeGreaterThan(figure.low);
    }
    expect(report.lift.low).toBeGreaterThan(1);
    expect(report.randomAtSameShare).toEqual({ precision: report.baseRate, recall: report.share.value });
  });

  it('fills the thresholds array of the evaluate output', () => {
    const entries = evaluatedThresholds(scores, labels, { MEDIUM: 0.35, HIGH: 0.75 }, { resamples: 50 });
    expect(entries.map((e) => [e.level, e.value, e.precision.value, e.recall.value, e.share.value])).toEqual([
      ['MEDIUM', 0.35, 0.5, 0.75, 0.6],
      ['HIGH', 0.75, 1, 0.5, 0.2],
    ]);
    expect(Object.keys(entries[0]!)).toEqual(['level', 'value', 'precision', 'recall', 'share', 'lift', 'confusion', 'baseRate', 'randomAtSameShare']);
    expect(entries[1]).toMatchObject({
      confusion: { truePositives: 2, falsePositives: 0, falseNegatives: 2, trueNegatives: 6 },
      baseRate: 0.4,
      randomAtSameShare: { precision: 0.4, recall: 0.2 },
    });
    expect(entries[1]!.lift.value).toBe(1 / 0.4);
  });
});

describe('dummyBaselines', () => {
  it('fits the majority class and the prior on training labels, scores them on test labels', () => {
    const result = dummyBaselines([0, 0, 0, 1], [1, 0, 0, 0, 0]);
    expect(result.majorityClass).toEqual({ label: 0, accuracy: 0.8 });
    expect(result.prior.probability).toBe(0.25);
    expect(result.prior.auc).toBe(0.5);
    expect(result.prior.brierScore).toBeCloseTo((0.75 ** 2 + 4 * 0.25 ** 2) / 5, 12);
    expect(result.prior.logLoss).toBeCloseTo(-(Math.log(0.25) + 4 * Math.log(0.75)) / 5, 12);
  });
});
