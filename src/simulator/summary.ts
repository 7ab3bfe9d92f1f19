/**
 * What a generated library looks like next to the real rates it is calibrated on, and how well
 * the oracle's probabilities separate the outcomes they generated.
 */
import type { Loans } from './borrowing';
import { COLLECTIONS, type Collection } from './catalogue';
import { realisedChurn, type ChurnTruth } from './churn';

export interface OverdueShare {
  collection: Collection | 'All';
  /** Loans whose (shown) due date is before the as-of day, so their outcome is known. */
  matured: number;
  overdue: number;
  share: number;
  meanLateProbability: number;
}

export interface ChurnCheck {
  cutoffDay: number;
  members: number;
  realisedRate: number;
  meanProbability: number;
  /** ROC AUC of the true probability against the realised outcome. */
  oracleAuc: number;
}

/** Overdue: back after the due date, or still out after it. Only loans due before `asOfDay` count. */
export function isOverdueOnRecord(loans: Loans, i: number, asOfDay: number): boolean | undefined {
  const due = loans.shownDueDay[i]!;
  if (due >= asOfDay) return undefined;
  const returned = loans.shownReturnDay[i]!;
  return returned < 0 || returned > due;
}

export function overdueByCollection(loans: Loans, asOfDay: number): OverdueShare[] {
  const count = COLLECTIONS.length + 1;
  const matured = new Float64Array(count);
  const overdue = new Float64Array(count);
  const probability = new Float64Array(count);
  const all = COLLECTIONS.length;
  for (let i = 0; i < loans.length; i++) {
    const outcome = isOverdueOnRecord(loans, i, asOfDay);
    if (outcome === undefined) continue;
    for (const c of [loans.collection[i]!, all]) {
      matured[c]!++;
      if (outcome) overdue[c]!++;
      probability[c]! += loans.lateProbability[i]!;
    }
  }
  return [...COLLECTIONS, 'All' as const].map((collection, c) => ({
    collection,
    matured: matured[c]!,
    overdue: overdue[c]!,
    share: matured[c]! > 0 ? overdue[c]! / matured[c]! : 0,
    meanLateProbability: matured[c]! > 0 ? probability[c]! / matured[c]! : 0,
  }));
}

/** ROC AUC (Mann-Whitney U, ties counted half); NaN when one class is missing. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let start = 0; start < n; ) {
    let end = start;
    while (end + 1 < n && scores[order[end + 1]!] === scores[order[start]!]) end++;
    const averageRank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) {
      if (labels[order[k]!]) {
        positives++;
        rankSum += averageRank;
      }
    }
    start = end + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** The late model's oracle AUC over loans whose outcome is on record by the as-of day. */
export function lateOracleAuc(loans: Loans, asOfDay: number): number {
  const scores: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < loans.length; i++) {
    const outcome = isOverdueOnRecord(loans, i, asOfDay);
    if (outcome === undefined) continue;
    scores.push(loans.lateProbability[i]!);
    labels.push(outcome ? 1 : 0);
  }
  return rocAuc(scores, labels);
}

/** Realised churn against the oracle, for each cut-off whose 90-day window has passed. */
export function churnChecks(loans: Loans, memberCount: number, truth: ChurnTruth, asOfDay: number, windowDays: number): ChurnCheck[] {
  const cutoffs = [...new Set(truth.cutoff)].filter((day) => day + windowDays <= asOfDay).sort((a, b) => a - b);
  return cutoffs.map((cutoffDay) => {
    const churned = realisedChurn(loans, memberCount, cutoffDay);
    const scores: number[] = [];
    const labels: number[] = [];
    for (let r = 0; r < truth.cutoff.length; r++) {
      if (truth.cutoff[r] !== cutoffDay) continue;
      scores.push(truth.probability[r]!);
      labels.push(churned[truth.member[r]!]!);
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    return { cutoffDay, members: scores.length, realisedRate: mean(labels), meanProbability: mean(scores), oracleAuc: rocAuc(scores, labels) };
  });
}
