/**
 * Trains the hybrid recommender:
 *
 *   score(u, i) = x_u . y_i  +  popularityWeight * s_i  +  neighbourhoodWeight * N_u(i)
 *
 * - x_u . y_i: implicit-feedback ALS whose item factors have a content prior (als.ts), so a
 *   book nobody has borrowed yet is scored from its authors, genre and era;
 * - s_i: scaled log popularity, content-predicted for never-borrowed books (als.ts);
 * - N_u(i): how strongly i is co-borrowed with the member's own books (neighbourhood.ts).
 *
 * The two weights are chosen on validation (blend.ts): the factors are fitted once without a
 * held-out slice of each member's interactions, every weight pair is scored on that slice,
 * then the factors are refitted on everything. Sparse data leans on popularity and
 * co-borrowing, dense data on the factors, and the numbers, not a guess, decide how much.
 *
 * Cost: two ALS fits when a weight is tuned, one otherwise; about 20 s of CPU for 500k loans
 * over 10,000 x 10,000 members and books with k = 32. Deterministic for a seed.
 */
import { fitFactors, itemPopularity, type TrainingProgress } from './als';
import { HalfStepThreads } from './als-threads';
import { blendGrids, tuneBlend, type BlendChoice } from './blend';
import {
  DEFAULT_HYPERPARAMETERS,
  type RecommenderHyperparameters,
  type RecommenderModel,
  type RecommenderTrainingData,
} from './model';
import { buildItemNeighbourhood } from './neighbourhood';
import { buildUserRows, splitForValidation, type SparseRows } from './sparse-rows';

export type { TrainingPhase, TrainingProgress } from './als';

export interface TrainOptions {
  /** Called after every ALS iteration, e.g. to print progress. */
  onProgress?: (progress: TrainingProgress) => void;
  /** Threads the ALS half-steps are split over (1, the default: this one only); the model is the same for any number. */
  threads?: number;
}

function checkHyperparameters(hp: RecommenderHyperparameters): void {
  const integer = (name: 'factors' | 'iterations' | 'neighbours', minimum: number): void => {
    const value = hp[name];
    if (!Number.isInteger(value) || value < minimum) throw new RangeError(`${name} must be an integer >= ${minimum}, got ${value}`);
  };
  integer('factors', 1);
  integer('iterations', 1);
  integer('neighbours', 0);
  if (!(hp.alpha >= 0)) throw new RangeError(`alpha must be >= 0, got ${hp.alpha}`);
  if (!(hp.unobservedWeight > 0 && hp.unobservedWeight <= 1)) throw new RangeError(`unobservedWeight must be in (0, 1], got ${hp.unobservedWeight}`);
  if (!(hp.regularization > 0)) throw new RangeError(`regularization must be > 0, got ${hp.regularization}`);
  if (!(hp.contentRegularization > 0)) throw new RangeError(`contentRegularization must be > 0, got ${hp.contentRegularization}`);
  for (const name of ['popularityWeight', 'neighbourhoodWeight'] as const) {
    const value = hp[name];
    if (value !== 'tune' && !(Number.isFinite(value) && value >= 0)) throw new RangeError(`${name} must be a number >= 0 or 'tune', got ${value}`);
  }
  if (!(hp.validationFraction > 0 && hp.validationFraction < 1)) {
    throw new RangeError(`validationFraction must be in (0, 1), got ${hp.validationFraction}`);
  }
}

/** Trains the hybrid recommender described above. Deterministic for `hyperparameters.seed`. */
export function trainRecommender(
  data: RecommenderTrainingData,
  hyperparameters: Partial<RecommenderHyperparameters> = {},
  options: TrainOptions = {},
): RecommenderModel {
  const started = performance.now();
  const hp: RecommenderHyperparameters = { ...DEFAULT_HYPERPARAMETERS, ...hyperparameters };
  checkHyperparameters(hp);
  if (!Number.isInteger(data.userCount) || data.userCount < 0) throw new RangeError(`userCount must be a non-negative integer, got ${data.userCount}`);
  if (!Number.isInteger(data.itemCount) || data.itemCount <= 0) throw new RangeError(`itemCount must be a positive integer, got ${data.itemCount}`);
  if (data.content && data.content.matrix.rows !== data.itemCount) {
    throw new RangeError(`content has ${data.content.matrix.rows} rows for ${data.itemCount} items`);
  }
  const userRows = buildUserRows(data);
  const threads = HalfStepThreads.start(options.threads ?? 1);
  try {
    return fitHybrid(data, hp, userRows, started, options, threads);
  } finally {
    threads?.close();
  }
}

function fitHybrid(
  data: RecommenderTrainingData,
  hp: RecommenderHyperparameters,
  userRows: SparseRows,
  started: number,
  options: TrainOptions,
  threads: HalfStepThreads | undefined,
): RecommenderModel {
  const k = hp.factors;

  const grids = blendGrids(hp.popularityWeight, hp.neighbourhoodWeight, hp.neighbours);
  let blend: BlendChoice | undefined;
  if (grids.popularity.length > 1 || grids.neighbourhood.length > 1) {
    const split = splitForValidation(userRows, hp.validationFraction, hp.seed);
    const factors = fitFactors(split.training, data.content, hp, 'validation', options.onProgress, threads);
    const popularity = itemPopularity(split.training, data.content, hp.contentRegularization);
    const neighbourhood = buildItemNeighbourhood(split.training, hp.neighbours);
    blend = tuneBlend(split, factors, popularity, neighbourhood, k, grids, hp.seed);
  }
  const popularityWeight = blend?.popularityWeight ?? grids.popularity[0]!;
  const neighbourhoodWeight = blend?.neighbourhoodWeight ?? grids.neighbourhood[0]!;

  const factors = fitFactors(userRows, data.content, hp, 'final', options.onProgress, threads);
  const popularity = itemPopularity(userRows, data.content, hp.contentRegularization);
  const neighbourhood = buildItemNeighbourhood(userRows, hp.neighbours);

  const e = k + 1;
  const userEmbeddings = new Float32Array((data.userCount + 1) * e);
  let membersWithoutHistory = 0;
  for (let u = 0; u < data.userCount; u++) {
    if (userRows.rowStart[u + 1]! === userRows.rowStart[u]!) {
      membersWithoutHistory += 1;
      userEmbeddings[u * e + k] = 1;
      continue;
    }
    for (let d = 0; d < k; d++) userEmbeddings[u * e + d] = factors.users[u * k + d]!;
  }
  userEmbeddings[data.userCount * e + k] = 1;
  const itemEmbeddings = new Float32Array(data.itemCount * e);
  const itemBias = new Float32Array(data.itemCount);
  const taken = new Uint8Array(data.itemCount);
  for (const item of userRows.column) taken[item] = 1;
  let coldItems = 0;
  for (let i = 0; i < data.itemCount; i++) {
    for (let d = 0; d < k; d++) itemEmbeddings[i * e + d] = factors.items[i * k + d]!;
    itemEmbeddings[i * e + k] = popularity[i]!;
    itemBias[i] = popularityWeight * popularity[i]!;
    if (!taken[i]) coldItems += 1;
  }
  const neighbourWeights = Float32Array.from(neighbourhood.weights, (w) => neighbourhoodWeight * w);

  return {
    userCount: data.userCount,
    itemCount: data.itemCount,
    factors: k,
    embeddingSize: e,
    userEmbeddings,
    itemEmbeddings,
    itemBias,
    itemPopularity: Float32Array.from(popularity),
    popularityWeight,
    neighbourhoodWeight,
    neighbours: hp.neighbours,
    neighbourItems: neighbourhood.items,
    neighbourWeights,
    hyperparameters: hp,
    contentFeatureNames: data.content?.featureNames ?? [],
    report: {
      seconds: (performance.now() - started) / 1000,
      interactions: userRows.column.length,
      coldItems,
      membersWithoutHistory,
      contentFeatures: data.content?.featureNames.length ?? 0,
      ...(blend ? { validation: { members: blend.members, trials: blend.trials } } : {}),
    },
  };
}
