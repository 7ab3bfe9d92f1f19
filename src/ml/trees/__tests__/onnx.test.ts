import { describe, expect, it } from '@jest/globals';
import { Tensor } from 'onnxruntime-node';
import { openServingSession } from '../../onnx/session';
import { Random } from '../../../util/random';
import { exportTreeEnsembleOnnx, TREE_ENSEMBLE_INPUT, TREE_ENSEMBLE_OUTPUT, trainGradientBoosting, trainRandomForest, type TreeEnsemble } from '../index';
import { logisticTruthData, sliceRows } from '../synthetic';

const d = 10;
const featureNames = Array.from({ length: d }, (_, i) => `f${i}`);
const all = logisticTruthData({ rows: 9_000, features: d, seed: 21 });
const train = sliceRows(all, 0, 8_000);

/** 1,000 held-out rows, a quarter of their values moved exactly onto split thresholds. */
function parityRows(model: TreeEnsemble): Float32Array {
  const rows = all.features.slice(8_000 * d, 9_000 * d);
  const random = new Random(3);
  const splits: Array<[number, number]> = [];
  for (const tree of model.trees) {
    for (let i = 0; i < tree.feature.length; i++) if (tree.feature[i]! >= 0) splits.push([tree.feature[i]!, tree.threshold[i]!]);
  }
  for (let k = 0; k < 2_500; k++) {
    const [f, t] = splits[random.int(splits.length)]!;
    rows[random.int(1_000) * d + f] = t;
  }
  return rows;
}

async function onnxProbabilities(model: TreeEnsemble, rows: Float32Array, rowCount: number): Promise<Float32Array> {
  const session = await openServingSession(exportTreeEnsembleOnnx(model, { featureNames }));
  expect(session.inputNames).toEqual([TREE_ENSEMBLE_INPUT]);
  expect(session.outputNames).toEqual([TREE_ENSEMBLE_OUTPUT]);
  const out = await session.run({ [TREE_ENSEMBLE_INPUT]: new Tensor('float32', rows, [rowCount, d]) });
  const probability = out[TREE_ENSEMBLE_OUTPUT]!;
  expect(probability.dims).toEqual([rowCount]);
  return probability.data as Float32Array;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('exportTreeEnsembleOnnx', () => {
  it('matches predictProba of gradient boosting within 1e-5 on 1,000 rows', async () => {
    const model = trainGradientBoosting(train, { trees: 200, maxDepth: 4, subsample: 0.8, seed: 2 });
    const rows = parityRows(model);
    const onnx = await onnxProbabilities(model, rows, 1_000);
    expect(maxAbsDifference(onnx, model.predictProba(rows, 1_000))).toBeLessThan(1e-5);
  });

  it('matches predictProba of a random forest within 1e-5 on 1,000 rows', async () => {
    const model = trainRandomForest(train, { trees: 60, maxDepth: 12, seed: 2 });
    const rows = parityRows(model);
    const onnx = await onnxProbabilities(model, rows, 1_000);
    expect(maxAbsDifference(onnx, model.predictProba(rows, 1_000))).toBeLessThan(1e-5);
  });

  it('answers a batch of one', async () => {
    const model = trainRandomForest(train, { trees: 3, maxDepth: 3 });
    const row = all.features.slice(0, d);
    const onnx = await onnxProbabilities(model, row, 1);
    expect(onnx[0]).toBeCloseTo(model.predictProba(row, 1)[0]!, 6);
  });

  it('keeps the feature names in the metadata and refuses a wrong number of them', () => {
    const model = trainGradientBoosting(train, { trees: 2 });
    const bytes = exportTreeEnsembleOnnx(model, { featureNames, metadata: { 'shelfmark.model': 'churn' } });
    const text = Buffer.from(bytes).toString('latin1');
    expect(text).toContain(JSON.stringify(featureNames));
    expect(text).toContain('shelfmark.model');
    expect(() => exportTreeEnsembleOnnx(model, { featureNames: ['a'] })).toThrow('featureNames has 1 names but the model takes 10 features');
  });
});
