/**
 * Confidence intervals for evaluation metrics, and paired comparisons of two models scored on
 * the same rows.
 *
 * Contract shared by the bootstrap functions:
 * - A metric is a function of a multiset of row indices (`RowMetric`): it reads the rows it is
 *   given, repeats included, and returns a number. `rowMetric` builds one from any metric of
 *   src/ml/metrics.ts that takes (scores, labels).
 * - `value` is the metric on every row, once; `low`/`high` are the percentile interval of the
 *   metric over `resamples` resamples drawn with replacement, seeded by `seed` (same seed, same
 *   interval on every machine).
 * - With `clusters` (one id per row: the member, the week), whole clusters are resampled
 *   instead of rows, so rows that share a member or a week count as one unit of evidence.
 * - A resample on which the metric is undefined (it throws, or returns NaN: an AUC drawn with
 *   one class only) is left out and counted in `undefinedResamples`; when more than half are
 *   undefined the interval would describe a different population, and the function throws.
 */
import { Random } from '../util/random';

export interface Interval {
  value: number;
  low: number;
  high: number;
}

/** Only value, low and high of an interval: what reports print and the JSON carries. */
export function plainInterval(i: Interval): Interval {
  return { value: i.value, low: i.low, high: i.high };
}

export interface BootstrapOptions {
  /** Resamples drawn (default 1000). */
  resamples?: number;
  /** Seed of the draws (default 1). */
  seed?: number;
  /** Coverage of the interval, in (0, 1) (default 0.95). */
  confidence?: number;
  /** One cluster id per row; when given, clusters are resampled as wholes. */
  clusters?: ArrayLike<number | string>;
}

export interface BootstrapInterval extends Interval {
  /** Resamples the interval was taken from. */
  resamples: number;
  undefinedResamples: number;
}

/** A metric over a multiset of row indices (repeats count again). */
export type RowMetric = (rows: ArrayLike<number>) => number;

type Numbers = ArrayLike<number>;

/** A RowMetric from a metric of (scores, labels), such as `auc` or `logLoss`. */
export function rowMetric(metric: (scores: Numbers, labels: Numbers) => number, scores: Numbers, labels: Numbers): RowMetric {
  if (scores.length !== labels.length) {
    throw new Error(`scores has ${scores.length} values but labels has ${labels.length}; they must be the same length`);
  }
  return (rows) => {
    const { s, y } = gatherRows(scores, labels, rows);
    return metric(s, y);
  };
}

/** The scores and labels of the rows listed (repeats counting again), as a resample reads them. */
export function gatherRows(scores: Numbers, labels: Numbers, rows: Numbers): { s: Float64Array; y: Float64Array } {
  const s = new Float64Array(rows.length);
  const y = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    s[i] = scores[row]!;
    y[i] = labels[row]!;
  }
  return { s, y };
}

/** A RowMetric that averages a per-row figure (a member's NDCG, a row's absolute error). */
export function meanOf(values: Numbers): RowMetric {
  return (rows) => {
    if (rows.length === 0) return NaN;
    let sum = 0;
    for (let i = 0; i < rows.length; i++) sum += values[rows[i]!]!;
    return sum / rows.length;
  };
}

interface Resampler {
  draw(random: Random): Uint32Array;
}

function checkOptions(rowCount: number, { resamples = 1000, confidence = 0.95 }: BootstrapOptions): void {
  if (!Number.isInteger(rowCount) || rowCount < 1) throw new Error(`a bootstrap needs at least one row, got ${rowCount}`);
  if (!Number.isInteger(resamples) || resamples < 10) throw new Error(`resamples must be an integer of at least 10, got ${resamples}`);
  if (!(confidence > 0 && confidence < 1)) throw new Error(`confidence must lie in (0, 1), got ${confidence}`);
}

/** Draws rows with replacement, or whole clusters with replacement when `clusters` is given. */
function resampler(rowCount: number, clusters: BootstrapOptions['clusters']): Resampler {
  if (clusters === undefined) {
    return {
      draw(random) {
        const rows = new Uint32Array(rowCount);
        for (let i = 0; i < rowCount; i++) rows[i] = random.int(rowCount);
        return rows;
      },
    };
  }
  if (clusters.length !== rowCount) throw new Error(`clusters has ${clusters.length} ids but there are ${rowCount} rows; give one id per row`);
  const byCluster = new Map<number | string, number[]>();
  for (let row = 0; row < rowCount; row++) {
    const id = clusters[row]!;
    const members = byCluster.get(id);
    if (members) members.push(row);
    else byCluster.set(id, [row]);
  }
  const groups = [...byCluster.values()];
  return {
    draw(random) {
      const rows: number[] = [];
      for (let g = 0; g < groups.length; g++) rows.push(...groups[random.int(groups.length)]!);
      return Uint32Array.from(rows);
    },
  };
}

/** The q-quantile (0 ≤ q ≤ 1) of sorted values, interpolating linearly between order statistics. */
export function quantileOfSorted(sorted: Numbers, q: number): number {
  if (sorted.length === 0) return NaN;
  const position = q * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(sorted.length - 1, lower + 1);
  const weight = position - lower;
  return sorted[lower]! * (1 - weight) + sorted[upper]! * weight;
}

function percentileInterval(value: number, draws: number[], resamples: number, confidence: number, what: string): BootstrapInterval {
  const defined = draws.filter((d) => Number.isFinite(d)).sort((a, b) => a - b);
  const undefinedResamples = resamples - defined.length;
  if (defined.length * 2 < resamples) {
    throw new Error(`${what} is undefined on ${undefinedResamples} of ${resamples} resamples; too few rows (or clusters) of one kind for an interval`);
  }
  const tail = (1 - confidence) / 2;
  return {
    value,
    low: quantileOfSorted(defined, tail),
    high: quantileOfSorted(defined, 1 - tail),
    resamples: defined.length,
    undefinedResamples,
  };
}

function allRows(rowCount: number): Uint32Array {
  return Uint32Array.from({ length: rowCount }, (_, i) => i);
}

type Figures<K extends string> = (rows: ArrayLike<number>) => Record<K, number>;

/** The figures on every row, and on each resample (NaN where a figure, or the whole call, is undefined). */
function resampleFigures<K extends string>(rowCount: number, figures: Figures<K>, options: BootstrapOptions): { values: Record<K, number>; draws: Record<K, number[]> } {
  checkOptions(rowCount, options);
  const { resamples = 1000, seed = 1 } = options;
  const values = figures(allRows(rowCount));
  const keys = Object.keys(values) as K[];
  const draws = Object.fromEntries(keys.map((key) => [key, [] as number[]])) as Record<K, number[]>;
  const random = new Random(seed);
  const draw = resampler(rowCount, options.clusters);
  for (let r = 0; r < resamples; r++) {
    let resampled: Record<K, number> | undefined;
    try {
      resampled = figures(draw.draw(random));
    } catch {
      resampled = undefined;
    }
    for (const key of keys) draws[key].push(resampled ? resampled[key] : NaN);
  }
  return { values, draws };
}

/**
 * Several figures of the same rows, each with its interval, from one set of resamples (a
 * confusion matrix counted once per resample gives precision, recall and share together).
 */
export function bootstrapFigures<K extends string>(rowCount: number, figures: Figures<K>, options: BootstrapOptions = {}): Record<K, BootstrapInterval> {
  const { values, draws } = resampleFigures(rowCount, figures, options);
  const { resamples = 1000, confidence = 0.95 } = options;
  const keys = Object.keys(values) as K[];
  return Object.fromEntries(keys.map((key) => [key, percentileInterval(values[key], draws[key], resamples, confidence, key)])) as Record<K, BootstrapInterval>;
}

/** The metric on all `rowCount` rows with its bootstrap interval. */
export function bootstrapInterval(rowCount: number, metric: RowMetric, options: BootstrapOptions = {}): BootstrapInterval {
  return bootstrapFigures(rowCount, (rows) => ({ 'the metric': metric(rows) }), options)['the metric'];
}

export interface PairedComparison {
  /** Model a's metric on the rows, with its interval. */
  a: BootstrapInterval;
  b: BootstrapInterval;
  /** a − b, with the interval of the difference over the same resamples. */
  difference: BootstrapInterval;
  /**
   * Two-sided bootstrap p-value for "no difference": twice the smaller share of resampled
   * differences on either side of 0 (at most 1).
   */
  pValue: number;
}

/**
 * Paired bootstrap of two models' metric on the same rows: each resample scores both models
 * on the same rows, so the interval of a − b reflects only how the models differ, not how the
 * rows vary. "a is better" when the whole interval of the difference lies on the better side.
 */
export function pairedBootstrap(rowCount: number, metricA: RowMetric, metricB: RowMetric, options: BootstrapOptions = {}): PairedComparison {
  const figures = (rows: ArrayLike<number>) => {
    const a = metricA(rows);
    const b = metricB(rows);
    return { 'model a': a, 'model b': b, 'the difference': a - b };
  };
  const { values, draws } = resampleFigures(rowCount, figures, options);
  const { resamples = 1000, confidence = 0.95 } = options;
  const interval = (key: keyof typeof values) => percentileInterval(values[key], draws[key], resamples, confidence, key);
  const difference = interval('the difference');
  const defined = draws['the difference'].filter((d) => Number.isFinite(d));
  const atOrBelow = defined.filter((d) => d <= 0).length / defined.length;
  const atOrAbove = defined.filter((d) => d >= 0).length / defined.length;
  return { a: interval('model a'), b: interval('model b'), difference, pValue: Math.min(1, 2 * Math.min(atOrBelow, atOrAbove)) };
}

/**
 * The metric with its interval within each slice of the rows (new members, active, declining),
 * each slice resampled on its own; `slices` gives one slice name per row. A slice on which the
 * metric is undefined (one class only) throws, naming the slice.
 */
export function intervalsBySlice(slices: ArrayLike<string>, metric: RowMetric, options: BootstrapOptions = {}): Record<string, BootstrapInterval & { rows: number }> {
  const rowsOf = new Map<string, number[]>();
  for (let row = 0; row < slices.length; row++) {
    const name = slices[row]!;
    const rows = rowsOf.get(name);
    if (rows) rows.push(row);
    else rowsOf.set(name, [row]);
  }
  const { clusters } = options;
  if (clusters !== undefined && clusters.length !== slices.length) {
    throw new Error(`clusters has ${clusters.length} ids but slices has ${slices.length}; give one of each per row`);
  }
  const result: Record<string, BootstrapInterval & { rows: number }> = {};
  for (const [name, rows] of [...rowsOf].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const within: RowMetric = (local) => metric(Array.from(local, (i) => rows[i]!));
    try {
      const sliceClusters = clusters === undefined ? undefined : rows.map((row) => clusters[row]!);
      result[name] = { ...bootstrapInterval(rows.length, within, { ...options, clusters: sliceClusters }), rows: rows.length };
    } catch (err) {
      throw new Error(`slice "${name}" (${rows.length} rows): ${(err as Error).message}`);
    }
  }
  return result;
}
