/**
 * Segmentations judged by what a library uses them for: does a member's segment at a cut-off
 * tell who will lapse and how much they will borrow in the next 90 days, and do members keep
 * their segment? The same functions score the k-means segments and the RFM-grid baseline, so
 * the two are compared on the same members.
 *
 * No look-ahead: segment-level rates are fitted on an earlier cut-off (segments then, outcomes
 * in the 90 days after it) and scored on a later one, and the RFM grid's quintile edges are
 * fitted on the features at or before the cut-off whose window it is scored on. Which cut-offs
 * to use is the caller's; these functions only refuse to mix rows they cannot pair.
 */
import type { FeatureRows } from '../ml/kmeans';
import { auc, brierScore, logLoss } from '../ml/metrics';

/** Members who joined less than this many days ago are New in the named tercile grid. */
const RULE_NEW_MEMBER_DAYS = 180;

/** One member at a cut-off: their segment then, and the 90 days after it. */
export interface MemberOutcome {
  segment: string;
  /** 1 when the member borrowed nothing in the 90 days after the cut-off. */
  lapsed: 0 | 1;
  /** Loans in the 90 days after the cut-off. */
  loans: number;
}

export interface SegmentOutcomes {
  /** By segment: lapse rate and mean loans, shrunk towards the overall figures by `priorMembers` members. */
  segments: Map<string, { members: number; lapseRate: number; meanLoans: number }>;
  overall: { members: number; lapseRate: number; meanLoans: number };
}

/**
 * Segment-level lapse rates and mean loans from one cut-off's members. Each segment's figures
 * are (sum + priorMembers × overall) / (members + priorMembers), so a segment of three members
 * does not predict 0% or 100%.
 */
export function fitSegmentOutcomes(rows: readonly MemberOutcome[], { priorMembers = 1 }: { priorMembers?: number } = {}): SegmentOutcomes {
  if (rows.length === 0) throw new Error('no members to fit segment outcomes on');
  if (!(priorMembers >= 0)) throw new Error(`priorMembers must be 0 or more, got ${priorMembers}`);
  let lapsed = 0;
  let loans = 0;
  const sums = new Map<string, { members: number; lapsed: number; loans: number }>();
  for (const row of rows) {
    lapsed += row.lapsed;
    loans += row.loans;
    const sum = sums.get(row.segment) ?? { members: 0, lapsed: 0, loans: 0 };
    sum.members += 1;
    sum.lapsed += row.lapsed;
    sum.loans += row.loans;
    sums.set(row.segment, sum);
  }
  const overall = { members: rows.length, lapseRate: lapsed / rows.length, meanLoans: loans / rows.length };
  const segments = new Map(
    [...sums].map(([segment, s]) => [
      segment,
      {
        members: s.members,
        lapseRate: (s.lapsed + priorMembers * overall.lapseRate) / (s.members + priorMembers),
        meanLoans: (s.loans + priorMembers * overall.meanLoans) / (s.members + priorMembers),
      },
    ]),
  );
  return { segments, overall };
}

export interface SegmentUse {
  members: number;
  /** Members whose segment was not in the fit, given the overall figures. */
  unseenSegmentMembers: number;
  lapse: { auc: number; logLoss: number; brierScore: number; lapseRate: number };
  volume: { meanAbsoluteError: number; rootMeanSquaredError: number };
  /** The same scores for the overall rate and mean (no segments at all), fitted on the same rows. */
  noSegments: { logLoss: number; brierScore: number; meanAbsoluteError: number; rootMeanSquaredError: number };
}

/**
 * How well `fitted` (from an earlier cut-off) predicts these members' next 90 days from their
 * segment alone. AUC needs both lapsed and kept members and throws without them.
 */
export function scoreSegmentUse(fitted: SegmentOutcomes, rows: readonly MemberOutcome[]): SegmentUse {
  if (rows.length === 0) throw new Error('no members to score the segments on');
  let unseen = 0;
  const predictions = rows.map((row) => {
    const segment = fitted.segments.get(row.segment);
    if (!segment) unseen++;
    return segment ?? fitted.overall;
  });
  const labels = rows.map((r) => r.lapsed);
  const lapseProbabilities = predictions.map((p) => p.lapseRate);
  const volume = (predicted: (i: number) => number) => {
    let absolute = 0;
    let squared = 0;
    rows.forEach((row, i) => {
      const error = row.loans - predicted(i);
      absolute += Math.abs(error);
      squared += error * error;
    });
    return { meanAbsoluteError: absolute / rows.length, rootMeanSquaredError: Math.sqrt(squared / rows.length) };
  };
  const overall = new Array<number>(rows.length).fill(fitted.overall.lapseRate);
  return {
    members: rows.length,
    unseenSegmentMembers: unseen,
    lapse: {
      auc: auc(lapseProbabilities, labels),
      logLoss: logLoss(lapseProbabilities, labels),
      brierScore: brierScore(lapseProbabilities, labels),
      lapseRate: labels.reduce<number>((a, b) => a + b, 0) / rows.length,
    },
    volume: volume((i) => predictions[i]!.meanLoans),
    noSegments: { logLoss: logLoss(overall, labels), brierScore: brierScore(overall, labels), ...volume(() => fitted.overall.meanLoans) },
  };
}

export interface SegmentStability {
  /** Members with a segment at both cut-offs. */
  members: number;
  kept: number;
  /** kept / members: the share of members in the same segment 90 days later. */
  share: number;
}

/** Share of the members present at both cut-offs (keyed by member id) who kept their segment. */
export function segmentStability(before: ReadonlyMap<number, string>, after: ReadonlyMap<number, string>): SegmentStability {
  let members = 0;
  let kept = 0;
  for (const [member, segment] of before) {
    const later = after.get(member);
    if (later === undefined) continue;
    members++;
    if (later === segment) kept++;
  }
  if (members === 0) throw new Error('no member has a segment at both cut-offs');
  return { members, kept, share: kept / members };
}

/** Where a member stands on a cut-off, in the measures of an RFM grid. */
export interface RfmMeasures {
  /** Days since the last loan (lower is more recent). */
  recencyDays: number;
  /** Loans in the last year. */
  frequency: number;
  /** Loan-days in the last year (or any measure of value). */
  monetary: number;
}

export interface RfmGrid {
  bins: number;
  /** bins − 1 ascending cut points per measure: the quantiles of the rows it was fitted on. */
  edges: Record<keyof RfmMeasures, number[]>;
}

function quantileEdges(values: number[], bins: number): number[] {
  const sorted = Float64Array.from(values).sort();
  return Array.from({ length: bins - 1 }, (_, b) => sorted[Math.min(sorted.length - 1, Math.floor(((b + 1) * sorted.length) / bins))]!);
}

/** The quantile grid (quintiles by default) of members' measures at one cut-off. */
export function fitRfmGrid(rows: readonly RfmMeasures[], bins = 5): RfmGrid {
  if (rows.length === 0) throw new Error('no members to fit an RFM grid on');
  if (!Number.isInteger(bins) || bins < 2) throw new Error(`bins must be an integer of at least 2, got ${bins}`);
  for (const [i, row] of rows.entries()) {
    for (const key of ['recencyDays', 'frequency', 'monetary'] as const) {
      if (!Number.isFinite(row[key])) throw new Error(`row ${i}: ${key} is ${row[key]}; RFM measures must be finite numbers`);
    }
  }
  return {
    bins,
    edges: {
      recencyDays: quantileEdges(rows.map((r) => r.recencyDays), bins),
      frequency: quantileEdges(rows.map((r) => r.frequency), bins),
      monetary: quantileEdges(rows.map((r) => r.monetary), bins),
    },
  };
}

/** 1..bins: how many cut points the value reaches, plus one. Equal to a cut point goes up. */
function binOf(value: number, edges: readonly number[]): number {
  let bin = 1;
  for (const edge of edges) if (value >= edge) bin++;
  return bin;
}

/**
 * The member's cell, as "R5F3M2": each score 1..bins, higher better (R5 the most recent, F5 the
 * most loans, M5 the most value).
 */
export function rfmSegment(grid: RfmGrid, row: RfmMeasures): string {
  const recency = grid.bins + 1 - binOf(row.recencyDays, grid.edges.recencyDays);
  return `R${recency}F${binOf(row.frequency, grid.edges.frequency)}M${binOf(row.monetary, grid.edges.monetary)}`;
}

/** Quantile of sorted values by the nearest-rank rule. */
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export interface RfmRule {
  recencyTerciles: [number, number];
  frequencyTerciles: [number, number];
}

const column = (rows: FeatureRows, j: number): Float64Array => Float64Array.from(rows, (r) => r[j]!).sort();

/** Tercile cut points of recency and frequency, learnt from the training rows. */
export function fitRfmRule(rows: FeatureRows): RfmRule {
  const recency = column(rows, 0);
  const frequency = column(rows, 1);
  return {
    recencyTerciles: [quantile(recency, 1 / 3), quantile(recency, 2 / 3)],
    frequencyTerciles: [quantile(frequency, 1 / 3), quantile(frequency, 2 / 3)],
  };
}

/**
 * The RFM grid: R and F scores 1 (least recent / least frequent) to 3, then
 *   joined < 180 days ago: New;  R3 F3: Champions;  R2-3 F2-3: Loyal;  R1 F2-3: At Risk;
 *   R1 F1: Hibernating;  R2-3 F1: Promising when the trend is up, else Occasional.
 */
export function applyRfmRule(rule: RfmRule, rows: FeatureRows): string[] {
  const score = (v: number, [low, high]: [number, number]): number => (v <= low ? 1 : v <= high ? 2 : 3);
  return rows.map((row) => {
    const [recencyDays, frequency, , engagement, tenureDays] = [row[0]!, row[1]!, row[2]!, row[3]!, row[4]!];
    if (tenureDays < RULE_NEW_MEMBER_DAYS) return 'New';
    // Fewer days since the last loan is the better recency score.
    const r = 4 - score(recencyDays, rule.recencyTerciles);
    const f = score(frequency, rule.frequencyTerciles);
    if (r === 3 && f === 3) return 'Champions';
    if (f >= 2) return r >= 2 ? 'Loyal' : 'At Risk';
    if (r === 1) return 'Hibernating';
    return engagement > 0 ? 'Promising' : 'Occasional';
  });
}
