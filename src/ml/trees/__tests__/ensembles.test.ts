import { describe, expect, it } from '@jest/globals';
import { auc } from '../../metrics';
import { binFeatures, TreeEnsemble, trainGradientBoosting, trainRandomForest } from '../index';
import { logisticTruthData, sliceRows } from '../synthetic';

const all = logisticTruthData({ rows: 30_000, features: 12, seed: 11 });
const train = sliceRows(all, 0, 20_000);
const test = sliceRows(all, 20_000, 30_000);
const truthAuc = auc(test.trueProbability, test.labels);
const binned = binFeatures(train);

describe('trainGradientBoosting', () => {
  const model = trainGradientBoosting(train, { trees: 150, maxDepth: 4, subsample: 0.8, seed: 5 }, { binned });

  it('reaches close to the AUC of the logistic truth on held-out rows', () => {
    const probs = model.predictProba(test.features, test.rowCount);
    expect(auc(probs, test.labels)).toBeGreaterThan(truthAuc - 0.02);
    for (const p of probs) expect(p > 0 && p < 1).toBe(true);
  });

  it('ranks the features that drive the truth above the noise features', () => {
    const importance = model.featureImportance();
    expect(importance).toHaveLength(12);
    const strongest = importance.indexOf(Math.max(...importance));
    expect(strongest).toBe(0);
    const noise = Math.max(...importance.slice(5));
    for (const f of [0, 2, 3, 4]) expect(importance[f]!).toBeGreaterThan(noise);
  });

  it('gives the same model for the same seed and a different one for another seed', () => {
    const params = { trees: 20, subsample: 0.7, featureFraction: 0.5 };
    const a = JSON.stringify(trainGradientBoosting(train, { ...params, seed: 1 }, { binned }));
    const b = JSON.stringify(trainGradientBoosting(train, { ...params, seed: 1 }, { binned }));
    const c = JSON.stringify(trainGradientBoosting(train, { ...params, seed: 2 }, { binned }));
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('survives a JSON round trip with identical predictions', () => {
    const copy = TreeEnsemble.fromJSON(JSON.parse(JSON.stringify(model)));
    expect(JSON.stringify(copy)).toBe(JSON.stringify(model));
    expect(copy.predictProba(test.features.subarray(0, 500 * 12), 500)).toEqual(model.predictProba(test.features.subarray(0, 500 * 12), 500));
    expect(copy.featureImportance()).toEqual(model.featureImportance());
  });
});

describe('trainRandomForest', () => {
  const model = trainRandomForest(train, { trees: 60, maxDepth: 10, rowsPerTree: 15_000, seed: 5 }, { binned });

  it('reaches close to the AUC of the logistic truth on held-out rows', () => {
    const probs = model.predictProba(test.features, test.rowCount);
    expect(auc(probs, test.labels)).toBeGreaterThan(truthAuc - 0.03);
    for (const p of probs) expect(p >= 0 && p <= 1).toBe(true);
  });

  it('gives the same model for the same seed and a different one for another seed', () => {
    const params = { trees: 5, maxDepth: 6 };
    const a = JSON.stringify(trainRandomForest(train, { ...params, seed: 1 }, { binned }));
    const b = JSON.stringify(trainRandomForest(train, { ...params, seed: 1 }, { binned }));
    const c = JSON.stringify(trainRandomForest(train, { ...params, seed: 2 }, { binned }));
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('keeps the positive share of its rows in each leaf', () => {
    const one = trainRandomForest(train, { trees: 1, maxDepth: 1, bootstrap: false, rowsPerTree: train.rowCount, featuresPerSplit: 12 }, { binned });
    const tree = one.trees[0]!;
    expect(tree.feature[0]).toBeGreaterThanOrEqual(0);
    const probs = one.predictProba(train.features, train.rowCount);
    let leftRows = 0;
    let leftPositives = 0;
    for (let r = 0; r < train.rowCount; r++) {
      if (train.features[r * 12 + tree.feature[0]!]! <= tree.threshold[0]!) {
        leftRows++;
        leftPositives += train.labels[r]!;
        expect(probs[r]).toBe(tree.value[1]);
      }
    }
    expect(tree.value[1]).toBe(Math.fround(leftPositives / leftRows));
  });

  it('survives a JSON round trip with identical predictions', () => {
    const copy = TreeEnsemble.fromJSON(JSON.stringify(model));
    expect(copy.predictProba(test.features.subarray(0, 500 * 12), 500)).toEqual(model.predictProba(test.features.subarray(0, 500 * 12), 500));
  });
});

describe('TreeEnsemble', () => {
  const model = trainGradientBoosting(train, { trees: 3 }, { binned });

  it('refuses JSON that is not a tree ensemble', () => {
    expect(() => TreeEnsemble.fromJSON({ kind: 'random-forest' })).toThrow('not a tree ensemble: expected format "shelfmark-tree-ensemble"');
    const json = model.toJSON();
    json.trees[0]!.left[0] = 0;
    expect(() => TreeEnsemble.fromJSON(json)).toThrow('tree 0, node 0: child 0 is not a later node');
  });

  it('names the row and feature of a NaN at prediction and says both lengths on a shape mismatch', () => {
    const rows = test.features.slice(0, 24);
    rows[12 + 7] = NaN;
    expect(() => model.predictProba(rows, 2)).toThrow('features: row 1, feature 7 is NaN');
    expect(() => model.predictProba(rows, 3)).toThrow('features has 24 values but 3 rows × 12 features need 36');
  });
});
