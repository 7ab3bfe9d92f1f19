import { beforeAll, describe, expect, it } from '@jest/globals';
import { onnx } from 'onnx-proto';
import { Tensor } from 'onnxruntime-node';
import { openServingSession } from '../../onnx/session';
import { type SegmentationModel, SEGMENTATION_INPUT, SEGMENTATION_OUTPUTS, exportSegmentationOnnx, trainSegmentation } from '..';
import { nameCentroids } from '../naming';
import { MEMBER_FEATURES, plantedMembers } from './plantedMembers';

async function runOnnx(bytes: Uint8Array, rows: number[][]): Promise<{ segment: number[]; distances: number[][] }> {
  const session = await openServingSession(bytes);
  const d = rows[0]!.length;
  const out = await session.run({ [SEGMENTATION_INPUT]: new Tensor('float32', Float32Array.from(rows.flat()), [rows.length, d]) });
  const segment = out[SEGMENTATION_OUTPUTS.segment]!;
  const distances = out[SEGMENTATION_OUTPUTS.distances]!;
  expect(segment.type).toBe('int64');
  expect(segment.dims).toEqual([rows.length]);
  const k = distances.dims[1]!;
  const flat = Array.from(distances.data as Float32Array);
  return {
    segment: Array.from(segment.data as BigInt64Array, Number),
    distances: rows.map((_, i) => flat.slice(i * k, (i + 1) * k)),
  };
}

/** Largest |a - b| / |b| over every cell. */
function maxRelativeError(actual: number[][], expected: number[][]): number {
  let worst = 0;
  expected.forEach((row, i) => row.forEach((e, c) => (worst = Math.max(worst, Math.abs(actual[i]![c]! - e) / Math.abs(e)))));
  return worst;
}

describe('exportSegmentationOnnx', () => {
  let model: SegmentationModel;
  // Unseen members, rounded as the feature extract would give them (float32 holds them exactly).
  const { rows } = plantedMembers(200, 99);
  const serving = rows.map((r) => r.map((v) => Math.fround(v)));

  beforeAll(() => {
    model = trainSegmentation(plantedMembers(400, 1).rows, { features: MEMBER_FEATURES, seed: 1, k: 5 });
  });

  it('declares the contract tensors', async () => {
    const session = await openServingSession(exportSegmentationOnnx(model));
    expect(session.inputNames).toEqual(['features']);
    expect(session.outputNames).toEqual(['segment', 'distances']);
  });

  it('assigns 1,000 members exactly as the trainer does, with distances within 1e-4 relative', async () => {
    expect(serving).toHaveLength(1000);
    const onnx = await runOnnx(exportSegmentationOnnx(model), serving);
    expect(onnx.segment).toEqual(model.assign(serving));
    expect(maxRelativeError(onnx.distances, model.distances(serving))).toBeLessThan(1e-4);
  });

  it('matches the trainer with weighted features', async () => {
    const weighted = MEMBER_FEATURES.map((f, j) => ({ ...f, weight: [2, 1, 0.5, 0.25, 0.5][j] ?? 1 }));
    const weightedModel = trainSegmentation(plantedMembers(400, 1).rows, { features: weighted, seed: 1, k: 5 });
    const onnx = await runOnnx(exportSegmentationOnnx(weightedModel), serving);
    expect(onnx.segment).toEqual(weightedModel.assign(serving));
    expect(maxRelativeError(onnx.distances, weightedModel.distances(serving))).toBeLessThan(1e-4);
  });

  it('names weighted centroids as the same centroids without weights', () => {
    const weights = [2, 1, 0.5, 0.25, 0.5];
    const weighted = MEMBER_FEATURES.map((f, j) => ({ ...f, weight: weights[j]! }));
    const centroids = model.segments.map((s) => s.centroid);
    const scaled = centroids.map((c) => c.map((v, j) => v * weights[j]!));
    expect(nameCentroids(weighted, scaled).ruleOfCentroid).toEqual(nameCentroids(MEMBER_FEATURES, centroids).ruleOfCentroid);
  });

  it('matches the trainer without log1p features as well', async () => {
    const plain = MEMBER_FEATURES.map(({ name, role }) => ({ name, role }));
    const plainModel = trainSegmentation(plantedMembers(100, 3).rows, { features: plain, seed: 4, k: 6 });
    const onnx = await runOnnx(exportSegmentationOnnx(plainModel), serving);
    expect(onnx.segment).toEqual(plainModel.assign(serving));
    expect(maxRelativeError(onnx.distances, plainModel.distances(serving))).toBeLessThan(1e-4);
  });

  it('writes the same bytes for the same model, and says what the ids mean', async () => {
    const bytes = exportSegmentationOnnx(model, { 'shelfmark.version': '1.0.0' });
    expect(Buffer.from(exportSegmentationOnnx(model, { 'shelfmark.version': '1.0.0' })).equals(Buffer.from(bytes))).toBe(true);
    const props = Object.fromEntries(onnx.ModelProto.decode(bytes).metadataProps.map((p) => [p.key, p.value]));
    expect(JSON.parse(props['shelfmark.segment_names'])).toEqual(model.segments.map((s) => s.name));
    expect(JSON.parse(props['shelfmark.feature_names'])).toEqual(MEMBER_FEATURES.map((f) => f.name));
    expect(props['shelfmark.version']).toBe('1.0.0');
    const again = trainSegmentation(plantedMembers(400, 1).rows, { features: MEMBER_FEATURES, seed: 1, k: 5 });
    expect(Buffer.from(exportSegmentationOnnx(again, { 'shelfmark.version': '1.0.0' })).equals(Buffer.from(bytes))).toBe(true);
  });
});
