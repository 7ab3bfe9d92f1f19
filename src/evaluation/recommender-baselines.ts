/**
 * Recommender baselines stronger than popularity, scored on the recommender's own split, and
 * the list-level metrics beside accuracy (catalogue coverage, novelty).
 *
 * The split is the one src/training/recommendations.ts evaluates on: `training` holds the
 * interactions up to the cut-off, grouped by member (src/ml/recommender buildUserRows); each
 * member's candidates are every item not in `seen[member]` (what they had by the cut-off);
 * `heldOut[member]` are the items first taken in the window after it. Members with nothing
 * held out are skipped, as `meanRankingMetrics` does.
 *
 * - item-kNN: cosine similarity of items over members (binary: took it or not), shrunk as
 *   co-takers / (√(takers_i · takers_j) + shrinkage) so that two items one member took are not
 *   "identical"; each item keeps its `neighbours` most similar, and a member's score for i is
 *   the sum of the similarities of i to the items they took (Sarwar et al. 2001; Deshpande and
 *   Karypis 2004). The shrinkage is chosen on a validation split, as EASE's λ is.
 * - EASE (Steck 2019): the closed-form item-item regression B = I − P·diag(1/diag P), with
 *   P = (XᵀX + λI)⁻¹ over binary X, and zero diagonal. Memory and time grow with the square and
 *   the cube of the items it covers, so it covers only the `maxItems` most popular items
 *   (default 1000: an 8 MB matrix); items outside them are never recommended by it. λ is
 *   chosen on a validation split inside the training interactions (splitForValidation, as the
 *   recommender's blend weights are), never on the held-out window.
 */
import { meanRankingMetrics, type RankingMetrics } from '../ml/ranking-metrics';
import { choleskyFactorInPlace } from '../ml/recommender/linalg';
import { exclusionMask, popularityTopK, selectTopK } from '../ml/recommender/scoring';
import { fitItemKnn, itemKnnScores, itemPopularity, type ItemKnn } from '../ml/recommender/item-knn';
import { splitForValidation, type SparseRows } from '../ml/recommender/sparse-rows';

export { fitItemKnn, itemKnnScores, itemPopularity, type ItemKnn };

export interface InteractionSplit {
  training: SparseRows;
  seen: readonly (readonly number[])[];
  heldOut: readonly ReadonlySet<number>[];
}

export interface ListMetrics extends RankingMetrics {
  members: number;
  /** Share of the catalogue that appears in at least one member's top k. */
  coverage: number;
  /**
   * Mean over every recommended slot of −log2((members who took the item in training + 1) /
   * (members + 1)): the self-information of the item, higher for less-known items.
   */
  novelty: number;
}

/**
 * Ranking metrics of member lists (best first, parallel to `relevant`) at k, with coverage and
 * novelty; the hybrid's own lists can be scored by the same function.
 */
export function listMetrics(lists: readonly (readonly number[])[], relevant: readonly ReadonlySet<number>[], k: number, training: SparseRows): ListMetrics {
  if (lists.length !== relevant.length) throw new Error(`${lists.length} lists for ${relevant.length} members; give one list per member`);
  const popularity = itemPopularity(training);
  const shown = new Uint8Array(training.columns);
  let information = 0;
  let slots = 0;
  for (const list of lists) {
    for (const item of list.slice(0, k)) {
      shown[item] = 1;
      information -= Math.log2(((popularity[item] ?? 0) + 1) / (training.rows + 1));
      slots++;
    }
  }
  const covered = shown.reduce((sum, flag) => sum + flag, 0);
  const ranking = meanRankingMetrics(
    lists.map((ranked, i) => ({ ranked, relevant: relevant[i]! })),
    k,
  );
  return { ...ranking, coverage: training.columns > 0 ? covered / training.columns : 0, novelty: slots > 0 ? information / slots : 0 };
}

export interface EaseModel {
  lambda: number;
  /** Catalogue index of each covered item, most popular first. */
  items: Int32Array;
  /** For each catalogue item, its position in `items`, or -1. */
  position: Int32Array;
  /** items.length² row-major: weights[a · n + b] is how much taking item a says about item b. */
  weights: Float64Array;
}

/** The catalogue's most popular items (ties to the lower index), at most maxItems. */
function coveredItems(training: SparseRows, maxItems: number): Int32Array {
  const popularity = itemPopularity(training);
  const order = Array.from({ length: training.columns }, (_, i) => i)
    .filter((i) => popularity[i]! > 0)
    .sort((a, b) => popularity[b]! - popularity[a]! || a - b);
  return Int32Array.from(order.slice(0, maxItems));
}

/** XᵀX over the covered items, binary X. */
function coveredGram(training: SparseRows, position: Int32Array, n: number): Float64Array {
  const gram = new Float64Array(n * n);
  const row: number[] = [];
  for (let u = 0; u < training.rows; u++) {
    row.length = 0;
    for (let p = training.rowStart[u]!; p < training.rowStart[u + 1]!; p++) {
      const at = position[training.column[p]!]!;
      if (at >= 0) row.push(at);
    }
    for (const a of row) for (const b of row) gram[a * n + b]! += 1;
  }
  return gram;
}

/**
 * Inverse of a symmetric positive definite n × n matrix by Cholesky factorisation (the input
 * is left unchanged). Throws when the matrix is not positive definite.
 */
export function invertSymmetricPositiveDefinite(matrix: Float64Array, n: number): Float64Array {
  const factor = Float64Array.from(matrix);
  choleskyFactorInPlace(factor, n);
  // L⁻¹ (lower triangular), then A⁻¹ = L⁻ᵀ L⁻¹.
  const lowerInverse = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    lowerInverse[j * n + j] = 1 / factor[j * n + j]!;
    for (let i = j + 1; i < n; i++) {
      let sum = 0;
      for (let p = j; p < i; p++) sum -= factor[i * n + p]! * lowerInverse[p * n + j]!;
      lowerInverse[i * n + j] = sum / factor[i * n + i]!;
    }
  }
  const inverse = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = 0;
      for (let p = i; p < n; p++) sum += lowerInverse[p * n + i]! * lowerInverse[p * n + j]!;
      inverse[i * n + j] = sum;
      inverse[j * n + i] = sum;
    }
  }
  return inverse;
}

function easeFromGram(gram: Float64Array, items: Int32Array, position: Int32Array, lambda: number): EaseModel {
  const n = items.length;
  const regularised = Float64Array.from(gram);
  for (let i = 0; i < n; i++) regularised[i * n + i]! += lambda;
  const p = invertSymmetricPositiveDefinite(regularised, n);
  const weights = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) if (a !== b) weights[a * n + b] = -p[a * n + b]! / p[b * n + b]!;
  }
  return { lambda, items, position, weights };
}

export interface EaseOptions {
  /** Items covered, the most popular first (default 1000). */
  maxItems?: number;
  lambda: number;
}

export function fitEase(training: SparseRows, { maxItems = 1000, lambda }: EaseOptions): EaseModel {
  if (!(lambda > 0)) throw new Error(`lambda must be positive, got ${lambda}`);
  if (!Number.isInteger(maxItems) || maxItems < 1) throw new Error(`maxItems must be a positive integer, got ${maxItems}`);
  const items = coveredItems(training, maxItems);
  const position = new Int32Array(training.columns).fill(-1);
  items.forEach((item, at) => (position[item] = at));
  return easeFromGram(coveredGram(training, position, items.length), items, position, lambda);
}

/** Scores of every catalogue item for a member who took `history`; NaN (never recommended) outside the covered items. */
export function easeScores(model: EaseModel, history: readonly number[], itemCount: number): Float64Array {
  const n = model.items.length;
  const covered = new Float64Array(n);
  for (const item of history) {
    const a = model.position[item] ?? -1;
    if (a < 0) continue;
    for (let b = 0; b < n; b++) covered[b]! += model.weights[a * n + b]!;
  }
  const scores = new Float64Array(itemCount).fill(NaN);
  model.items.forEach((item, at) => (scores[item] = covered[at]!));
  return scores;
}

/** λ values tried by default: EASE's optimum grows with the data, from tens on small sets to hundreds on large ones. */
export const EASE_LAMBDA_GRID: readonly number[] = [5, 20, 50, 100, 250, 500, 1000];
/** Item-kNN shrinkages tried by default (0 is plain cosine). */
export const ITEM_KNN_SHRINKAGE_GRID: readonly number[] = [0, 5, 20, 100, 500];

export interface ValidationChoice {
  chosen: number;
  /** NDCG@k on the validation split for each value tried, in order. */
  table: { value: number; ndcg: number }[];
}

/** Top-k lists of `members` by `score`, excluding each member's `seen`. */
function topLists(members: readonly number[], seen: readonly (readonly number[])[], itemCount: number, k: number, score: (history: readonly number[]) => Float64Array): number[][] {
  return members.map((u) => {
    const history = seen[u] ?? [];
    return selectTopK(score(history), k, exclusionMask(itemCount, history)).items;
  });
}

function rowItems(rows: SparseRows): number[][] {
  return Array.from({ length: rows.rows }, (_, u) => Array.from(rows.column.subarray(rows.rowStart[u], rows.rowStart[u + 1])));
}

type Scorer = (history: readonly number[]) => Float64Array;

/**
 * The value (λ, shrinkage) with the best NDCG@k on a validation split of the training rows:
 * 20% of each member's items (members with 2 or more) held out, seeded, as the recommender
 * tunes its blend. `prepare` sees the split's training rows once and returns a fit per value.
 * Ties go to the value listed first.
 */
function chooseOnValidationSplit(
  training: SparseRows,
  values: readonly number[],
  prepare: (rows: SparseRows) => (value: number) => Scorer,
  { k, seed }: { k: number; seed: number },
): ValidationChoice {
  if (values.length === 0) throw new Error('no values to choose from');
  const split = splitForValidation(training, 0.2, seed);
  const members = [...split.heldOut.keys()].sort((a, b) => a - b);
  if (members.length === 0) throw new Error('no member has two or more items to validate on');
  const seen = rowItems(split.training);
  const relevant = members.map((u) => split.heldOut.get(u) ?? new Set<number>());
  const fit = prepare(split.training);
  const table = values.map((value) => {
    const lists = topLists(members, seen, training.columns, k, fit(value));
    return { value, ndcg: meanRankingMetrics(lists.map((ranked, i) => ({ ranked, relevant: relevant[i]! })), k).ndcg };
  });
  let best = table[0]!;
  for (const row of table) if (row.ndcg > best.ndcg) best = row;
  return { chosen: best.value, table };
}

export interface ChoiceOptions {
  k?: number;
  seed?: number;
}

/** EASE's λ on a validation split of the training rows (see chooseOnValidationSplit). */
export function chooseEaseLambda(training: SparseRows, { maxItems = 1000, lambdas = EASE_LAMBDA_GRID, k = 10, seed = 1 }: ChoiceOptions & { maxItems?: number; lambdas?: readonly number[] } = {}): ValidationChoice {
  return chooseOnValidationSplit(
    training,
    lambdas,
    (rows) => {
      const items = coveredItems(rows, maxItems);
      const position = new Int32Array(rows.columns).fill(-1);
      items.forEach((item, at) => (position[item] = at));
      const gram = coveredGram(rows, position, items.length);
      return (lambda) => {
        const model = easeFromGram(gram, items, position, lambda);
        return (history) => easeScores(model, history, rows.columns);
      };
    },
    { k, seed },
  );
}

/** Item-kNN's shrinkage on a validation split of the training rows (see chooseOnValidationSplit). */
export function chooseItemKnnShrinkage(
  training: SparseRows,
  { neighbours = 50, shrinkages = ITEM_KNN_SHRINKAGE_GRID, k = 10, seed = 1 }: ChoiceOptions & { neighbours?: number; shrinkages?: readonly number[] } = {},
): ValidationChoice {
  return chooseOnValidationSplit(
    training,
    shrinkages,
    (rows) => (shrinkage) => {
      const model = fitItemKnn(rows, { neighbours, shrinkage });
      return (history) => itemKnnScores(model, history, rows.columns);
    },
    { k, seed },
  );
}

export interface RecommenderBaselines {
  k: number;
  popularity: ListMetrics;
  itemKnn: ListMetrics & { neighbours: number; shrinkage: number; shrinkageTable: ValidationChoice['table'] };
  ease: ListMetrics & { lambda: number; items: number; lambdaTable: ValidationChoice['table'] };
}

export interface RecommenderBaselineOptions {
  k?: number;
  neighbours?: number;
  shrinkages?: readonly number[];
  maxItems?: number;
  lambdas?: readonly number[];
  seed?: number;
}

/** Popularity, item-kNN and EASE on the split, each with ranking metrics, coverage and novelty at k. */
export function evaluateRecommenderBaselines(split: InteractionSplit, options: RecommenderBaselineOptions = {}): RecommenderBaselines {
  const { k = 10, neighbours = 50, maxItems = 1000, seed = 1 } = options;
  const { training, seen, heldOut } = split;
  if (seen.length !== training.rows || heldOut.length !== training.rows) {
    throw new Error(`the split has ${training.rows} members in training, ${seen.length} in seen and ${heldOut.length} in heldOut; they must match`);
  }
  const itemCount = training.columns;
  const members = heldOut.flatMap((items, u) => (items.size > 0 ? [u] : []));
  const relevant = members.map((u) => heldOut[u]!);
  const popularity = itemPopularity(training);
  const popularityLists = members.map((u) => popularityTopK(popularity, seen[u]!, k).items);
  const shrinkage = chooseItemKnnShrinkage(training, { neighbours, shrinkages: options.shrinkages, k, seed });
  const knn = fitItemKnn(training, { neighbours, shrinkage: shrinkage.chosen });
  const knnLists = topLists(members, seen, itemCount, k, (history) => itemKnnScores(knn, history, itemCount));
  const lambda = chooseEaseLambda(training, { maxItems, lambdas: options.lambdas, k, seed });
  const ease = fitEase(training, { maxItems, lambda: lambda.chosen });
  const easeLists = topLists(members, seen, itemCount, k, (history) => easeScores(ease, history, itemCount));
  return {
    k,
    popularity: listMetrics(popularityLists, relevant, k, training),
    itemKnn: { ...listMetrics(knnLists, relevant, k, training), neighbours, shrinkage: shrinkage.chosen, shrinkageTable: shrinkage.table },
    ease: { ...listMetrics(easeLists, relevant, k, training), lambda: lambda.chosen, items: ease.items.length, lambdaTable: lambda.table },
  };
}
