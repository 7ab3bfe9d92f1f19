/**
 * The segmentation trainer on the small simulated library: the served ONNX graph puts every
 * member in the segment the trainer's own model does, retrains with other seeds keep the
 * segments and their names, and the figures and serving constants are what the subgraph and
 * the model card read.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Tensor } from 'onnxruntime-node';
import { openServingSession } from '../../ml/onnx/session';
import path from 'node:path';
import {
  SEGMENT_SCALINGS,
  SEGMENTATION_FEATURES,
  featureRows,
  segmentationFeatures,
  segmentationFeaturesInChunks,
  type SegmentationFeatureBatch,
} from '../../features/segmentation';
import { SEGMENT_RULES, adjustedRandIndex, trainSegmentation, type SegmentFeature } from '../../ml/kmeans';
import { getProduction, type ModelMetadata } from '../../registry';
import { openStore, readAsOf, type Store } from '../../store';
import { segmentationServing } from '../../models/segmentation';
import { foldLapseAuc, segmentationValidationFolds } from '../../evaluation/segmentation-folds';
import { addDays } from '../../util/dates';
import { SEGMENTATION_CANDIDATES, SEGMENTATION_PARAMS, SEGMENTATION_VALIDATION_FOLDS, agreement, applyRfmRule, explainedVariance } from '../segmentation';
import { smallLibrary } from '../../../test/fixtures/small-library';

let store: Store;
let metadata: ModelMetadata;
let dir: string;
let members: SegmentationFeatureBatch;

/** The columns, transforms and weights of the scaling the production version was trained with. */
function chosenFeatures(): SegmentFeature[] {
  const scaling = SEGMENT_SCALINGS.find((s) => s.name === metadata.hyperparameters.scaling);
  if (!scaling) throw new Error(`the production version names the scaling ${String(metadata.hyperparameters.scaling)}, which is not among SEGMENT_SCALINGS`);
  return scaling.features;
}

beforeAll(async () => {
  const library = await smallLibrary();
  store = openStore(library.databaseUrl, { readonly: true });
  const production = getProduction(library.modelsDir, 'segmentation');
  if (!production) throw new Error('the small library has no production segmentation model');
  ({ metadata, dir } = production);
  const ids = (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
  members = await segmentationFeatures(store, ids, await readAsOf(store));
}, 300_000);
afterAll(async () => {
  await store.close();
});

describe('the segmentation trainer', () => {
  it("serves, through ONNX, the trainer's own segment for every member", async () => {
    const rows = featureRows(members.values);
    const model = trainSegmentation(rows, { features: chosenFeatures(), seed: metadata.trainingData.seed, ...SEGMENTATION_PARAMS, k: Number(metadata.hyperparameters.k) });
    const session = await openServingSession(path.join(dir, 'model.onnx'));
    try {
      const out = await session.run({ features: new Tensor('float32', members.values, [rows.length, SEGMENTATION_FEATURES.length]) });
      const served = Array.from(out.segment!.data as BigInt64Array, Number);
      expect(served).toEqual(model.assign(rows));
      // The registered names are the trainer's, by id.
      expect(segmentationServing(metadata.serving, SEGMENTATION_FEATURES.map((f) => f.name)).segments.map((s) => s.name)).toEqual(model.segments.map((s) => s.name));
    } finally {
      await session.release();
    }
  });

  it('keeps the segments and their names for at least 95% of members when retrained with another seed', () => {
    const rows = featureRows(members.values);
    const k = Number(metadata.hyperparameters.k);
    const first = trainSegmentation(rows, { features: chosenFeatures(), seed: 1, ...SEGMENTATION_PARAMS, k });
    const second = trainSegmentation(rows, { features: chosenFeatures(), seed: 2024, ...SEGMENTATION_PARAMS, k });
    expect(adjustedRandIndex(first.assign(rows), second.assign(rows))).toBeGreaterThanOrEqual(0.9);
    expect(agreement(first.assignNames(rows), second.assignNames(rows))).toBeGreaterThanOrEqual(0.95);
  });

  it('reports usefulness (lapses explained) as its headline, next to the RFM grid baseline on the same metric, and stability beside it', () => {
    const { heldOut, baseline } = metadata.metrics;
    expect(metadata.headlineMetric).toEqual({ name: 'lapseVarianceExplained', value: heldOut.lapseVarianceExplained, higherIsBetter: true });
    expect(baseline.metrics.lapseVarianceExplained).toBeDefined();
    expect(heldOut.stabilityAriMin).toBeGreaterThanOrEqual(0.9);
    expect(heldOut.nameAgreementMin).toBeGreaterThanOrEqual(0.95);
    expect(heldOut.silhouette).toBeGreaterThan(0.2);
    expect(baseline.name).toMatch(/RFM/);
    for (const metric of ['explainedVariance', 'segmentRetention90d', 'lapseVarianceExplained']) {
      expect({ metric, model: heldOut[metric] !== undefined, baseline: baseline.metrics[metric] !== undefined }).toEqual({ metric, model: true, baseline: true });
    }
    expect(baseline.metrics.ariWithKMeans).toBeLessThan(1);
  });

  it("chooses the scaling and the number of segments on validation folds before evaluate's test window, and reports each candidate's mean and spread", async () => {
    const asOf = await readAsOf(store);
    const candidates = JSON.parse(String(metadata.hyperparameters.candidates)) as { scaling: string; k: number; meanLapseAuc: number; sdLapseAuc: number; folds: number }[];
    expect(candidates.map((c) => [c.scaling, c.k])).toEqual(SEGMENTATION_CANDIDATES.map((c) => [c.scaling, c.k]));
    const best = candidates.find((c) => c.scaling === metadata.hyperparameters.scaling && c.k === metadata.hyperparameters.k);
    if (!best) throw new Error('the served setting is not among the candidates');
    // Every setting better on the folds was passed over because its segments moved with the seed, and the notes say so.
    for (const c of candidates.filter((other) => other.meanLapseAuc > best.meanLapseAuc)) expect(metadata.notes).toContain(`${c.scaling}, k = ${c.k} (ARI`);
    expect(metadata.hyperparameters).toMatchObject({ validationFolds: SEGMENTATION_VALIDATION_FOLDS, validationMeanLapseAuc: best.meanLapseAuc, validationSdLapseAuc: best.sdLapseAuc });
    for (const c of candidates) {
      expect(c.folds).toBe(SEGMENTATION_VALIDATION_FOLDS);
      expect(c.sdLapseAuc).toBeGreaterThanOrEqual(0);
    }
    const folds = await segmentationValidationFolds(store, asOf, SEGMENTATION_VALIDATION_FOLDS);
    // The last fold's outcomes end where the test window's fit cut-off is; earlier folds 90 days apart.
    expect(folds.map((f) => f.validationEnd)).toEqual([-360, -270, -180].map((d) => addDays(asOf, d)));
    for (const fold of folds) {
      expect(fold.holdout.score.cutoff).toBe(fold.validationStart);
      expect(fold.holdout.fit.cutoff).toBe(addDays(fold.validationStart, -90));
    }
    const { nInit, maxIter } = SEGMENTATION_PARAMS;
    const again = folds.map((fold) => foldLapseAuc(fold, { features: chosenFeatures(), k: best.k, nInit, maxIter, seed: metadata.trainingData.seed }));
    expect(again.reduce((a, b) => a + b, 0) / again.length).toBeCloseTo(best.meanLapseAuc, 10);
  });

  it('ships names, descriptions and profiles by segment id in metadata.serving', () => {
    const serving = segmentationServing(metadata.serving, SEGMENTATION_FEATURES.map((f) => f.name));
    const ruleOrder = SEGMENT_RULES.map((r) => r.name);
    const names = serving.segments.map((s) => s.name);
    expect(names).toEqual([...names].sort((a, b) => ruleOrder.indexOf(a) - ruleOrder.indexOf(b)));
    expect(serving.segments.reduce((sum, s) => sum + s.size, 0)).toBe(metadata.trainingData.rows.train);
    expect(serving.segments.reduce((sum, s) => sum + s.share, 0)).toBeCloseTo(1, 12);
    for (const s of serving.segments) {
      expect(s.description.startsWith(SEGMENT_RULES.find((r) => r.name === s.name)!.summary)).toBe(true);
      if (s.size > 0) expect(Object.keys(s.memberMeans!)).toEqual(SEGMENTATION_FEATURES.map((f) => f.name));
    }
  });
});

describe('segmentation features', () => {
  it('are the same batch whether read at once or in chunks, unknown ids included', async () => {
    const asOf = await readAsOf(store);
    const ids = [...members.memberIds.slice(0, 100), 999_999, ...members.memberIds.slice(100, 180), -3, members.memberIds[7]!];
    const chunked = await segmentationFeaturesInChunks(store, ids, asOf, 37);
    const whole = await segmentationFeatures(store, ids, asOf);
    expect(chunked.memberIds).toEqual(whole.memberIds);
    expect(chunked.rowOf).toEqual(whole.rowOf);
    expect(Array.from(chunked.values)).toEqual(Array.from(whole.values));
  });
});

describe('segmentationServing', () => {
  it('refuses serving constants that do not name the segments in id order', () => {
    const names = SEGMENTATION_FEATURES.map((f) => f.name);
    expect(() => segmentationServing(undefined, names)).toThrow('segmentation metadata.serving needs featureNames and segments');
    expect(() => segmentationServing({ featureNames: names, segments: [{ id: 1, name: 'Loyal', description: '' }] }, names)).toThrow(
      'segmentation metadata.serving: segment at position 0 needs id 0, a name and a description',
    );
    expect(() => segmentationServing({ featureNames: ['x'], segments: [] }, names)).toThrow(/has features \[x\]/);
  });
});

describe('the RFM grid baseline', () => {
  const rule = { recencyTerciles: [10, 100] as [number, number], frequencyTerciles: [2, 20] as [number, number] };
  it.each([
    [[5, 30, 600, 0, 2000], 'Champions'],
    [[50, 30, 600, 0, 2000], 'Loyal'],
    [[5, 10, 200, 0, 2000], 'Loyal'],
    [[300, 30, 600, -0.3, 2000], 'At Risk'],
    [[300, 1, 10, 0, 2000], 'Hibernating'],
    [[50, 1, 10, 0.2, 2000], 'Promising'],
    [[50, 1, 10, -0.2, 2000], 'Occasional'],
    [[5, 30, 600, 0, 90], 'New'],
  ])('puts %j in %s', (row, name) => {
    expect(applyRfmRule(rule, [row])).toEqual([name]);
  });
});

describe('explainedVariance', () => {
  const points = { rows: 4, cols: 2, data: [0, 0, 0, 0, 10, 10, 10, 10] };
  it('is 1 when the groups hold identical points and 0 for a single group', () => {
    expect(explainedVariance(points, ['a', 'a', 'b', 'b'])).toBe(1);
    expect(explainedVariance(points, ['a', 'a', 'a', 'a'])).toBe(0);
    expect(explainedVariance(points, ['a', 'b', 'a', 'b'])).toBe(0);
  });
});
