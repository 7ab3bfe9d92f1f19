/**
 * A random forest of histogram trees for a binary label.
 *
 * Contract: each tree sees `rowsPerTree` rows drawn with replacement (a bootstrap) or without,
 * and considers `featuresPerSplit` random features at each split (√d by default). A leaf holds
 * the share of positive rows that reached it; the probability is the mean over trees. Same
 * data, params and seed give the same model, bit for bit.
 */
import { Random } from '../../util/random';
import { assertTrainingData, binValidatedFeatures, DEFAULT_MAX_BINS, type TrainingData, type TrainOptions } from './data';
import { growTree } from './grow';
import { TreeEnsemble, type Tree } from './model';
import { assertBinnedMatches, assertParam, sampleWithoutReplacement, sampleWithReplacement } from './params';

export interface RandomForestParams {
  /** 60 by default. */
  trees?: number;
  /** 12 by default. */
  maxDepth?: number;
  /** 5 by default. */
  minSamplesLeaf?: number;
  /**
   * Rows each tree is grown on; min(rows, 80,000) by default, which keeps a large data set's
   * training time bounded while trees still see far more rows than they have leaves.
   */
  rowsPerTree?: number;
  /** Draw each tree's rows with replacement; true by default. */
  bootstrap?: boolean;
  /** Candidate features at each split; floor(√d) by default. */
  featuresPerSplit?: number;
  /** 64 by default. */
  maxBins?: number;
  seed?: number;
}

export const DEFAULT_ROWS_PER_TREE = 80_000;

export function trainRandomForest(data: TrainingData, params: RandomForestParams = {}, options: TrainOptions = {}): TreeEnsemble {
  assertTrainingData(data);
  const d = data.featureCount;
  const {
    trees = 60,
    maxDepth = 12,
    minSamplesLeaf = 5,
    rowsPerTree = Math.min(data.rowCount, DEFAULT_ROWS_PER_TREE),
    bootstrap = true,
    featuresPerSplit = Math.max(1, Math.floor(Math.sqrt(d))),
    maxBins = DEFAULT_MAX_BINS,
    seed = 1,
  } = params;
  assertParam('trees', trees, { integer: true, min: 1 });
  assertParam('maxDepth', maxDepth, { integer: true, min: 1, max: 30 });
  assertParam('minSamplesLeaf', minSamplesLeaf, { integer: true, min: 1 });
  assertParam('rowsPerTree', rowsPerTree, { integer: true, min: 1, max: bootstrap ? Infinity : data.rowCount });
  assertParam('featuresPerSplit', featuresPerSplit, { integer: true, min: 1, max: d });
  assertParam('seed', seed, { integer: true });

  const binned = options.binned ?? binValidatedFeatures(data, { maxBins });
  assertBinnedMatches(binned, data);
  const n = data.rowCount;
  const g = Float64Array.from(data.labels);
  const h = new Float64Array(n).fill(1);
  const importance = new Float64Array(d);
  const random = new Random(seed);
  const growOptions = {
    maxDepth,
    minSamplesLeaf,
    minChildWeight: 0,
    lambda: 0,
    gainScale: 1,
    minGain: 1e-12,
    featuresPerSplit,
    leafValue: (positives: number, rows: number) => (rows > 0 ? positives / rows : 0),
  };
  const forest: Tree[] = [];
  for (let t = 0; t < trees; t++) {
    const rows = bootstrap ? sampleWithReplacement(n, rowsPerTree, random) : sampleWithoutReplacement(n, rowsPerTree, random);
    const { feature, threshold, left, right, value } = growTree(binned, rows, g, h, growOptions, random, importance);
    forest.push({ feature, threshold, left, right, value });
  }
  return new TreeEnsemble('random-forest', d, 0, forest, importance, {
    trees,
    maxDepth,
    minSamplesLeaf,
    rowsPerTree,
    bootstrap,
    featuresPerSplit,
    maxBins: binned.maxBins,
    seed,
  });
}
