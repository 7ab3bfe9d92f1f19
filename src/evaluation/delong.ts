/**
 * DeLong's test for AUCs (DeLong, DeLong and Clarke-Pearson 1988), in the O(n log n) form of
 * Sun and Xu (2014): the variance of one AUC, and of the difference of two AUCs measured on the
 * same rows, from the placement values of each positive and each negative.
 *
 * Contract: scores and labels as in src/ml/metrics.ts (equal lengths, labels 0/1, finite
 * scores, both classes present); ties count one half, so `auc` here equals `auc` there.
 * Intervals are normal (Wald) intervals, value ± z·√variance, clipped to [0, 1] for one AUC.
 */
import { auc as aucOf } from '../ml/metrics';
import type { Interval } from './intervals';

type Numbers = ArrayLike<number>;

/** Standard normal cumulative distribution (Abramowitz and Stegun 7.1.26, error below 1.5e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Standard normal quantile for p in (0, 1) (Acklam's rational approximation, relative error below 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new Error(`a normal quantile needs p in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const tailQuantile = (q: number): number => {
    const r = Math.sqrt(-2 * Math.log(q));
    return (((((c0 * r + c1) * r + c2) * r + c3) * r + c4) * r + c5) / ((((d0 * r + d1) * r + d2) * r + d3) * r + 1);
  };
  if (p < 0.02425) return tailQuantile(p);
  if (p > 1 - 0.02425) return -tailQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}

/** Mid-ranks (1-based, ties sharing their mean rank) of `values`. */
function midRanks(values: Numbers): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => values[i]! - values[j]!);
  const ranks = new Float64Array(n);
  for (let start = 0; start < n; ) {
    let end = start;
    while (end + 1 < n && values[order[end + 1]!] === values[order[start]!]) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]!] = rank;
    start = end + 1;
  }
  return ranks;
}

interface Placements {
  auc: number;
  /** For each positive: the share of negatives it beats (ties ½). */
  positives: Float64Array;
  /** For each negative: the share of positives that beat it (ties ½). */
  negatives: Float64Array;
}

function placements(scores: Numbers, labels: Numbers): Placements {
  const value = aucOf(scores, labels); // validates the input
  const positiveScores: number[] = [];
  const negativeScores: number[] = [];
  for (let i = 0; i < labels.length; i++) (labels[i] === 1 ? positiveScores : negativeScores).push(scores[i]!);
  const m = positiveScores.length;
  const n = negativeScores.length;
  const all = midRanks([...positiveScores, ...negativeScores]);
  const withinPositives = midRanks(positiveScores);
  const withinNegatives = midRanks(negativeScores);
  const positives = Float64Array.from({ length: m }, (_, i) => (all[i]! - withinPositives[i]!) / n);
  const negatives = Float64Array.from({ length: n }, (_, j) => 1 - (all[m + j]! - withinNegatives[j]!) / m);
  return { auc: value, positives, negatives };
}

function covariance(x: Float64Array, y: Float64Array): number {
  const n = x.length;
  if (n < 2) return 0;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i]!;
    my += y[i]!;
  }
  mx /= n;
  my /= n;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (x[i]! - mx) * (y[i]! - my);
  return sum / (n - 1);
}

export interface DeLongAuc extends Interval {
  variance: number;
}

function zFor(confidence: number): number {
  if (!(confidence > 0 && confidence < 1)) throw new Error(`confidence must lie in (0, 1), got ${confidence}`);
  return normalQuantile(1 - (1 - confidence) / 2);
}

/** One AUC with DeLong's variance and a normal interval clipped to [0, 1]. */
export function delongAuc(scores: Numbers, labels: Numbers, confidence = 0.95): DeLongAuc {
  const p = placements(scores, labels);
  const variance = covariance(p.positives, p.positives) / p.positives.length + covariance(p.negatives, p.negatives) / p.negatives.length;
  const half = zFor(confidence) * Math.sqrt(variance);
  return { value: p.auc, low: Math.max(0, p.auc - half), high: Math.min(1, p.auc + half), variance };
}

export interface DeLongComparison {
  a: DeLongAuc;
  b: DeLongAuc;
  /** AUC(a) − AUC(b) with its normal interval. */
  difference: Interval;
  /** Variance of the difference, counting the covariance of two models on the same rows. */
  variance: number;
  z: number;
  /** Two-sided p-value for equal AUCs; 1 when the two score the rows identically. */
  pValue: number;
}

/** DeLong's paired test: two models' scores of the same rows, against the same labels. */
export function delongTest(scoresA: Numbers, scoresB: Numbers, labels: Numbers, confidence = 0.95): DeLongComparison {
  if (scoresA.length !== scoresB.length) {
    throw new Error(`scoresA has ${scoresA.length} values but scoresB has ${scoresB.length}; a paired test needs the same rows`);
  }
  const pa = placements(scoresA, labels);
  const pb = placements(scoresB, labels);
  const m = pa.positives.length;
  const n = pa.negatives.length;
  const part = (x: Float64Array, y: Float64Array, count: number): number => covariance(x, y) / count;
  const varianceA = part(pa.positives, pa.positives, m) + part(pa.negatives, pa.negatives, n);
  const varianceB = part(pb.positives, pb.positives, m) + part(pb.negatives, pb.negatives, n);
  const covarianceAB = part(pa.positives, pb.positives, m) + part(pa.negatives, pb.negatives, n);
  const variance = Math.max(0, varianceA + varianceB - 2 * covarianceAB);
  const z = zFor(confidence);
  const interval = (value: number, v: number): DeLongAuc => {
    const half = z * Math.sqrt(v);
    return { value, low: Math.max(0, value - half), high: Math.min(1, value + half), variance: v };
  };
  const difference = pa.auc - pb.auc;
  const half = z * Math.sqrt(variance);
  const statistic = variance > 0 ? difference / Math.sqrt(variance) : 0;
  return {
    a: interval(pa.auc, varianceA),
    b: interval(pb.auc, varianceB),
    difference: { value: difference, low: difference - half, high: difference + half },
    variance,
    z: statistic,
    pValue: variance > 0 ? 2 * (1 - normalCdf(Math.abs(statistic))) : 1,
  };
}
