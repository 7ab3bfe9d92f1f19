/**
 * Implicit-feedback ALS (Hu, Koren, Volinsky 2008) whose item factors have a content prior.
 *
 * For member u and item i with interaction weight w_ui (0 when none):
 *   preference p_ui = 1 if w_ui > 0 else 0
 *   confidence c_ui = 1 + alpha * w_ui when observed, w0 (unobservedWeight) otherwise
 *   minimise  sum_ui c_ui (p_ui - x_u . y_i)^2 + lambda sum_u |x_u|^2
 *           + lambda sum_i |y_i - W^T f_i|^2 + lambdaW |W|^2
 * with f_i the item's content row. Each half-step solves one k x k system per member or item
 * by Cholesky; W is a ridge regression from content to item factors, refitted every
 * iteration. So an item's factors are its collaborative evidence shrunk towards what its
 * authors, genre and era predict, and an item nobody has borrowed gets exactly W^T f_i: new
 * books are recommendable from day one. Without content the prior is 0 and this is plain
 * implicit ALS.
 *
 * One deliberate departure from textbook implicit ALS: never-borrowed items are left out of
 * the member half-step's Gram matrix and are not solved in the item half-step, because an
 * item nobody could borrow yet has not been rejected by anyone.
 *
 * Cost per iteration: O(nnz k^2 + (members + items) k^3 / 3), about 1 s of CPU for 500k loans
 * over 10,000 x 10,000 with k = 32. Deterministic for a seed.
 */
import { Random } from '../../util/random';
import type { ItemContent } from './content';
import { choleskySolveInPlace, gramLower, ridgeConjugateGradient } from './linalg';
import type { RecommenderHyperparameters } from './model';
import { transpose, type SparseRows } from './sparse-rows';

export type TrainingPhase = 'validation' | 'final';

export interface TrainingProgress {
  phase: TrainingPhase;
  iteration: number;
  iterations: number;
}

/** Conjugate-gradient steps per content refit; warm-started, so a few suffice. */
const CONTENT_CG_STEPS = 10;
/** The popularity regression starts from zero, so it gets more steps. */
const POPULARITY_CG_STEPS = 100;

/**
 * One ALS half-step: for every row r with interactions, solve
 *   (w0 G + sum_j (c_rj - w0) y_j y_j^T + lambda I) x_r = sum_j c_rj y_j + lambda prior_r
 * where G = Y^T Y over the columns flagged in `gramColumns`. Rows without interactions get
 * their prior (or zero).
 */
function solveHalfStep(
  rows: SparseRows,
  fixed: Float64Array,
  gramColumns: Uint8Array,
  target: Float64Array,
  prior: Float64Array | undefined,
  hp: RecommenderHyperparameters,
): void {
  const { factors: k, alpha, regularization: lambda, unobservedWeight } = hp;
  const gram = new Float64Array(k * k);
  const usedFixed = new Float64Array(fixed.length);
  for (let c = 0; c < rows.columns; c++) {
    if (gramColumns[c]) usedFixed.set(fixed.subarray(c * k, c * k + k), c * k);
  }
  gramLower(usedFixed, rows.columns, k, gram);
  for (let d = 0; d < gram.length; d++) gram[d]! *= unobservedWeight;
  const a = new Float64Array(k * k);
  const b = new Float64Array(k);
  let longest = 0;
  for (let r = 0; r < rows.rows; r++) longest = Math.max(longest, rows.rowStart[r + 1]! - rows.rowStart[r]!);
  // The row's fixed factors gathered factor-major (k x n): each entry of the k x k system is then
  // a contiguous dot product held in registers, computed in 2 x 2 blocks so every load feeds two
  // multiply-adds. This loop is where training spends its time.
  const gathered = new Float64Array(k * longest);
  const scaled = new Float64Array(2 * longest);
  const extra = new Float64Array(longest);
  for (let r = 0; r < rows.rows; r++) {
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

export interface Factors {
  users: Float64Array;
  items: Float64Array;
}

export function fitFactors(
  userRows: SparseRows,
  content: ItemContent | undefined,
  hp: RecommenderHyperparameters,
  phase: TrainingPhase,
  onProgress: ((progress: TrainingProgress) => void) | undefined,
): Factors {
  const k = hp.factors;
  const itemRows = transpose(userRows);
  const warmItems = new Uint8Array(itemRows.rows);
  for (let i = 0; i < itemRows.rows; i++) warmItems[i] = itemRows.rowStart[i + 1]! > itemRows.rowStart[i]! ? 1 : 0;
  const allUsers = new Uint8Array(userRows.rows).fill(1);

  const random = new Random(hp.seed);
  const items = new Float64Array(itemRows.rows * k);
  for (let i = 0; i < itemRows.rows; i++) {
    if (!warmItems[i]) continue;
    for (let d = 0; d < k; d++) items[i * k + d] = random.normal(0, 0.1);
  }
  const users = new Float64Array(userRows.rows * k);

  const featureCount = content?.matrix.columns ?? 0;
  const projection = new Float64Array(featureCount * k);
  const prior = content && featureCount > 0 ? new Float64Array(itemRows.rows * k) : undefined;

  for (let iteration = 1; iteration <= hp.iterations; iteration++) {
    solveHalfStep(userRows, items, warmItems, users, undefined, hp);
    if (content && prior) {
      ridgeConjugateGradient(content.matrix, items, k, warmItems, hp.contentRegularization, projection, CONTENT_CG_STEPS);
      projectContent(content, projection, k, prior);
    }
    solveHalfStep(itemRows, users, allUsers, items, prior, hp);
    onProgress?.({ phase, iteration, iterations: hp.iterations });
  }
  return { users, items };
}

/** out = F W: what each item's content predicts (its factors, or with one target its popularity). */
function projectContent(content: ItemContent, projection: Float64Array, k: number, out: Float64Array): void {
  const m = content.matrix;
  out.fill(0);
  for (let i = 0; i < m.rows; i++) {
    for (let p = m.rowStart[i]!; p < m.rowStart[i + 1]!; p++) {
      const value = m.value[p]!;
      const offset = m.column[p]! * k;
      for (let d = 0; d < k; d++) out[i * k + d]! += value * projection[offset + d]!;
    }
  }
}

/**
 * s_i = log(1 + distinct members of i) / log(1 + max over items), in [0, 1]. With content, an
 * item nobody has taken yet gets the popularity its content predicts (a ridge regression fitted
 * on the other items, clamped to [0, 1]) instead of 0: a new book by a much-borrowed author is
 * likely to be borrowed, and without this its content-derived factors could never outrank the
 * popularity prior of older books.
 */
export function itemPopularity(userRows: SparseRows, content: ItemContent | undefined, lambda: number): Float64Array {
  const counts = new Float64Array(userRows.columns);
  for (let p = 0; p < userRows.column.length; p++) counts[userRows.column[p]!]! += 1;
  let max = 0;
  for (const c of counts) max = Math.max(max, c);
  const popularity = new Float64Array(userRows.columns);
  if (max === 0) return popularity;
  const scale = 1 / Math.log1p(max);
  for (let i = 0; i < counts.length; i++) popularity[i] = Math.log1p(counts[i]!) * scale;
  if (content && content.matrix.columns > 0) {
    const warm = Uint8Array.from(counts, (c) => (c > 0 ? 1 : 0));
    const coefficients = new Float64Array(content.matrix.columns);
    ridgeConjugateGradient(content.matrix, popularity, 1, warm, lambda, coefficients, POPULARITY_CG_STEPS);
    const predicted = new Float64Array(userRows.columns);
    projectContent(content, coefficients, 1, predicted);
    for (let i = 0; i < counts.length; i++) if (!warm[i]) popularity[i] = Math.min(1, Math.max(0, predicted[i]!));
  }
  return popularity;
}
