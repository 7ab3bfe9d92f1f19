/**
 * One ALS half-step's rows, the unit the trainer splits over threads (als-threads.ts). Kept
 * apart from als.ts so a worker loads only this.
 */
import { choleskySolveInPlace, gramLower } from './linalg';
import type { RecommenderHyperparameters } from './model';
import type { SparseRows } from './sparse-rows';

/** The settings one half-step reads. */
export type HalfStepSettings = Pick<RecommenderHyperparameters, 'factors' | 'alpha' | 'regularization' | 'unobservedWeight'>;

/** w0 G, G = Y^T Y over the columns flagged in `gramColumns` (lower triangle). */
export function unobservedGram(rows: SparseRows, fixed: Float64Array, gramColumns: Uint8Array, hp: HalfStepSettings): Float64Array {
  const k = hp.factors;
  const gram = new Float64Array(k * k);
  // Every column flagged (the members' side): the fixed factors as they are, not a copy of them.
  let usedFixed = fixed;
  if (gramColumns.some((flag) => !flag)) {
    usedFixed = new Float64Array(fixed.length);
    for (let c = 0; c < rows.columns; c++) {
      if (gramColumns[c]) usedFixed.set(fixed.subarray(c * k, c * k + k), c * k);
    }
  }
  gramLower(usedFixed, rows.columns, k, gram);
  for (let d = 0; d < gram.length; d++) gram[d]! *= hp.unobservedWeight;
  return gram;
}

/**
 * Rows `from` to `to` (exclusive) of one ALS half-step: for every row r with interactions, solve
 *   (w0 G + sum_j (c_rj - w0) y_j y_j^T + lambda I) x_r = sum_j c_rj y_j + lambda prior_r
 * with `gram` = w0 G from `unobservedGram`. Rows without interactions get their prior (or
 * zero). Each row reads only the inputs and writes only its own slice of `target`, so any
 * split of the rows over threads gives the same numbers.
 */
export function solveRows(
  rows: Pick<SparseRows, 'rowStart' | 'column' | 'weight'>,
  fixed: Float64Array,
  gram: Float64Array,
  target: Float64Array,
  prior: Float64Array | undefined,
  hp: HalfStepSettings,
  from: number,
  to: number,
): void {
  const { factors: k, alpha, regularization: lambda, unobservedWeight } = hp;
  const a = new Float64Array(k * k);
  const b = new Float64Array(k);
  let longest = 0;
  for (let r = from; r < to; r++) longest = Math.max(longest, rows.rowStart[r + 1]! - rows.rowStart[r]!);
  // The row's fixed factors gathered factor-major (k x n): each entry of the k x k system is then
  // a contiguous dot product held in registers, computed in 2 x 2 blocks so every load feeds two
  // multiply-adds. This loop is where training spends its time.
  const gathered = new Float64Array(k * longest);
  const scaled = new Float64Array(2 * longest);
  const extra = new Float64Array(longest);
  for (let r = from; r < to; r++) {
    const start = rows.rowStart[r]!;
    const n = rows.rowStart[r + 1]! - start;
    if (n === 0) {
      for (let d = 0; d < k; d++) target[r * k + d] = prior ? prior[r * k + d]! : 0;
      continue;
    }
    for (let p = 0; p < n; p++) {
      const offset = rows.column[start + p]! * k;
      extra[p] = 1 + alpha * rows.weight[start + p]! - unobservedWeight;
      for (let d = 0; d < k; d++) gathered[d * n + p] = fixed[offset + d]!;
    }
    for (let i = 0; i < k; i += 2) {
      const pair = i + 1 < k;
      // scaled[0..n) = (c - w0) y_i, scaled[n..2n) = (c - w0) y_{i+1}; b = sum_j c_rj y_j.
      for (let row = 0; row < (pair ? 2 : 1); row++) {
        const from = (i + row) * n;
        let sum = 0;
        for (let p = 0; p < n; p++) {
          const y = gathered[from + p]!;
          const weighted = extra[p]! * y;
          scaled[row * n + p] = weighted;
          sum += unobservedWeight * y + weighted;
        }
        b[i + row] = sum + (prior ? lambda * prior[r * k + i + row]! : 0);
      }
      for (let j = 0; j <= i; j += 2) {
        const rowJ = j * n;
        if (pair && j + 1 < k) {
          let s00 = 0;
          let s01 = 0;
          let s10 = 0;
          let s11 = 0;
          for (let p = 0; p < n; p++) {
            const x0 = scaled[p]!;
            const x1 = scaled[n + p]!;
            const y0 = gathered[rowJ + p]!;
            const y1 = gathered[rowJ + n + p]!;
            s00 += x0 * y0;
            s01 += x0 * y1;
            s10 += x1 * y0;
            s11 += x1 * y1;
          }
          a[i * k + j] = gram[i * k + j]! + s00;
          if (j + 1 <= i) a[i * k + j + 1] = gram[i * k + j + 1]! + s01;
          a[(i + 1) * k + j] = gram[(i + 1) * k + j]! + s10;
          a[(i + 1) * k + j + 1] = gram[(i + 1) * k + j + 1]! + s11;
        } else {
          // Odd k: the last row or column has no partner.
          for (let row = 0; row < (pair ? 2 : 1); row++) {
            for (let column = j; column < Math.min(j + 2, i + row + 1); column++) {
              let sum = 0;
              for (let p = 0; p < n; p++) sum += scaled[row * n + p]! * gathered[column * n + p]!;
              a[(i + row) * k + column] = gram[(i + row) * k + column]! + sum;
            }
          }
        }
      }
      a[i * k + i]! += lambda;
      if (pair) a[(i + 1) * k + i + 1]! += lambda;
    }
    choleskySolveInPlace(a, b, k);
    target.set(b, r * k);
  }
}
