import { describe, expect, it } from '@jest/globals';
import { binFeatures, binOf, type TrainingData } from '../data';
import { trainGradientBoosting, trainRandomForest } from '../index';
import { logisticTruthData } from '../synthetic';

function tiny(features: number[], labels: number[], featureCount: number, featureNames?: string[]): TrainingData {
  return {
    features: Float32Array.from(features),
    labels: Uint8Array.from(labels),
    rowCount: labels.length,
    featureCount,
    ...(featureNames ? { featureNames } : {}),
  };
}

describe('binFeatures', () => {
  it('puts every value in the bin whose float32 boundary test it passes', () => {
    const data = logisticTruthData({ rows: 5000, features: 6, seed: 3 });
    const binned = binFeatures(data, { maxBins: 32 });
    for (let f = 0; f < data.featureCount; f++) {
      const cuts = binned.thresholds[f]!;
      expect(cuts.length).toBeLessThanOrEqual(31);
      for (let k = 1; k < cuts.length; k++) expect(cuts[k]!).toBeGreaterThan(cuts[k - 1]!);
      for (let r = 0; r < data.rowCount; r++) {
        const x = data.features[r * data.featureCount + f]!;
        const b = binned.bins[f * data.rowCount + r]!;
        // bin <= k exactly when x <= t_k: the split test training and ONNX share.
        if (b < cuts.length) expect(x <= cuts[b]!).toBe(true);
        if (b > 0) expect(x > cuts[b - 1]!).toBe(true);
      }
    }
  });

  it('gives each distinct value of a small-integer feature its own bin and a constant feature one bin', () => {
    const data = tiny([0, 5, 1, 5, 2, 5, 3, 5, 4, 5, 0, 5], [0, 1, 0, 1, 0, 1], 2);
    const binned = binFeatures(data);
    expect(Array.from(binned.thresholds[0]!)).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(binned.thresholds[1]!.length).toBe(0);
    expect(binOf(binned.thresholds[0]!, 4)).toBe(4);
  });

  it('refuses a maxBins that does not fit a byte', () => {
    const data = logisticTruthData({ rows: 10, features: 4 });
    expect(() => binFeatures(data, { maxBins: 300 })).toThrow('maxBins must be an integer from 2 to 256, got 300');
  });
});

describe('training data checks', () => {
  it('names the row and feature of a NaN', () => {
    const data = tiny([1, 2, 3, NaN, 5, 6], [0, 1, 1], 2);
    expect(() => trainGradientBoosting(data)).toThrow('features: row 1, feature 1 is NaN');
    expect(() => trainRandomForest({ ...data, featureNames: ['loanDays', 'renewals'] })).toThrow(
      'features: row 1, feature 1 (renewals) is NaN',
    );
  });

  it('refuses infinite values too', () => {
    const data = tiny([1, 2, Infinity, 4], [0, 1], 2);
    expect(() => trainGradientBoosting(data)).toThrow('features: row 1, feature 0 is Infinity');
  });

  it('says both lengths when labels and rows disagree', () => {
    const data = { ...tiny([1, 2, 3, 4, 5, 6], [0, 1, 1], 2), labels: Uint8Array.from([0, 1]) };
    expect(() => trainGradientBoosting(data)).toThrow('labels has 2 values but features has 3 rows');
  });

  it('says both lengths when the feature matrix does not fit its shape', () => {
    const data = { ...tiny([1, 2, 3, 4, 5], [0, 1], 2), rowCount: 2 };
    expect(() => trainRandomForest(data)).toThrow('features has 5 values but 2 rows × 2 features need 4');
  });

  it('refuses labels other than 0 and 1', () => {
    expect(() => trainGradientBoosting(tiny([1, 2, 3], [0, 2, 1], 1))).toThrow('labels: row 1 is 2; labels must be 0 or 1');
  });

  it('names a parameter out of range', () => {
    const data = logisticTruthData({ rows: 50, features: 4 });
    expect(() => trainGradientBoosting(data, { learningRate: 0 })).toThrow('learningRate must be a number, above 0, at most 1; got 0');
    expect(() => trainRandomForest(data, { featuresPerSplit: 5 })).toThrow('featuresPerSplit must be an integer, at least 1, at most 4; got 5');
  });
});
