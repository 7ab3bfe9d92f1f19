import { describe, expect, it } from '@jest/globals';
import { accuracy, auc, brierScore, calibrationBins, expectedCalibrationError, logLoss, rocCurve } from '../metrics';

describe('auc', () => {
  it('counts the pairs a positive wins', () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(auc([3, 2, 1], Uint8Array.from([1, 0, 0]))).toBe(1);
    expect(auc([1, 2, 3], [1, 0, 0])).toBe(0);
  });

  it('counts a tie between a positive and a negative as one half', () => {
    expect(auc([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(auc([7, 7, 7, 7, 7], [0, 1, 1, 0, 1])).toBe(0.5);
    // positives 0.5 and 0.9 against negatives 0.2 and 0.5: 1 + ½ + 1 + 1 of 4 pairs.
    expect(auc([0.2, 0.5, 0.5, 0.9], [0, 1, 0, 1])).toBe(0.875);
  });

  it('needs both classes and equal lengths', () => {
    expect(() => auc([0.1, 0.2], [0, 0])).toThrow('auc needs both classes; got 0 positives and 2 negatives');
    expect(() => auc([0.1, 0.2, 0.3], [0, 1])).toThrow('scores has 3 values but labels has 2; they must be the same length');
    expect(() => auc([], [])).toThrow('scores and labels are empty');
    expect(() => auc([0.1, NaN], [0, 1])).toThrow('scores[1] is NaN; scores must be finite');
    expect(() => auc([0.1, 0.2], [0, 2])).toThrow('labels[1] is 2; labels must be 0 or 1');
  });
});

describe('rocCurve', () => {
  it('steps through each distinct score from (0, 0) to (1, 1)', () => {
    const points = rocCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    expect(points.map((p) => [p.falsePositiveRate, p.truePositiveRate, p.threshold])).toEqual([
      [0, 0, null],
      [0, 0.5, 0.8],
      [0.5, 0.5, 0.4],
      [0.5, 1, 0.35],
      [1, 1, 0.1],
    ]);
  });

  it('merges tied scores into one point', () => {
    expect(rocCurve([0.5, 0.5], [0, 1]).map((p) => [p.falsePositiveRate, p.truePositiveRate])).toEqual([
      [0, 0],
      [1, 1],
    ]);
  });

  it('thins a long curve to at most maxPoints, keeping both corners and the order', () => {
    const scores = Array.from({ length: 1000 }, (_, i) => i);
    const labels = scores.map((i) => (i % 3 === 0 ? 1 : 0));
    const points = rocCurve(scores, labels);
    expect(points).toHaveLength(200);
    expect(points[0]).toEqual({ falsePositiveRate: 0, truePositiveRate: 0, threshold: null });
    expect(points[199]).toMatchObject({ falsePositiveRate: 1, truePositiveRate: 1 });
    for (let i = 1; i < points.length; i++) {
      expect(points[i]!.falsePositiveRate).toBeGreaterThanOrEqual(points[i - 1]!.falsePositiveRate);
      expect(points[i]!.truePositiveRate).toBeGreaterThanOrEqual(points[i - 1]!.truePositiveRate);
    }
    expect(rocCurve(scores, labels, 10)).toHaveLength(10);
  });
});

describe('logLoss and brierScore', () => {
  it('match hand-computed values', () => {
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.LN2, 12);
    expect(logLoss([0.9, 0.2], [1, 0])).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8)) / 2, 12);
    expect(brierScore([0.1, 0.9, 0.5], [0, 1, 1])).toBeCloseTo(0.09, 12);
  });

  it('clips certain mistakes instead of answering Infinity', () => {
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-15), 6);
  });

  it('refuses probabilities outside [0, 1] and mismatched lengths', () => {
    expect(() => logLoss([1.2], [1])).toThrow('probs[0] is 1.2; probabilities must lie in [0, 1]');
    expect(() => brierScore([0.2], [1, 0])).toThrow('probs has 1 values but labels has 2; they must be the same length');
  });
});

describe('calibration', () => {
  // Each bin's mean prediction equals its observed rate: a perfectly calibrated binning.
  const probs = [0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75];
  const labels = [1, 0, 0, 0, 1, 1, 1, 0];

  it('bins by predicted probability with counts, means and observed rates', () => {
    const bins = calibrationBins(probs, labels, 2);
    expect(bins).toEqual([
      { lower: 0, upper: 0.5, count: 4, meanPredicted: 0.25, observedRate: 0.25 },
      { lower: 0.5, upper: 1, count: 4, meanPredicted: 0.75, observedRate: 0.75 },
    ]);
    const ten = calibrationBins([0, 1, 0.05], [0, 1, 0]);
    expect(ten).toHaveLength(10);
    expect(ten[0]!.count).toBe(2);
    expect(ten[9]!.count).toBe(1);
    expect(ten[5]!.meanPredicted).toBeNaN();
  });

  it('gives an ECE of 0 for a perfectly calibrated binning and the weighted gaps otherwise', () => {
    expect(expectedCalibrationError(probs, labels)).toBeCloseTo(0, 12);
    expect(expectedCalibrationError([0.9, 0.9], [0, 0])).toBeCloseTo(0.9, 12);
    // Bin [0.1, 0.2) is off by 0.15 for half the rows; bin [0.8, 0.9) is exact.
    expect(expectedCalibrationError([0.15, 0.15, 0.85, 0.85], [0, 0, 1, 1])).toBeCloseTo(0.15, 12);
  });

  it('refuses a bin count that is not a positive integer', () => {
    expect(() => calibrationBins(probs, labels, 0)).toThrow('bins must be a positive integer, got 0');
  });
});

describe('accuracy', () => {
  it('calls rows at or above the threshold positive', () => {
    expect(accuracy([0.2, 0.6, 0.5, 0.4], [0, 1, 1, 1])).toBe(0.75);
    expect(accuracy([0.2, 0.6, 0.5, 0.4], [0, 1, 1, 1], 0.3)).toBe(1);
    expect(() => accuracy([0.2], [0], 2)).toThrow('threshold must lie in [0, 1], got 2');
  });
});
