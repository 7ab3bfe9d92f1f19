/**
 * Live quality of a model version, per window (day, week, 30 days), each figure with a 95%
 * interval, computed from day summaries (see windows.ts) rather than from the records.
 *
 * Classifiers: labelled predictions go into a fixed-bin histogram of scores (1,000 bins over
 * [0, 1]) by label, plus the exact sums each metric needs:
 * - AUC from the histogram, scores in one bin counting as ties (½). Its error against the
 *   exact AUC is at most Σ_b pos_b·neg_b / (2·P·N), reported as `aucBinError`. The interval is
 *   DeLong's, on the same binned scores.
 * - Log loss: exact (the mean of per-row losses from src/ml/metrics), normal interval.
 * - Calibration error (ECE over 10 equal bins, as src/ml/metrics computes it): exact, since the
 *   10 bins are unions of the 1,000; interval by a Poisson bootstrap of the histogram with a
 *   seeded generator (each cell's count redrawn as Poisson(count)).
 * - Precision and recall at the served threshold: exact confusion counts, Wilson intervals.
 * Outcome ratio (`OutcomeRatioWindows`): positives observed over positives the probabilities
 * expect (Σ p), 1 when the model is calibrated in the large, above 1 when outcomes have become
 * likelier than the model knows (its inputs may not have moved at all). Its windows hold
 * outcomes by the day they were settled, not the day they became known: an on-time return is
 * known when the loan comes back, a late one only after it falls due, so windows by the day
 * known hold the late outcomes of closed days (Christmas) without their on-time ones. Interval:
 * the Wilson interval of the observed rate over the expected rate, conservative (the binomial
 * variance at the mean rate bounds that of the heterogeneous sum).
 * Before labels arrive, `estimateClassifier` gives NannyML's CBPE estimate from the same kind
 * of histogram of all predictions: a calibrated probability p counts as p of a positive and
 * 1 − p of a negative, so the expected confusion matrix at the threshold gives precision and
 * recall, and the expected ROC gives AUC. It is right only as far as the probabilities are
 * calibrated, and is labelled `estimated` wherever it is shown.
 *
 * Recommendations: per member list, hit rate and NDCG at k (src/ml/ranking-metrics), averaged
 * over members with at least one relevant item; Wilson and normal intervals.
 * Demand: mean absolute error of the forecast and of the seasonal naive forecast (the same
 * week a year before) on the same series-weeks; their ratio with a delta-method interval
 * (below 1: the model beats seasonal naive).
 * Segments: the share of members whose segment is unchanged since their previous assignment.
 */
import { logLoss } from '../ml/metrics';
import { hitRateAtK, ndcgAtK } from '../ml/ranking-metrics';
import { Random } from '../util/random';
import { seasonalFactor, type OutcomeSeasons } from './seasons';
import { weekStart } from '../util/dates';
import { normalInterval, normalQuantile, wilsonInterval, zOf, type Interval } from './statistics';
import { DailyWindows, type QualityWindow, type Summary } from './windows';

export const SCORE_BINS = 1_000;
const CALIBRATION_BINS = 10;
const BOOTSTRAP_REPLICATES = 200;

function scoreBin(p: number): number {
  return Math.min(SCORE_BINS - 1, Math.floor(p * SCORE_BINS));
}

function checkProbability(p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`a probability must lie in [0, 1], got ${p}`);
}

/** Adds every number and every Float64Array of `from` into `into`: the merge of any summary made of sums. */
function mergeSums<S extends object>(into: S, from: S): void {
  for (const key of Object.keys(from) as Array<keyof S>) {
    const sum = into[key];
    const part = from[key];
    if (typeof sum === 'number' && typeof part === 'number') into[key] = (sum + part) as S[keyof S];
    else if (sum instanceof Float64Array && part instanceof Float64Array) for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] ?? 0) + (part[i] ?? 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Histogram AUC, shared by the labelled metric and the CBPE estimate.

/**
 * AUC of a binned score: weights of positives and negatives per bin, bins ascending by score,
 * a bin counting as a tie. NaN when either class has no weight.
 */
export function histogramAuc(positives: ArrayLike<number>, negatives: ArrayLike<number>): { auc: number; tieError: number; variance: number } {
  let P = 0;
  let N = 0;
  for (let b = 0; b < positives.length; b++) {
    P += positives[b] ?? 0;
    N += negatives[b] ?? 0;
  }
  if (P === 0 || N === 0) return { auc: NaN, tieError: NaN, variance: NaN };
  // DeLong's placements: a positive in bin b beats the negatives below b and ties with those in b.
  let negativesBelow = 0;
  let wins = 0;
  let ties = 0;
  const v10: number[] = [];
  for (let b = 0; b < positives.length; b++) {
    const pos = positives[b] ?? 0;
    const neg = negatives[b] ?? 0;
    wins += pos * (negativesBelow + neg / 2);
    ties += pos * neg;
    v10.push((negativesBelow + neg / 2) / N);
    negativesBelow += neg;
  }
  const auc = wins / (P * N);
  let positivesAbove = 0;
  const v01 = new Array<number>(positives.length).fill(0);
  for (let b = positives.length - 1; b >= 0; b--) {
    v01[b] = (positivesAbove + (positives[b] ?? 0) / 2) / P;
    positivesAbove += positives[b] ?? 0;
  }
  let s10 = 0;
  let s01 = 0;
  for (let b = 0; b < positives.length; b++) {
    s10 += (positives[b] ?? 0) * ((v10[b] ?? 0) - auc) ** 2;
    s01 += (negatives[b] ?? 0) * ((v01[b] ?? 0) - auc) ** 2;
  }
  const variance = (P > 1 ? s10 / (P - 1) / P : 0) + (N > 1 ? s01 / (N - 1) / N : 0);
  return { auc, tieError: ties / (2 * P * N), variance };
}

// ---------------------------------------------------------------------------------------------
// Classifiers with labels.

export interface ClassifierSummary {
  positives: Float64Array;
  negatives: Float64Array;
  /** Σ p per bin (positives and negatives together), for the calibration bins' mean prediction. */
  probabilitySums: Float64Array;
  logLossSum: number;
  logLossSquares: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
}

export interface LabelledPrediction {
  probability: number;
  label: 0 | 1;
}

function classifierSummary(threshold: number): Summary<ClassifierSummary, LabelledPrediction> {
  return {
    empty: () => ({
      positives: new Float64Array(SCORE_BINS),
      negatives: new Float64Array(SCORE_BINS),
      probabilitySums: new Float64Array(SCORE_BINS),
      logLossSum: 0,
      logLossSquares: 0,
      truePositives: 0,
      falsePositives: 0,
      falseNegatives: 0,
      trueNegatives: 0,
    }),
    add(summary, { probability, label }) {
      checkProbability(probability);
      const bin = scoreBin(probability);
      if (label === 1) summary.positives[bin] = (summary.positives[bin] ?? 0) + 1;
      else summary.negatives[bin] = (summary.negatives[bin] ?? 0) + 1;
      summary.probabilitySums[bin] = (summary.probabilitySums[bin] ?? 0) + probability;
      const loss = logLoss([probability], [label]);
      summary.logLossSum += loss;
      summary.logLossSquares += loss * loss;
      const called = probability >= threshold;
      if (called && label === 1) summary.truePositives += 1;
      else if (called) summary.falsePositives += 1;
      else if (label === 1) summary.falseNegatives += 1;
      else summary.trueNegatives += 1;
    },
    merge: mergeSums,
  };
}

/** ECE over 10 equal-width bins from the fine histogram (counts may be bootstrap weights). */
function calibrationErrorOf(positives: ArrayLike<number>, negatives: ArrayLike<number>, probabilitySums: ArrayLike<number>): number {
  const perBin = SCORE_BINS / CALIBRATION_BINS;
  let total = 0;
  let error = 0;
  for (let c = 0; c < CALIBRATION_BINS; c++) {
    let count = 0;
    let positive = 0;
    let predicted = 0;
    for (let b = c * perBin; b < (c + 1) * perBin; b++) {
      const pos = positives[b] ?? 0;
      const neg = negatives[b] ?? 0;
      count += pos + neg;
      positive += pos;
      predicted += probabilitySums[b] ?? 0;
    }
    total += count;
    if (count > 0) error += Math.abs(predicted - positive);
  }
  return total > 0 ? error / total : NaN;
}

/** The percentile interval of bootstrap replicates (non-finite replicates left out). */
function percentileInterval(value: number, replicates: readonly number[], confidence = 0.95): Interval {
  const values = replicates.filter(Number.isFinite).sort((a, b) => a - b);
  if (values.length === 0) return { value, low: NaN, high: NaN };
  const tail = (1 - confidence) / 2;
  const at = (q: number) => values[Math.round(q * (values.length - 1))] ?? NaN;
  return { value, low: at(tail), high: at(1 - tail) };
}

/**
 * Poisson-bootstrap replicates of a histogram statistic (seeded, so reproducible): each bin's
 * counts redrawn as Poisson(count), its probability sum scaled with them.
 */
function poissonReplicates<T>(bins: { counts: readonly (ArrayLike<number>)[]; probabilitySums: ArrayLike<number> }, statistic: (counts: Float64Array[], sums: Float64Array) => T, seed: number): T[] {
  const random = new Random(seed);
  const replicates: T[] = [];
  for (let r = 0; r < BOOTSTRAP_REPLICATES; r++) {
    const counts = bins.counts.map(() => new Float64Array(SCORE_BINS));
    const sums = new Float64Array(SCORE_BINS);
    for (let b = 0; b < SCORE_BINS; b++) {
      let before = 0;
      let after = 0;
      bins.counts.forEach((source, i) => {
        const n = source[b] ?? 0;
        if (n === 0) return;
        const drawn = random.poisson(n);
        const target = counts[i];
        if (target) target[b] = drawn;
        before += n;
        after += drawn;
      });
      if (before > 0) sums[b] = ((bins.probabilitySums[b] ?? 0) / before) * after;
    }
    replicates.push(statistic(counts, sums));
  }
  return replicates;
}

export interface ClassifierQuality {
  rows: number;
  positives: number;
  auc: Interval;
  /** Most the binned AUC can differ from the exact one. */
  aucBinError: number;
  logLoss: Interval;
  calibrationError: Interval;
  precision: Interval;
  recall: Interval;
}

/**
 * ModelOutcomeRateShift (monitoring/alerts.yml) fires when the week's outcome ratio (observed
 * positives over the Σ p the served probabilities expected) lies above `above` or below
 * `below` across its whole 95% interval: the outcomes have become likelier, or rarer, than the
 * model knows, as when members return loans late more often at unchanged features.
 */
export const OUTCOME_RATIO_BOUNDS = { above: 1.25, below: 0.8 } as const;

/** Observed positives over expected (Σ p) of `rows` labelled predictions, with its 95% interval; NaN when nothing is expected. */
export function outcomeRatio(positives: number, rows: number, expected: number): Interval {
  if (!(expected > 0) || rows === 0) return { value: NaN, low: NaN, high: NaN };
  const rate = wilsonInterval(positives, rows);
  const scale = rows / expected;
  return { value: rate.value * scale, low: rate.low * scale, high: rate.high * scale };
}

function classifierQuality(summary: ClassifierSummary, seed: number): ClassifierQuality {
  const positives = summary.truePositives + summary.falseNegatives;
  const rows = positives + summary.falsePositives + summary.trueNegatives;
  const { auc, tieError, variance } = histogramAuc(summary.positives, summary.negatives);
  const meanLoss = rows > 0 ? summary.logLossSum / rows : NaN;
  const lossVariance = rows > 1 ? (summary.logLossSquares - rows * meanLoss * meanLoss) / (rows - 1) : NaN;
  const ece = calibrationErrorOf(summary.positives, summary.negatives, summary.probabilitySums);
  const calibrationError = percentileInterval(
    ece,
    poissonReplicates(
      { counts: [summary.positives, summary.negatives], probabilitySums: summary.probabilitySums },
      ([pos = new Float64Array(0), neg = new Float64Array(0)], sums) => calibrationErrorOf(pos, neg, sums),
      seed,
    ),
  );
  return {
    rows,
    positives,
    auc: Number.isNaN(auc) ? { value: NaN, low: NaN, high: NaN } : normalInterval(auc, Math.sqrt(variance), 0.95, 0, 1),
    aucBinError: tieError,
    logLoss: rows > 1 ? normalInterval(meanLoss, Math.sqrt(lossVariance / rows), 0.95, 0) : { value: meanLoss, low: NaN, high: NaN },
    calibrationError,
    precision: wilsonInterval(summary.truePositives, summary.truePositives + summary.falsePositives),
    recall: wilsonInterval(summary.truePositives, positives),
  };
}

/** Labelled predictions of one classifier version, with the threshold it serves at. */
export class ClassifierQualityWindows {
  private readonly windows: DailyWindows<ClassifierSummary, LabelledPrediction>;

  constructor(readonly threshold: number, private readonly seed = 1) {
    checkProbability(threshold);
    this.windows = new DailyWindows(classifierSummary(threshold));
  }

  /** Adds a prediction whose outcome became known on `day`. */
  add(day: string, prediction: LabelledPrediction): void {
    this.windows.add(day, prediction);
  }

  quality(asOf: string, window: QualityWindow): ClassifierQuality {
    return classifierQuality(this.windows.window(asOf, window), this.seed);
  }
}

interface OutcomeSums {
  rows: number;
  positives: number;
  expected: number;
}

/** A labelled prediction with the positives it expects: its probability times its season's factor. */
interface ExpectedOutcome {
  label: 0 | 1;
  expected: number;
}

const outcomeSums: Summary<OutcomeSums, ExpectedOutcome> = {
  empty: () => ({ rows: 0, positives: 0, expected: 0 }),
  add(sums, { label, expected }) {
    sums.rows += 1;
    sums.positives += label;
    sums.expected += expected;
  },
  merge: mergeSums,
};

/**
 * Labelled predictions by the day their outcome was settled, for the outcome ratio. With the
 * version's `seasons` (seasons.ts), each prediction expects p times the factor of the week it
 * is settled in, so the ratio is against what that week of the year usually shows.
 */
export class OutcomeRatioWindows {
  private readonly windows = new DailyWindows<OutcomeSums, ExpectedOutcome>(outcomeSums);
  /** Outcomes known before the day they are settled, held until the clock reaches it. */
  private waiting: Array<{ day: string; prediction: ExpectedOutcome }> = [];

  constructor(private readonly seasons: OutcomeSeasons | null = null) {}

  add(settledOn: string, prediction: LabelledPrediction): void {
    checkProbability(prediction.probability);
    this.waiting.push({ day: settledOn, prediction: { label: prediction.label, expected: prediction.probability * seasonalFactor(this.seasons, settledOn) } });
  }

  quality(asOf: string, window: QualityWindow): { rows: number; outcomeRatio: Interval } {
    const settled = this.waiting.filter((w) => w.day <= asOf).sort((a, b) => a.day.localeCompare(b.day));
    this.waiting = this.waiting.filter((w) => w.day > asOf);
    for (const { day, prediction } of settled) this.windows.add(day, prediction);
    const sums = this.windows.window(asOf, window);
    return { rows: sums.rows, outcomeRatio: outcomeRatio(sums.positives, sums.rows, sums.expected) };
  }
}

// ---------------------------------------------------------------------------------------------
// What a week of live outcomes is compared with: ModelQualityBelowOffline's floor.

/**
 * A held-out metric over the week-long windows of the held-out rows (by the week each outcome
 * is settled in), stored in a version's metadata as `metrics.heldOutWeeks[metric]`. A live week
 * is one such window, not the pooled held-out rows: the pooled figure also ranks rows of
 * different weeks against each other, and a week's figure varies from week to week by more
 * than the pooled one's interval says.
 */
export interface HeldOutWeeks {
  /** Weeks with both outcomes among their rows. */
  weeks: number;
  /** The weeks' mean figure. */
  mean: number;
  /** The standard deviation of the weeks' figures. */
  sd: number;
  /** The root mean square of the weeks' own standard errors (DeLong's for AUC): the part of `sd` that sampling alone gives. */
  samplingSd: number;
}

/** ModelQualityBelowOffline's tolerance: the most a live figure may fall short of the offline one (the project's "live equals offline" bound). */
export const QUALITY_TOLERANCE = 0.02;
/**
 * Weekly windows one false ModelQualityBelowOffline per version and metric may stand for, at
 * 5%: a year. The rule judges a new week every day, and a 95% interval checked on every week
 * of a year falls below the truth by chance on about one week in 40 (the drift rules divide
 * their α among a year of verdicts for the same reason, thresholds.ts).
 */
export const QUALITY_FAMILY_WEEKS = 52;
const QUALITY_ALPHA = 0.05;
/**
 * AUC of each week of held-out rows, `settledOn(i)` the day row i's outcome is settled. Weeks
 * with fewer rows than half the median week's are left out: the held-out window's edges (only
 * the short loans settled yet, or only the renewed ones still out) are not weeks of the library
 * as it lives. Null when fewer than two weeks are left with both outcomes.
 */
export function heldOutWeeklyAuc(scores: ArrayLike<number>, labels: ArrayLike<number>, settledOn: (i: number) => string): HeldOutWeeks | null {
  const byWeek = new Map<string, { positives: Float64Array; negatives: Float64Array }>();
  for (let i = 0; i < scores.length; i++) {
    const probability = scores[i] ?? NaN;
    checkProbability(probability);
    const week = weekStart(settledOn(i));
    let bins = byWeek.get(week);
    if (!bins) byWeek.set(week, (bins = { positives: new Float64Array(SCORE_BINS), negatives: new Float64Array(SCORE_BINS) }));
    const histogram = labels[i] === 1 ? bins.positives : bins.negatives;
    const bin = scoreBin(probability);
    histogram[bin] = (histogram[bin] ?? 0) + 1;
  }
  const rowsOf = (bins: { positives: Float64Array; negatives: Float64Array }) => bins.positives.reduce((a, b) => a + b, 0) + bins.negatives.reduce((a, b) => a + b, 0);
  const sizes = [...byWeek.values()].map(rowsOf).sort((a, b) => a - b);
  const least = (sizes[Math.floor(sizes.length / 2)] ?? 0) / 2;
  const figures = [...byWeek.values()]
    .filter((bins) => rowsOf(bins) >= least)
    .map((bins) => histogramAuc(bins.positives, bins.negatives))
    .filter((f) => Number.isFinite(f.auc) && Number.isFinite(f.variance));
  if (figures.length < 2) return null;
  const mean = figures.reduce((sum, f) => sum + f.auc, 0) / figures.length;
  const sd = Math.sqrt(figures.reduce((sum, f) => sum + (f.auc - mean) ** 2, 0) / (figures.length - 1));
  const samplingSd = Math.sqrt(figures.reduce((sum, f) => sum + f.variance, 0) / figures.length);
  return { weeks: figures.length, mean, sd, samplingSd };
}

/**
 * The level ModelQualityBelowOffline compares the upper end of a live week's 95% interval with
 * (monitoring/alerts.yml). Under "the version is as good as on its held-out weeks", a live
 * week's figure lies about the weeks' mean, off by the week's sampling error and by the weeks'
 * real differences (season, the mix of loans due): together the weeks' sd, or their sampling sd
 * when the weeks differ by less than sampling alone gives. The rule should fire only when the
 * live figure lies more than QUALITY_TOLERANCE below the mean by z of α / QUALITY_FAMILY_WEEKS
 * (one-sided) such sds. The live bound already adds 1.96 of its own sampling error, which at the
 * held-out weeks' size is their sampling sd, so the floor adds it back: a live week larger than
 * a held-out week is judged a little more strictly, a smaller one (a run's first days) more
 * leniently. A version without `heldOutWeeks` is compared with its pooled held-out figure less
 * the tolerance.
 */
export function qualityFloor(offline: number, weeks?: HeldOutWeeks): number {
  if (!weeks) return offline - QUALITY_TOLERANCE;
  const z = normalQuantile(1 - QUALITY_ALPHA / QUALITY_FAMILY_WEEKS);
  return weeks.mean - QUALITY_TOLERANCE - z * Math.max(weeks.sd, weeks.samplingSd) + zOf(0.95) * weeks.samplingSd;
}

/** A metadata's `metrics.heldOutWeeks`, by metric, keeping only well-formed entries. */
export function heldOutWeeksOf(raw: unknown): Record<string, HeldOutWeeks> {
  if (!raw || typeof raw !== 'object') return {};
  const entries = Object.entries(raw as Record<string, unknown>).filter((entry): entry is [string, HeldOutWeeks] => {
    const w = entry[1] as Partial<HeldOutWeeks> | null;
    return !!w && [w.weeks, w.mean, w.sd, w.samplingSd].every((x) => typeof x === 'number' && Number.isFinite(x)) && (w.weeks ?? 0) >= 2;
  });
  return Object.fromEntries(entries);
}

// ---------------------------------------------------------------------------------------------
// Classifiers before labels: CBPE.

export interface ScoreSummary {
  counts: Float64Array;
  probabilitySums: Float64Array;
}

const scoreSummary: Summary<ScoreSummary, number> = {
  empty: () => ({ counts: new Float64Array(SCORE_BINS), probabilitySums: new Float64Array(SCORE_BINS) }),
  add(summary, probability) {
    checkProbability(probability);
    const bin = scoreBin(probability);
    summary.counts[bin] = (summary.counts[bin] ?? 0) + 1;
    summary.probabilitySums[bin] = (summary.probabilitySums[bin] ?? 0) + probability;
  },
  merge: mergeSums,
};

export interface EstimatedClassifierQuality {
  estimated: true;
  rows: number;
  auc: Interval;
  precision: Interval;
  recall: Interval;
}

/**
 * CBPE on a histogram of served probabilities: bin b holds Σp expected positives and
 * count − Σp expected negatives. Predictions in bins at or above the threshold's bin are
 * called positive, which is exactly `p >= threshold` when the threshold is a multiple of 0.001.
 */
function cbpe(counts: ArrayLike<number>, sums: ArrayLike<number>, threshold: number): { auc: number; precision: number; recall: number } {
  const expectedPositives = Array.from({ length: SCORE_BINS }, (_, b) => sums[b] ?? 0);
  const expectedNegatives = Array.from({ length: SCORE_BINS }, (_, b) => Math.max(0, (counts[b] ?? 0) - (sums[b] ?? 0)));
  const thresholdBin = scoreBin(threshold);
  let tp = 0;
  let fp = 0;
  let positives = 0;
  for (let b = 0; b < SCORE_BINS; b++) {
    positives += expectedPositives[b] ?? 0;
    if (b >= thresholdBin) {
      tp += expectedPositives[b] ?? 0;
      fp += expectedNegatives[b] ?? 0;
    }
  }
  return { auc: histogramAuc(expectedPositives, expectedNegatives).auc, precision: tp / (tp + fp), recall: tp / positives };
}

/** All predictions of one classifier version, for the CBPE estimate before labels arrive. */
export class EstimatedQualityWindows {
  private readonly windows = new DailyWindows<ScoreSummary, number>(scoreSummary);

  constructor(readonly threshold: number, private readonly seed = 1) {
    checkProbability(threshold);
  }

  /** Adds a served probability, on the day it was served. */
  add(day: string, probability: number): void {
    this.windows.add(day, probability);
  }

  estimate(asOf: string, window: QualityWindow): EstimatedClassifierQuality {
    const summary = this.windows.window(asOf, window);
    const rows = summary.counts.reduce((a, b) => a + b, 0);
    const point = cbpe(summary.counts, summary.probabilitySums, this.threshold);
    const replicates = poissonReplicates({ counts: [summary.counts], probabilitySums: summary.probabilitySums }, ([counts = new Float64Array(0)], sums) => cbpe(counts, sums, this.threshold), this.seed);
    return {
      estimated: true,
      rows,
      auc: percentileInterval(point.auc, replicates.map((r) => r.auc)),
      precision: percentileInterval(point.precision, replicates.map((r) => r.precision)),
      recall: percentileInterval(point.recall, replicates.map((r) => r.recall)),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Recommendations, demand, segments: sums of per-case values.

interface MeanSummary {
  n: number;
  sum: number;
  squares: number;
}

const meanSummary: Summary<MeanSummary, number> = {
  empty: () => ({ n: 0, sum: 0, squares: 0 }),
  add(summary, value) {
    summary.n += 1;
    summary.sum += value;
    summary.squares += value * value;
  },
  merge: mergeSums,
};

function meanInterval({ n, sum, squares }: MeanSummary, lower = -Infinity, upper = Infinity): Interval {
  if (n === 0) return { value: NaN, low: NaN, high: NaN };
  const mean = sum / n;
  if (n === 1) return { value: mean, low: NaN, high: NaN };
  const variance = Math.max(0, (squares - n * mean * mean) / (n - 1));
  return normalInterval(mean, Math.sqrt(variance / n), 0.95, lower, upper);
}

export interface RecommendationQuality {
  members: number;
  hitRate: Interval;
  ndcg: Interval;
}

interface RecommendationSummary {
  hits: MeanSummary;
  ndcg: MeanSummary;
}

/** Recommendation lists, each judged by what its member borrowed within the outcome period. */
export class RecommendationQualityWindows {
  private readonly windows: DailyWindows<RecommendationSummary, { ranked: readonly string[]; borrowed: ReadonlySet<string> }>;

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
    this.windows = new DailyWindows({
      empty: () => ({ hits: meanSummary.empty(), ndcg: meanSummary.empty() }),
      add: (summary, { ranked, borrowed }) => {
        meanSummary.add(summary.hits, hitRateAtK(ranked, borrowed, k));
        meanSummary.add(summary.ndcg, ndcgAtK(ranked, borrowed, k));
      },
      merge: (into, from) => {
        meanSummary.merge(into.hits, from.hits);
        meanSummary.merge(into.ndcg, from.ndcg);
      },
    });
  }

  /**
   * Adds one served list whose outcome period ended on `day`. Members who borrowed nothing are
   * left out, as in the offline ranking metrics: they say nothing about the list's quality.
   */
  add(day: string, ranked: readonly string[], borrowed: ReadonlySet<string>): void {
    if (borrowed.size === 0) return;
    this.windows.add(day, { ranked, borrowed });
  }

  quality(asOf: string, window: QualityWindow): RecommendationQuality {
    const { hits, ndcg } = this.windows.window(asOf, window);
    return { members: hits.n, hitRate: wilsonInterval(hits.sum, hits.n), ndcg: meanInterval(ndcg, 0, 1) };
  }
}

export interface DemandOutcome {
  actual: number;
  forecast: number;
  /** The seasonal naive forecast: the same series' loans in the same week a year before. */
  seasonalNaive: number;
}

interface DemandSummary {
  n: number;
  model: number;
  naive: number;
  modelSquares: number;
  naiveSquares: number;
  cross: number;
}

export interface DemandQuality {
  seriesWeeks: number;
  mae: Interval;
  seasonalNaiveMae: Interval;
  /** MAE of the model over MAE of seasonal naive; below 1 the model wins. */
  maeRatio: Interval;
}

export class DemandQualityWindows {
  private readonly windows = new DailyWindows<DemandSummary, DemandOutcome>({
    empty: () => ({ n: 0, model: 0, naive: 0, modelSquares: 0, naiveSquares: 0, cross: 0 }),
    add(summary, { actual, forecast, seasonalNaive }) {
      if (![actual, forecast, seasonalNaive].every(Number.isFinite)) throw new RangeError(`demand outcomes must be finite, got ${actual}, ${forecast}, ${seasonalNaive}`);
      const model = Math.abs(actual - forecast);
      const naive = Math.abs(actual - seasonalNaive);
      summary.n += 1;
      summary.model += model;
      summary.naive += naive;
      summary.modelSquares += model * model;
      summary.naiveSquares += naive * naive;
      summary.cross += model * naive;
    },
    merge: mergeSums,
  });

  /** Adds one series-week whose actual loans became known on `day`. */
  add(day: string, outcome: DemandOutcome): void {
    this.windows.add(day, outcome);
  }

  quality(asOf: string, window: QualityWindow): DemandQuality {
    const s = this.windows.window(asOf, window);
    const mae = meanInterval({ n: s.n, sum: s.model, squares: s.modelSquares }, 0);
    const seasonalNaiveMae = meanInterval({ n: s.n, sum: s.naive, squares: s.naiveSquares }, 0);
    if (s.n < 2 || s.naive === 0) return { seriesWeeks: s.n, mae, seasonalNaiveMae, maeRatio: { value: s.naive === 0 ? NaN : s.model / s.naive, low: NaN, high: NaN } };
    // Delta method for a ratio of means: var(R) ≈ (var_m − 2R·cov + R²·var_n) / (n·μ_n²).
    const meanModel = s.model / s.n;
    const meanNaive = s.naive / s.n;
    const ratio = meanModel / meanNaive;
    const varModel = (s.modelSquares - s.n * meanModel ** 2) / (s.n - 1);
    const varNaive = (s.naiveSquares - s.n * meanNaive ** 2) / (s.n - 1);
    const covariance = (s.cross - s.n * meanModel * meanNaive) / (s.n - 1);
    const variance = Math.max(0, (varModel - 2 * ratio * covariance + ratio * ratio * varNaive) / (s.n * meanNaive * meanNaive));
    return { seriesWeeks: s.n, mae, seasonalNaiveMae, maeRatio: normalInterval(ratio, Math.sqrt(variance), 0.95, 0) };
  }
}

export interface SegmentStability {
  members: number;
  /** Share of members whose segment did not change since their previous assignment. */
  unchanged: Interval;
}

export class SegmentStabilityWindows {
  private readonly windows = new DailyWindows<MeanSummary, number>(meanSummary);

  /** Adds one member's reassignment on `day`. */
  add(day: string, previousSegment: string, segment: string): void {
    this.windows.add(day, previousSegment === segment ? 1 : 0);
  }

  quality(asOf: string, window: QualityWindow): SegmentStability {
    const s = this.windows.window(asOf, window);
    return { members: s.n, unchanged: wilsonInterval(s.sum, s.n) };
  }
}

// ---------------------------------------------------------------------------------------------
// Export to model_live_metric.

/** A named set of figures with intervals, e.g. { auc, logLoss } of a ClassifierQuality. */
export type LiveFigures = Record<string, Interval>;

/** Prometheus-style name of a figure: camelCase to snake_case, "estimated_" before estimates. */
export function liveMetricName(name: string, estimated = false): string {
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return estimated ? `estimated_${snake}` : snake;
}

/**
 * The gauge samples of a window's figures for `model_live_metric{metric,...}`: each figure as
 * M, M_low and M_high (NaN parts, such as an interval of one row, are left out).
 */
export function liveMetricSamples(figures: LiveFigures, estimated = false): Array<{ metric: string; value: number }> {
  const samples: Array<{ metric: string; value: number }> = [];
  for (const [name, interval] of Object.entries(figures)) {
    const metric = liveMetricName(name, estimated);
    for (const [suffix, value] of [['', interval.value], ['_low', interval.low], ['_high', interval.high]] as const) {
      if (Number.isFinite(value)) samples.push({ metric: `${metric}${suffix}`, value });
    }
  }
  return samples;
}

/** The figures of any quality object: its Interval-valued fields. */
export function figuresOf(quality: object): LiveFigures {
  const figures: LiveFigures = {};
  for (const [name, value] of Object.entries(quality)) {
    if (value && typeof value === 'object' && 'value' in value && 'low' in value && 'high' in value) figures[name] = value as Interval;
  }
  return figures;
}
