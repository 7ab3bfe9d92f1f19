import { describe, expect, it } from '@jest/globals';
import { encodeModel, node, tensor, valueInfo } from '../../ml/onnx/builder';
import { checkParity } from '..';
import type { ParityFile } from '..';
import { logisticModel, parityFor } from './fixtures';

/** Picks the nearest of two centroids, like a k-means segmenter: an int64 segment id per row. */
function nearestCentroidModel(): Uint8Array {
  return encodeModel({
    graph: {
      name: 'segments',
      inputs: [valueInfo('rfm', 'float', ['batch', 2])],
      outputs: [valueInfo('segment', 'int64', ['batch'])],
      initializers: [tensor('centroids_t', 'float', [2, 2], [1, 0, 0, 1])],
      nodes: [node('MatMul', ['rfm', 'centroids_t'], ['affinity']), node('ArgMax', ['affinity'], ['segment'], { axis: 1, keepdims: 0 }, { intAttributes: ['axis', 'keepdims'] })],
    },
  });
}

describe('checkParity', () => {
  it('holds for scores within tolerance', async () => {
    const scorer = { weights: [0.5, -0.25, 1], bias: 0.1 };
    const outcome = await checkParity(logisticModel(scorer), parityFor(scorer));
    expect(outcome.problems).toEqual([]);
    expect(outcome.result).toMatchObject({ passed: true, rows: 4, tolerance: 1e-5 });
  });

  it('fails when scores drift beyond tolerance, saying where', async () => {
    const scorer = { weights: [0.5, -0.25, 1], bias: 0.1 };
    const parity = parityFor(scorer);
    (parity.expected[0]!.data as number[])[2] = Number(parity.expected[0]!.data[2]) + 0.01;
    const outcome = await checkParity(logisticModel(scorer), parity);
    expect(outcome.result.passed).toBe(false);
    expect(outcome.result.maxAbsError).toBeCloseTo(0.01, 5);
    expect(outcome.problems).toEqual([expect.stringMatching(/^output probability: 1 of 4 values differ \(tolerance 0\.00001\); first at index 2: expected /)]);
  });

  it('demands an exact match for integer outputs such as segment ids', async () => {
    const parity: ParityFile = {
      inputs: [{ name: 'rfm', type: 'float32', dims: [3, 2], data: [2, 1, 0, 3, 1, 1.5] }],
      expected: [{ name: 'segment', data: [0, 1, 1] }],
      tolerance: 0.5,
    };
    expect((await checkParity(nearestCentroidModel(), parity)).result.passed).toBe(true);
    parity.expected[0]!.data = [0, 1, 0];
    const outcome = await checkParity(nearestCentroidModel(), parity);
    expect(outcome.problems).toEqual(['output segment: 1 of 3 values differ (exact match); first at index 2: expected 0, got 1']);
  });

  it('reports rows that cannot be run instead of throwing', async () => {
    const scorer = { weights: [0.5, -0.25, 1], bias: 0.1 };
    const parity = parityFor(scorer);
    parity.inputs[0]!.name = 'wrong';
    const outcome = await checkParity(logisticModel(scorer), parity);
    expect(outcome.result).toEqual({ maxAbsError: null, tolerance: 1e-5, passed: false, rows: 4 });
    expect(outcome.problems[0]).toMatch(/^the parity rows could not be run: /);
  });
});
