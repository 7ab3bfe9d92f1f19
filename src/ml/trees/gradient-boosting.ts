/**
 * Binary log-loss gradient boosting over histogram trees.
 *
 * Contract: each round fits one tree to the gradients g = p − y and hessians h = p(1 − p) of
 * the current log-odds, on a subsample of rows, with Newton leaves −Σg / (Σh + λ) scaled by the
 * learning rate. The model starts at the training log-odds of class 1. Same data, params and
 * seed give the same model, bit for bit.
 */
import { Random } from '../../util/random';
import { assertTrainingData, binValidatedFeatures, DEFAULT_MAX_BINS, type TrainingData, type TrainOptions } from './data';
import { growTree, leafOfBinnedRow } from './grow';
import { TreeEnsemble, type Tree } from './model';
import { assertBinnedMatches, assertParam, sampleWithoutReplacement } from './params';

export interface GradientBoostingParams {
  /** Boosting rounds; 200 by default. */
  trees?: number;
  /** 4 by default. */
  maxDepth?: number;
  /** 0.1 by default. */
  learningRate?: number;
  /** L2 penalty on leaf values; 1 by default. */
  lambda?: number;
  /** 20 by default. */
  minSamplesLeaf?: number;
  /** Smallest hessian sum of a child; 1e-3 by default. */
  minChildWeight?: number;
  /** Share of rows drawn (without replacement) for each tree; 1 by default. */
  subsample?: number;
  /** Share of features that are candidates at each split; 1 by default. */
  featureFraction?: number;
  /** 64 by default. */
  maxBins?: number;
  seed?: number;
}

const PROBABILITY_FLOOR = 1e-6;

export function trainGradientBoosting(data: TrainingData, params: GradientBoostingParams = {}, options: TrainOptions = {}): TreeEnsemble {
  const {
    trees = 200,
    maxDepth = 4,
    learningRate = 0.1,
    lambda = 1,
    minSamplesLeaf = 20,
    minChildWeight = 1e-3,
    subsample = 1,
    featureFraction = 1,
    maxBins = DEFAULT_MAX_BINS,
    seed = 1,
  } = params;
  assertTrainingData(data);
  assertParam('trees', trees, { integer: true, min: 1 });
  assertParam('maxDepth', maxDepth, { integer: true, min: 1, max: 30 });
  assertParam('learningRate', learningRate, { min: 0, exclusiveMin: true, max: 1 });
  assertParam('lambda', lambda, { min: 0 });
  assertParam('minSamplesLeaf', minSamplesLeaf, { integer: true, min: 1 });
  assertParam('minChildWeight', minChildWeight, { min: 0 });
  assertParam('subsample', subsample, { min: 0, exclusiveMin: true, max: 1 });
  assertParam('featureFraction', featureFraction, { min: 0, exclusiveMin: true, max: 1 });
  assertParam('seed', seed, { integer: true });

  const binned = options.binned ?? binValidatedFeatures(data, { maxBins });
  assertBinnedMatches(binned, data);
  const { rowCount: n, featureCount: d } = data;
  const labels = data.labels;
  const random = new Random(seed);

  let positives = 0;
  for (let r = 0; r < n; r++) positives += labels[r]!;
  const prior = Math.min(1 - PROBABILITY_FLOOR, Math.max(PROBABILITY_FLOOR, positives / n));
  const baseScore = Math.fround(Math.log(prior / (1 - prior)));

  const rawScore = new Float64Array(n).fill(baseScore);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  const importance = new Float64Array(d);
  const sampleSize = Math.max(1, Math.round(subsample * n));
  const featuresPerSplit = Math.max(1, Math.round(featureFraction * d));
  const growOptions = {
    maxDepth,
    minSamplesLeaf,
    minChildWeight,
    lambda,
    gainScale: 0.5,
    minGain: 1e-12,
    featuresPerSplit,
    leafValue: (sumG: number, sumH: number) => (-learningRate * sumG) / (sumH + lambda),
  };
  const allRows = Int32Array.from({ length: n }, (_, i) => i);
  const ensemble: Tree[] = [];
  for (let t = 0; t < trees; t++) {
    for (let r = 0; r < n; r++) {
      const p = 1 / (1 + Math.exp(-rawScore[r]!));
      g[r] = p - labels[r]!;
      h[r] = Math.max(p * (1 - p), 1e-16);
    }
    const rows = sampleSize < n ? sampleWithoutReplacement(n, sampleSize, random) : allRows.slice();
    const grown = growTree(binned, rows, g, h, growOptions, random, importance);
    for (let r = 0; r < n; r++) rawScore[r]! += grown.value[leafOfBinnedRow(grown, binned, r)]!;
    const { feature, threshold, left, right, value } = grown;
    ensemble.push({ feature, threshold, left, right, value });
  }
  return new TreeEnsemble('gradient-boosting', d, baseScore, ensemble, importance, {
    trees,
    maxDepth,
    learningRate,
    lambda,
    minSamplesLeaf,
    minChildWeight,
    subsample,
    featureFraction,
    maxBins: binned.maxBins,
    seed,
  });
}
