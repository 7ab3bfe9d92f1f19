import { describe, expect, it } from '@jest/globals';
import { Tensor } from 'onnxruntime-node';
import { openServingSession } from '../../onnx/session';
import { Random } from '../../../util/random';
import { Adam } from '../adam';
import { DEMAND_TENSORS, encodeDemandOnnx } from '../export';
import { PARAM_NAMES, initLstm, lstmLossAndGradients, lstmPredictLast, zeroGradients } from '../network';
import type { LstmParams, LstmSequence } from '../network';

function randomSequences(random: Random, inputSize: number, outputSize: number, lengths: number[]): LstmSequence[] {
  return lengths.map((steps) => ({
    steps,
    weight: 0.5 + random.next(),
    inputs: Float64Array.from({ length: steps * inputSize }, () => random.normal()),
    // Some targets missing, as in training where early steps have no same-period-last-year.
    targets: Float64Array.from({ length: steps * outputSize }, () => (random.bernoulli(0.3) ? NaN : random.normal())),
  }));
}

/** Parameters away from their initial values, so every gate and the forget bias matter. */
function perturbedParams(random: Random): LstmParams {
  const p = initLstm({ inputSize: 3, hiddenSize: 4, outputSize: 2 }, random);
  for (const name of PARAM_NAMES) for (let n = 0; n < p[name].length; n++) p[name][n]! += random.normal(0, 0.3);
  return p;
}

describe('LSTM backpropagation through time', () => {
  it('matches central finite differences for every parameter', () => {
    const random = new Random(7);
    const params = perturbedParams(random);
    const sequences = randomSequences(random, 3, 2, [5, 1, 8]);
    const grads = zeroGradients(params);
    lstmLossAndGradients(params, sequences, grads);
    const eps = 1e-6;
    let worst = 0;
    for (const name of PARAM_NAMES) {
      const w = params[name];
      for (let n = 0; n < w.length; n++) {
        const saved = w[n]!;
        w[n] = saved + eps;
        const up = lstmLossAndGradients(params, sequences);
        w[n] = saved - eps;
        const down = lstmLossAndGradients(params, sequences);
        w[n] = saved;
        const numeric = (up - down) / (2 * eps);
        const analytic = grads[name][n]!;
        const relative = Math.abs(numeric - analytic) / Math.max(1e-4, Math.abs(numeric) + Math.abs(analytic));
        worst = Math.max(worst, relative);
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('learns to sum its inputs over a sequence with Adam', () => {
    const random = new Random(3);
    const params = initLstm({ inputSize: 1, hiddenSize: 8, outputSize: 1 }, random);
    const sequences: LstmSequence[] = Array.from({ length: 32 }, () => {
      const steps = 6;
      const inputs = Float64Array.from({ length: steps }, () => random.normal(0, 0.5));
      const targets = new Float64Array(steps).fill(NaN);
      targets[steps - 1] = inputs.reduce((a, b) => a + b, 0);
      return { steps, inputs, targets, weight: 1 };
    });
    const before = lstmLossAndGradients(params, sequences);
    const adam = new Adam(params, { learningRate: 0.02 });
    for (let epoch = 0; epoch < 300; epoch++) {
      const grads = zeroGradients(params);
      lstmLossAndGradients(params, sequences, grads);
      adam.update(params, grads);
    }
    expect(lstmLossAndGradients(params, sequences)).toBeLessThan(before * 0.05);
  });
});

describe('encodeDemandOnnx', () => {
  it('runs the ONNX LSTM op to the same last-step output as the trainer, for sequences of different lengths', async () => {
    const random = new Random(11);
    const params = initLstm({ inputSize: 3, hiddenSize: 5, outputSize: 2 }, random);
    for (const name of PARAM_NAMES) for (let n = 0; n < params[name].length; n++) params[name][n]! += random.normal(0, 0.4);
    const lengths = [7, 3, 5, 1];
    const maxSteps = Math.max(...lengths);
    const sequences = lengths.map((steps) => Float64Array.from({ length: steps * 3 }, () => random.normal()));
    const anchors = Float64Array.from({ length: lengths.length * 2 }, () => random.next() * 5);

    // layout 0: X is [seq, batch, input], so series b's step t sits at (t * batch + b) * input.
    const x = new Float32Array(maxSteps * lengths.length * 3);
    sequences.forEach((seq, b) => {
      for (let t = 0; t < lengths[b]!; t++) for (let j = 0; j < 3; j++) x[(t * lengths.length + b) * 3 + j] = seq[t * 3 + j]!;
    });
    const session = await openServingSession(encodeDemandOnnx(params));
    expect([...session.inputNames]).toEqual([DEMAND_TENSORS.features, DEMAND_TENSORS.sequenceLens, DEMAND_TENSORS.seasonalAnchor]);
    const out = await session.run({
      [DEMAND_TENSORS.features]: new Tensor('float32', x, [maxSteps, lengths.length, 3]),
      [DEMAND_TENSORS.sequenceLens]: new Tensor('int32', Int32Array.from(lengths), [lengths.length]),
      [DEMAND_TENSORS.seasonalAnchor]: new Tensor('float32', Float32Array.from(anchors), [lengths.length, 2]),
    });
    const logRatio = out[DEMAND_TENSORS.logRatio]!.data as Float32Array;
    const forecast = out[DEMAND_TENSORS.forecast]!.data as Float32Array;
    sequences.forEach((seq, b) => {
      // The trainer sees the same float32-rounded inputs the ONNX graph does.
      const expected = lstmPredictLast(params, Float64Array.from(Float32Array.from(seq)), lengths[b]!);
      for (let k = 0; k < 2; k++) {
        expect(Math.abs(logRatio[b * 2 + k]! - expected[k]!)).toBeLessThan(1e-5);
        const loans = Math.max(0, Math.expm1(anchors[b * 2 + k]! + expected[k]!));
        expect(Math.abs(forecast[b * 2 + k]! - loans)).toBeLessThan(1e-5 * Math.max(1, loans));
      }
    });
  });
});
