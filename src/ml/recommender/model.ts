/**
 * The recommender's data shapes: what the trainer takes, and the trained model that both the
 * ONNX export and the trainer's own scoring read, so the two cannot drift apart.
 *
 * Scoring contract (the exported graph computes exactly this, in float32), for member u whose
 * history is the item list H:
 *   score(u, i) = userEmbeddings[u] . itemEmbeddings[i] + itemBias[i]
 *               + sum over j in H of neighbourWeights[j][m] where neighbourItems[j][m] = i
 * An embedding row is [latent factors (factors values), popularity column (1 value)]:
 * - item rows end with the item's popularity s_i in [0, 1];
 * - member rows end with 0; the anonymous row (index userCount) and members without any
 *   interaction end with 1 and have zero factors, so they are ranked by popularity alone
 *   (plus the neighbourhood of whatever history is passed in);
 * - itemBias[i] = popularityWeight * s_i, and neighbourWeights are already multiplied by
 *   neighbourhoodWeight: both weights are learned on a validation split.
 */
import type { ItemContent } from './content';

export interface Interaction {
  userIndex: number;
  itemIndex: number;
  /** Strength of the evidence, > 0 (loans of the book, or a rating mapped to a weight). */
  weight: number;
}

/**
 * Interactions as three parallel columns: the same list as `Interaction[]` in about 16 bytes
 * an interaction instead of an object each (a million members' histories are some 45 million).
 */
export interface InteractionColumns {
  userIndex: Int32Array;
  itemIndex: Int32Array;
  weight: Float64Array;
}

export interface RecommenderTrainingData {
  userCount: number;
  itemCount: number;
  /** Repeated (user, item) pairs are summed into one interaction. */
  interactions: ReadonlyArray<Interaction> | InteractionColumns;
  /** Optional item content (itemCount rows); items without interactions are scored from it. */
  content?: ItemContent;
}

export interface RecommenderHyperparameters {
  /** Latent dimension k. */
  factors: number;
  /** ALS sweeps (users then items) over the data. */
  iterations: number;
  /** Confidence of an observed pair: c = 1 + alpha * weight (Hu, Koren, Volinsky 2008). */
  alpha: number;
  /**
   * Confidence w0 in (0, 1] of every unobserved pair being a 0. 1 is textbook implicit ALS;
   * lower values stop the sea of unobserved pairs from drowning sparse members' few loans
   * (Rendle et al., "Revisiting the performance of iALS", 2021).
   */
  unobservedWeight: number;
  /** L2 penalty on member factors and on item factors' distance from their content prior. */
  regularization: number;
  /** L2 penalty of the ridge regression from item content to item factors. */
  contentRegularization: number;
  /**
   * Weight of the popularity prior in the score. 'tune' picks it on a validation split of the
   * training interactions (held out per member, seeded) from POPULARITY_WEIGHT_GRID.
   */
  popularityWeight: number | 'tune';
  /** Neighbours kept per item for the neighbourhood term (0 turns the term off). */
  neighbours: number;
  /** Weight of the neighbourhood term; 'tune' picks it with the popularity weight. */
  neighbourhoodWeight: number | 'tune';
  /** Share of each member's interactions held out to tune the blend weights. */
  validationFraction: number;
  /** Seeds the factor initialisation and the validation split. */
  seed: number;
}

export const DEFAULT_HYPERPARAMETERS: RecommenderHyperparameters = {
  factors: 32,
  iterations: 10,
  alpha: 10,
  unobservedWeight: 1,
  regularization: 1,
  contentRegularization: 1,
  popularityWeight: 'tune',
  neighbours: 50,
  neighbourhoodWeight: 'tune',
  validationFraction: 0.2,
  seed: 42,
};

export const POPULARITY_WEIGHT_GRID: readonly number[] = [0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2, 3, 5];
export const NEIGHBOURHOOD_WEIGHT_GRID: readonly number[] = [0, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];

export interface BlendTrial {
  popularityWeight: number;
  neighbourhoodWeight: number;
  ndcgAt10: number;
}

export interface RecommenderTrainingReport {
  seconds: number;
  /** Distinct (member, item) pairs after summing repeats. */
  interactions: number;
  /** Items without any interaction, recommendable only through content and popularity. */
  coldItems: number;
  /** Members without any interaction, served like the anonymous member. */
  membersWithoutHistory: number;
  contentFeatures: number;
  /** Present when a blend weight was tuned: NDCG@10 of every pair tried. */
  validation?: { members: number; trials: BlendTrial[] };
}

export interface RecommenderModel {
  userCount: number;
  itemCount: number;
  factors: number;
  /** factors + 1 (the popularity column). */
  embeddingSize: number;
  /** (userCount + 1) x embeddingSize, row-major; the last row is the anonymous member. */
  userEmbeddings: Float32Array;
  /** itemCount x embeddingSize, row-major. */
  itemEmbeddings: Float32Array;
  itemBias: Float32Array;
  /**
   * s_i in [0, 1]: log(1 + distinct members) / log(1 + the largest such count); for an item
   * nobody has taken, what its content predicts (0 without content).
   */
  itemPopularity: Float32Array;
  popularityWeight: number;
  neighbourhoodWeight: number;
  /** Neighbours per item (columns of neighbourItems / neighbourWeights). */
  neighbours: number;
  /** itemCount x neighbours, row-major, strongest first; -1 where an item has fewer. */
  neighbourItems: Int32Array;
  /** Same shape; already multiplied by neighbourhoodWeight. */
  neighbourWeights: Float32Array;
  hyperparameters: RecommenderHyperparameters;
  contentFeatureNames: string[];
  report: RecommenderTrainingReport;
}

/** The row of `userEmbeddings` a member index reads: out-of-range indices mean anonymous. */
export function embeddingRow(model: Pick<RecommenderModel, 'userCount'>, userIndex: number): number {
  return Number.isInteger(userIndex) && userIndex >= 0 && userIndex < model.userCount ? userIndex : model.userCount;
}
