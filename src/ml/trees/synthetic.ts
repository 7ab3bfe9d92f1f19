/**
 * A synthetic binary data set with a known logistic truth, for tests and the benchmark.
 *
 * Contract: row-major float32 features (Gaussian, uniform and small-integer columns), labels
 * drawn from `trueProbability`, which depends on a few features linearly, on one interaction
 * and on one threshold effect; the remaining features are noise. Deterministic for a seed.
 */
import { Random } from '../../util/random';
import type { TrainingData } from './data';

export interface SyntheticData extends TrainingData {
  /** The probability of class 1 each label was drawn with. */
  trueProbability: Float64Array;
}

export function logisticTruthData({ rows, features = 20, seed = 1 }: { rows: number; features?: number; seed?: number }): SyntheticData {
  if (features < 4) throw new Error(`logisticTruthData needs at least 4 features, got ${features}`);
  const random = new Random(seed);
  const x = new Float32Array(rows * features);
  const labels = new Uint8Array(rows);
  const trueProbability = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * features;
    for (let f = 0; f < features; f++) {
      switch (f % 3) {
        case 0:
          x[o + f] = random.normal();
          break;
        case 1:
          x[o + f] = random.next() * 10;
          break;
        default:
          x[o + f] = random.int(5);
      }
    }
    const logit = -0.5 + 1.2 * x[o]! - 0.25 * x[o + 1]! + 0.6 * x[o + 2]! + 0.8 * x[o]! * (x[o + 3]! > 0 ? 1 : -1) + (x[o + 4]! > 5 ? 1 : 0);
    const p = 1 / (1 + Math.exp(-logit));
    trueProbability[r] = p;
    labels[r] = random.bernoulli(p) ? 1 : 0;
  }
  return { features: x, labels, rowCount: rows, featureCount: features, trueProbability };
}

/** Rows `start..end-1` of a data set, as a data set of their own. */
export function sliceRows(data: SyntheticData, start: number, end: number): SyntheticData {
  const d = data.featureCount;
  return {
    features: data.features.slice(start * d, end * d),
    labels: data.labels.slice(start, end),
    rowCount: end - start,
    featureCount: d,
    trueProbability: data.trueProbability.slice(start, end),
  };
}
