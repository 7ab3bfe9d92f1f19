/**
 * Metrics for binary classifiers, shared by every model report in Shelfmark.
 *
 * Contract: `scores`/`probs` and `labels` are parallel arrays of equal, non-zero length;
 * labels are 0 or 1; scores are finite; probabilities lie in [0, 1]. Any other input throws an
 * Error that says what was expected and what arrived (a length mismatch names both lengths).
 * Functions that need both classes (AUC, ROC) throw when one is missing, rather than return a
 * number that would look like a result.
 */

type Numbers = ArrayLike<number>;

function assertPairs(what: string, values: Numbers, labels: Numbers): void {
  if (values.length !== labels.length) {
    throw new Error(`${what} has ${values.length} values but labels has ${labels.length}; they must be the same length`);
  }
  if (values.length === 0) throw new Error(`${what} and labels are empty; a metric needs at least one row`);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y !== 0 && y !== 1) throw new Error(`labels[${i}] is ${y}; labels must be 0 or 1`);
  }
}

function assertScores(what: string, scores: Numbers, labels: Numbers): void {
  assertPairs(what, scores, labels);
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i]!)) throw new Error(`${what}[${i}] is ${scores[i]}; scores must be finite`);
  }
}

function assertProbabilities(probs: Numbers, labels: Numbers): void {
  assertPairs('probs', probs, labels);
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (!(p >= 0 && p <= 1)) throw new Error(`probs[${i}] is ${p}; probabilities must lie in [0, 1]`);
  }
}

function classCounts(labels: Numbers): { positives: number; negatives: number } {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  return { positives, negatives: labels.length - positives };
}

function assertBothClasses(what: string, labels: Numbers): { positives: number; negatives: number } {
  const counts = classCounts(labels);
  if (counts.positives === 0 || counts.negatives === 0) {
    throw new Error(`${what} needs both classes; got ${counts.positives} positives and ${counts.negatives} negatives`);
  }
  return counts;
}

/** Row indices ordered by descending score (stable, so equal scores keep their order). */
function byDescendingScore(scores: Numbers): Uint32Array {
  const order = Uint32Array.from({ length: scores.length }, (_, i) => i);
  return order.sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random
 * negative, a tie counting one half (the Mann-Whitney U statistic over n₊·n₋).
 */
export function auc(scores: Numbers, labels: Numbers): number {
  assertScores('scores', scores, labels);
  const { positives, negatives } = assertBothClasses('auc', labels);
  const order = byDescendingScore(scores);
  // Walk groups of equal score from the top: every positive above a negative counts 1, a
  // positive tied with a negative counts ½.
  let wins = 0;
  let positivesAbove = 0;
  for (let i = 0; i < order.length; ) {
    const score = scores[order[i]!]!;
    let groupPositives = 0;
    let groupNegatives = 0;
    for (; i < order.length && scores[order[i]!] === score; i++) {
      if (labels[order[i]!] === 1) groupPositives++;
      else groupNegatives++;
    }
    wins += groupNegatives * (positivesAbove + groupPositives / 2);
    positivesAbove += groupPositives;
  }
  return wins / (positives * negatives);
}

export interface RocPoint {
  falsePositiveRate: number;
  truePositiveRate: number;
  /** Rows scoring at or above this are called positive; null at the (0, 0) corner, where none are. */
  threshold: number | null;
}

/**
 * The ROC curve from (0, 0) to (1, 1), one point per distinct score, thinned to at most
 * `maxPoints` (≥ 2) for a chart; both corners are always kept.
 */
export function rocCurve(scores: Numbers, labels: Numbers, maxPoints = 200): RocPoint[] {
  assertScores('scores', scores, labels);
  if (!Number.isInteger(maxPoints) || maxPoints < 2) throw new Error(`maxPoints must be an integer of at least 2, got ${maxPoints}`);
  const { positives, negatives } = assertBothClasses('rocCurve', labels);
  const order = byDescendingScore(scores);
  const points: RocPoint[] = [{ falsePositiveRate: 0, truePositiveRate: 0, threshold: null }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length; ) {
    const score = scores[order[i]!]!;
    for (; i < order.length && scores[order[i]!] === score; i++) {
      if (labels[order[i]!] === 1) tp++;
      else fp++;
    }
    points.push({ falsePositiveRate: fp / negatives, truePositiveRate: tp / positives, threshold: score });
  }
  if (points.length <= maxPoints) return points;
  const thinned: RocPoint[] = [];
  const last = points.length - 1;
  for (let k = 0; k < maxPoints; k++) thinned.push(points[Math.round((k * last) / (maxPoints - 1))]!);
  return thinned;
}

/**
 * Mean negative log-likelihood; the probability given to the observed label is floored at
 * `eps`, so one confident mistake costs −ln(eps) instead of making the mean Infinity.
 */
export function logLoss(probs: Numbers, labels: Numbers, eps = 1e-15): number {
  assertProbabilities(probs, labels);
  if (!(eps > 0 && eps < 0.5)) throw new Error(`eps must lie in (0, 0.5), got ${eps}`);
  let sum = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    sum -= Math.log(Math.max(eps, labels[i] === 1 ? p : 1 - p));
  }
  return sum / probs.length;
}

/** Mean squared difference between probability and label. */
export function brierScore(probs: Numbers, labels: Numbers): number {
  assertProbabilities(probs, labels);
  let sum = 0;
  for (let i = 0; i < probs.length; i++) sum += (probs[i]! - labels[i]!) ** 2;
  return sum / probs.length;
}

export interface CalibrationBin {
  /** The bin covers [lower, upper); the last bin includes 1. */
  lower: number;
  upper: number;
  count: number;
  /** Mean predicted probability in the bin; NaN when the bin is empty. */
  meanPredicted: number;
  /** Share of positives in the bin; NaN when the bin is empty. */
  observedRate: number;
}

/** Equal-width bins over [0, 1] comparing predicted probability with the observed rate. */
export function calibrationBins(probs: Numbers, labels: Numbers, bins = 10): CalibrationBin[] {
  assertProbabilities(probs, labels);
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`bins must be a positive integer, got ${bins}`);
  const counts = new Float64Array(bins);
  const predicted = new Float64Array(bins);
  const positives = new Float64Array(bins);
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    const b = Math.min(bins - 1, Math.floor(p * bins));
    counts[b]! += 1;
    predicted[b]! += p;
    positives[b]! += labels[i]!;
  }
  return Array.from({ length: bins }, (_, b) => ({
    lower: b / bins,
    upper: (b + 1) / bins,
    count: counts[b]!,
    meanPredicted: counts[b]! > 0 ? predicted[b]! / counts[b]! : NaN,
    observedRate: counts[b]! > 0 ? positives[b]! / counts[b]! : NaN,
  }));
}

/** Σ over bins of (rows in bin / rows) · |mean predicted − observed rate|. */
export function expectedCalibrationError(probs: Numbers, labels: Numbers, bins = 10): number {
  let error = 0;
  for (const bin of calibrationBins(probs, labels, bins)) {
    if (bin.count > 0) error += (bin.count / probs.length) * Math.abs(bin.meanPredicted - bin.observedRate);
  }
  return error;
}

/** Share of rows where (probability >= threshold) equals the label. */
export function accuracy(probs: Numbers, labels: Numbers, threshold = 0.5): number {
  assertProbabilities(probs, labels);
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`threshold must lie in [0, 1], got ${threshold}`);
  let correct = 0;
  for (let i = 0; i < probs.length; i++) if ((probs[i]! >= threshold ? 1 : 0) === labels[i]) correct++;
  return correct / probs.length;
}
