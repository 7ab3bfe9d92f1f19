/**
 * Checks and row sampling shared by the two trainers.
 */
import type { Random } from '../../util/random';
import type { BinnedFeatures, TrainingData } from './data';

export interface ParamRange {
  integer?: boolean;
  min?: number;
  exclusiveMin?: boolean;
  max?: number;
}

/** Throws with the parameter's name, the range it needs and the value it got. */
export function assertParam(name: string, value: number, { integer = false, min, exclusiveMin = false, max }: ParamRange): void {
  const tooLow = min !== undefined && (exclusiveMin ? value <= min : value < min);
  const tooHigh = max !== undefined && value > max;
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value)) || tooLow || tooHigh) {
    const range = [
      integer ? 'an integer' : 'a number',
      min !== undefined ? `${exclusiveMin ? 'above' : 'at least'} ${min}` : '',
      max !== undefined ? `at most ${max}` : '',
    ].filter((s) => s !== '');
    throw new Error(`${name} must be ${range.join(', ')}; got ${value}`);
  }
}

export function assertBinnedMatches(binned: BinnedFeatures, data: TrainingData): void {
  if (binned.rowCount !== data.rowCount || binned.featureCount !== data.featureCount) {
    throw new Error(
      `binned features are ${binned.rowCount} rows × ${binned.featureCount} features but the data is ${data.rowCount} × ${data.featureCount}`,
    );
  }
}

/**
 * `size` distinct rows of `0..n-1` in increasing order (Knuth's selection sampling), so a
 * tree reads the feature columns front to back.
 */
export function sampleWithoutReplacement(n: number, size: number, random: Random): Int32Array {
  const rows = new Int32Array(size);
  let chosen = 0;
  for (let r = 0; r < n && chosen < size; r++) {
    if ((n - r) * random.next() < size - chosen) rows[chosen++] = r;
  }
  return rows;
}

/** `size` rows of `0..n-1` drawn with replacement, returned in increasing order. */
export function sampleWithReplacement(n: number, size: number, random: Random): Int32Array {
  const counts = new Int32Array(n);
  for (let i = 0; i < size; i++) counts[random.int(n)]! += 1;
  const rows = new Int32Array(size);
  let k = 0;
  for (let r = 0; r < n; r++) {
    for (let c = counts[r]!; c > 0; c--) rows[k++] = r;
  }
  return rows;
}
