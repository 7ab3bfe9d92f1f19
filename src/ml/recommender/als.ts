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
import { sharedFloat64, sharedRows, type HalfStepThreads } from './als-threads';
import { solveRows, unobservedGram, type HalfStepSettings } from './half-step';
import { ridgeConjugateGradient } from './linalg';
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

export interface Factors {
  users: Float64Array;
  items: Float64Array;
}

/** One half-step over all rows, on the threads when there are some (the same numbers either way). */
function solveHalfStep(
  rows: SparseRows,
  fixed: Float64Array,
  gramColumns: Uint8Array,
  target: Float64Array,
  prior: Float64Array | undefined,
  settings: HalfStepSettings,
  threads: HalfStepThreads | undefined,
): void {
  const gram = unobservedGram(rows, fixed, gramColumns, settings);
  if (threads) {
    const shared = sharedFloat64(gram.length);
    shared.set(gram);
    threads.solve(rows, fixed, shared, target, prior, settings);
  } else solveRows(rows, fixed, gram, target, prior, settings, 0, rows.rows);
}

/**
 * The factors, fitted by `hp.iterations` ALS sweeps. With `threads`, each half-step's rows
 * are split over them; the arrays the threads share are then copies on SharedArrayBuffers.
 */
export function fitFactors(
  interactions: SparseRows,
  content: ItemContent | undefined,
  hp: RecommenderHyperparameters,
  phase: TrainingPhase,
  onProgress: ((progress: TrainingProgress) => void) | undefined,
  threads?: HalfStepThreads,
): Factors {
  const k = hp.factors;
  const settings: HalfStepSettings = { factors: k, alpha: hp.alpha, regularization: hp.regularization, unobservedWeight: hp.unobservedWeight };
  const allocate = (length: number) => (threads ? sharedFloat64(length) : new Float64Array(length));
  const userRows = threads ? sharedRows(interactions) : interactions;
  const itemRows = threads ? sharedRows(transpose(interactions)) : transpose(interactions);
  const warmItems = new Uint8Array(itemRows.rows);
  for (let i = 0; i < itemRows.rows; i++) warmItems[i] = itemRows.rowStart[i + 1]! > itemRows.rowStart[i]! ? 1 : 0;
  const allUsers = new Uint8Array(userRows.rows).fill(1);

  const random = new Random(hp.seed);
  const items = allocate(itemRows.rows * k);
  for (let i = 0; i < itemRows.rows; i++) {
    if (!warmItems[i]) continue;
    for (let d = 0; d < k; d++) items[i * k + d] = random.normal(0, 0.1);
  }
  const users = allocate(userRows.rows * k);

  const featureCount = content?.matrix.columns ?? 0;
  const projection = new Float64Array(featureCount * k);
  const prior = content && featureCount > 0 ? allocate(itemRows.rows * k) : undefined;

  for (let iteration = 1; iteration <= hp.iterations; iteration++) {
    solveHalfStep(userRows, items, warmItems, users, undefined, settings, threads);
    if (content && prior) {
      ridgeConjugateGradient(content.matrix, items, k, warmItems, hp.contentRegularization, projection, CONTENT_CG_STEPS);
      projectContent(content, projection, k, prior);
    }
    solveHalfStep(itemRows, users, allUsers, items, prior, settings, threads);
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
