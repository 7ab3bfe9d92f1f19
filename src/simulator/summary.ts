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
  const tally = new OverdueTally();
  for (let i = 0; i < loans.length; i++) {
    tally.add(loans.collection[i]!, {
      shownDueDay: loans.shownDueDay[i]!,
      shownReturnDay: loans.shownReturnDay[i]!,
      probability: loans.lateProbability[i]!,
    }, asOfDay);
  }
  return tally.shares();
}

/**
 * Overdue shares by collection, counted one loan at a time (in loan order, so the sums are
 * those of `overdueByCollection`), for a generator that never holds every loan.
 */
export class OverdueTally {
  private readonly matured = new Float64Array(COLLECTIONS.length + 1);
  private readonly overdue = new Float64Array(COLLECTIONS.length + 1);
  private readonly probability = new Float64Array(COLLECTIONS.length + 1);

  /** Counts the loan and answers its outcome on record (see `isOverdueOnRecord`). */
  add(collection: number, loan: { shownDueDay: number; shownReturnDay: number; probability: number }, asOfDay: number): boolean | undefined {
    const due = loan.shownDueDay;
    if (due >= asOfDay) return undefined;
    const outcome = loan.shownReturnDay < 0 || loan.shownReturnDay > due;
    for (const c of [collection, COLLECTIONS.length]) {
      this.matured[c]!++;
      if (outcome) this.overdue[c]!++;
      this.probability[c]! += loan.probability;
    }
    return outcome;
  }

  shares(): OverdueShare[] {
    const { matured, overdue, probability } = this;
    return [...COLLECTIONS, 'All' as const].map((collection, c) => ({
      collection,
      matured: matured[c]!,
      overdue: overdue[c]!,
      share: matured[c]! > 0 ? overdue[c]! / matured[c]! : 0,
      meanLateProbability: matured[c]! > 0 ? probability[c]! / matured[c]! : 0,
    }));
  }
}

/**
 * The late oracle's scores and outcomes, every `every`-th matured loan kept (1: all), so that
 * the AUC of a library of 50 million loans sorts a bounded sample rather than all of them.
 */
export class OracleSample {
  private scores = new Float64Array(1024);
  private labels = new Uint8Array(1024);
  private seen = 0;
  private kept = 0;

  constructor(private readonly every: number) {}

  add(score: number, late: boolean): void {
    if (this.seen++ % this.every !== 0) return;
    if (this.kept === this.scores.length) {
      const scores = new Float64Array(this.kept * 2);
      scores.set(this.scores);
      const labels = new Uint8Array(this.kept * 2);
      labels.set(this.labels);
      this.scores = scores;
      this.labels = labels;
    }
    this.scores[this.kept] = score;
    this.labels[this.kept++] = late ? 1 : 0;
  }

  auc(): number {
    return rocAuc(this.scores.subarray(0, this.kept), this.labels.subarray(0, this.kept));
  }
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
  const sample = new OracleSample(1);
  for (let i = 0; i < loans.length; i++) {
    const outcome = isOverdueOnRecord(loans, i, asOfDay);
    if (outcome !== undefined) sample.add(loans.lateProbability[i]!, outcome);
  }
  return sample.auc();
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
    return churnCheck(cutoffDay, scores, labels);
  });
}

/** One cut-off's check from the true probabilities and realised outcomes (1: churned) of its members. */
export function churnCheck(cutoffDay: number, scores: number[], labels: number[]): ChurnCheck {
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  return { cutoffDay, members: scores.length, realisedRate: mean(labels), meanProbability: mean(scores), oracleAuc: rocAuc(scores, labels) };
}
