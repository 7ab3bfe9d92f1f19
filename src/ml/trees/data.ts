/**
 * Training data for the tree learners, and its quantile binning.
 *
 * Contract: features are row-major float32, `rowCount × featureCount`, every value finite;
 * labels are 0/1, one per row. `binFeatures` turns each feature into at most `maxBins` bins
 * once per data set, so every node of every tree only adds rows into small histograms.
 *
 * A bin boundary is a float32 threshold t, and a value x falls in bin k when k is the first
 * boundary with x <= t. A split "bin <= k" is therefore exactly the test `x <= t_k` that
 * prediction and the exported ONNX graph (BRANCH_LEQ on float32) apply: training, predictProba
 * and onnxruntime route every row the same way.
 */

export interface TrainingData {
  /** Row-major, `rowCount × featureCount` values. */
  features: Float32Array;
  /** 0 or 1, one per row. */
  labels: Uint8Array;
  rowCount: number;
  featureCount: number;
  /** Only used to make error messages name the feature. */
  featureNames?: readonly string[];
}

export interface BinnedFeatures {
  rowCount: number;
  featureCount: number;
  /** Feature-major: the bin of row r for feature f is `bins[f * rowCount + r]`. */
  bins: Uint8Array;
  /** Per feature, strictly increasing float32 boundaries; the feature has `length + 1` bins. */
  thresholds: Float32Array[];
  maxBins: number;
}

export interface TrainOptions {
  /** Bins from `binFeatures` of the same data, so several models share one binning pass. */
  binned?: BinnedFeatures;
}

export const DEFAULT_MAX_BINS = 64;
/** Bins are stored as bytes. */
export const MAX_BINS_LIMIT = 256;

function featureLabel(feature: number, names?: readonly string[]): string {
  const name = names?.[feature];
  return name === undefined ? `feature ${feature}` : `feature ${feature} (${name})`;
}

/**
 * Throws when a value is NaN or infinite, naming its row and feature: the learners have no
 * notion of a missing value, and a silently routed NaN would make training and ONNX disagree.
 */
export function assertFiniteFeatures(
  features: Float32Array,
  rowCount: number,
  featureCount: number,
  featureNames?: readonly string[],
): void {
  for (let i = 0; i < features.length; i++) {
    const v = features[i]!;
    if (!Number.isFinite(v)) {
      const row = Math.floor(i / featureCount);
      const feature = i - row * featureCount;
      const what = Number.isNaN(v) ? 'NaN' : String(v);
      throw new Error(
        `features: row ${row}, ${featureLabel(feature, featureNames)} is ${what}; tree ensembles need every value present and finite (of ${rowCount} rows)`,
      );
    }
  }
}

/** Checks the shape of a feature matrix against the row and feature counts it claims. */
export function assertFeatureShape(features: Float32Array, rowCount: number, featureCount: number): void {
  if (!Number.isInteger(rowCount) || rowCount < 0) throw new Error(`row count must be a non-negative integer, got ${rowCount}`);
  if (!Number.isInteger(featureCount) || featureCount < 1) {
    throw new Error(`feature count must be a positive integer, got ${featureCount}`);
  }
  if (features.length !== rowCount * featureCount) {
    throw new Error(
      `features has ${features.length} values but ${rowCount} rows × ${featureCount} features need ${rowCount * featureCount}`,
    );
  }
}

/** Validates a whole training set; every trainer calls this before touching the data. */
export function assertTrainingData(data: TrainingData): void {
  assertFeatureShape(data.features, data.rowCount, data.featureCount);
  if (data.rowCount < 2) throw new Error(`training needs at least 2 rows, got ${data.rowCount}`);
  if (data.labels.length !== data.rowCount) {
    throw new Error(`labels has ${data.labels.length} values but features has ${data.rowCount} rows`);
  }
  if (data.featureNames !== undefined && data.featureNames.length !== data.featureCount) {
    throw new Error(`featureNames has ${data.featureNames.length} names but the data has ${data.featureCount} features`);
  }
  for (let r = 0; r < data.rowCount; r++) {
    const y = data.labels[r]!;
    if (y !== 0 && y !== 1) throw new Error(`labels: row ${r} is ${y}; labels must be 0 or 1`);
  }
  assertFiniteFeatures(data.features, data.rowCount, data.featureCount, data.featureNames);
}

/**
 * Boundaries between quantile bins of one feature's sorted values. A cut goes between two
 * neighbouring distinct values a < b at a float32 t with a <= t < b, so no training value
 * changes side by the rounding to float32.
 */
function quantileThresholds(sorted: Float32Array, maxBins: number): Float32Array {
  const n = sorted.length;
  const values: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = sorted[i]!;
    if (values.length > 0 && values[values.length - 1] === v) counts[counts.length - 1]! += 1;
    else {
      values.push(v);
      counts.push(1);
    }
  }
  const cuts: number[] = [];
  const cutBetween = (i: number): number => {
    const a = values[i]!;
    const b = values[i + 1]!;
    const mid = Math.fround((a + b) / 2);
    return mid >= a && mid < b ? mid : a;
  };
  if (values.length <= maxBins) {
    for (let i = 0; i + 1 < values.length; i++) cuts.push(cutBetween(i));
    return Float32Array.from(cuts);
  }
  // Greedy equal-frequency cuts: a heavy value that spans several quantiles gets one cut.
  let k = 1;
  let cumulative = 0;
  for (let i = 0; i + 1 < values.length && cuts.length < maxBins - 1; i++) {
    cumulative += counts[i]!;
    if (cumulative >= (k * n) / maxBins) {
      cuts.push(cutBetween(i));
      while (k < maxBins && (k * n) / maxBins <= cumulative) k++;
    }
  }
  return Float32Array.from(cuts);
}

/** Index of the first threshold t with x <= t, i.e. the bin of x. */
export function binOf(thresholds: Float32Array, x: number): number {
  let lo = 0;
  let hi = thresholds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x <= thresholds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export interface BinningOptions {
  /** At most this many bins per feature (2..256); 64 by default. */
  maxBins?: number;
  /** Quantiles are estimated from at most this many evenly spaced rows; 200,000 by default. */
  sampleRows?: number;
}

/**
 * Bins every feature of a validated data set. Deterministic: the quantile sample takes evenly
 * spaced rows, not random ones. Reuse the result for several models trained on the same rows.
 */
export function binFeatures(data: TrainingData, options: BinningOptions = {}): BinnedFeatures {
  assertTrainingData(data);
  return binValidatedFeatures(data, options);
}

/** `binFeatures` for data the caller has already passed through `assertTrainingData`. */
export function binValidatedFeatures(data: TrainingData, { maxBins = DEFAULT_MAX_BINS, sampleRows = 200_000 }: BinningOptions = {}): BinnedFeatures {
  if (!Number.isInteger(maxBins) || maxBins < 2 || maxBins > MAX_BINS_LIMIT) {
    throw new Error(`maxBins must be an integer from 2 to ${MAX_BINS_LIMIT}, got ${maxBins}`);
  }
  if (!Number.isInteger(sampleRows) || sampleRows < 1) throw new Error(`sampleRows must be a positive integer, got ${sampleRows}`);
  const { features, rowCount: n, featureCount: d } = data;
  const step = Math.max(1, n / Math.max(1, sampleRows));
  const sampleSize = Math.min(n, Math.floor(n / step));
  const column = new Float32Array(sampleSize);
  const bins = new Uint8Array(n * d);
  const thresholds: Float32Array[] = [];
  for (let f = 0; f < d; f++) {
    for (let i = 0; i < sampleSize; i++) column[i] = features[Math.floor(i * step) * d + f]!;
    column.sort();
    const cuts = quantileThresholds(column, maxBins);
    thresholds.push(cuts);
    const out = bins.subarray(f * n, (f + 1) * n);
    for (let r = 0; r < n; r++) out[r] = binOf(cuts, features[r * d + f]!);
  }
  return { rowCount: n, featureCount: d, bins, thresholds, maxBins };
}
