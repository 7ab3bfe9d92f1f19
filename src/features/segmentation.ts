/**
 * Segmentation features: where a member stands on a cut-off day in recency, frequency,
 * monetary value, engagement and tenure, the five measures the k-means segments are built on.
 * Derived from `loadMemberActivity`, as churn's are, so the trainer and the subgraph read the
 * same rows.
 *
 * Choices (checked on the default simulated library at two cut-offs, asOf and asOf - 90 days):
 * - monetary = loan-days in the last year (time spent with the library's books), not distinct
 *   titles: a member almost never borrows the same title twice within a year, so distinct
 *   titles repeat frequency (correlation 0.99999 in log units) and would weigh "how often" twice.
 *   It is kept on its raw scale: after log1p it is still a near-copy of log frequency
 *   (correlation 0.97), while raw loan-days (0.68) single out the members who keep the most
 *   books the longest, which is what sets Champions apart from Loyal.
 * - engagement = monthly log change of the loan rate, last 90 days against the 90 before:
 *   ln((loans_90d + 1) / (loans_prev_90d + 1)) / 3. Scale-free, so a member going from 2 loans
 *   to 1 declines as much as one going from 20 to 10; a difference of counts made the heaviest
 *   borrowers the "declining" segment every December (summer peak before, December dip after)
 *   although they were the least likely to lapse. It is in the units of the simulator's hidden
 *   monthly trend, and what a segment description calls "monthly loan trend" (-0.1 = about 10%
 *   fewer loans each month).
 * - log1p on recency, frequency and tenure: counts whose low end matters most (5 against 50
 *   days since the last loan, 2 against 20 months of membership) and whose long tails (a few
 *   members borrow hundreds of times a year, or lapsed years ago) would otherwise decide where
 *   the centroids sit.
 * With these, every segment name ranks where it should by the members' later 90-day lapse rate
 * (Champions and Loyal lowest, Hibernating highest) at both cut-offs; the segments are as
 * stable across seeds either way.
 *
 * Those are the columns and version 1's scaling. With every standardised column counting alike,
 * k-means spends its few centroids on tenure, engagement and loan-days as much as on recency,
 * which is what tells who lapses next; so the trainer chooses among `SEGMENT_SCALINGS` (log1p
 * on loan-days too, more weight on recency and frequency) by use, on validation folds
 * (src/evaluation/segmentation-folds.ts). The graph's input stays these five raw columns: a
 * scaling lives inside the graph.
 */
import type { SegmentFeature } from '../ml/kmeans';
import type { Store } from '../store';
import { loadMemberActivity, type MemberActivity } from './member-activity';

export const SEGMENTATION_FEATURES = [
  { name: 'recency_days', type: 'numeric', description: 'Days since the last checkout (tenure when none)', role: 'recency', log1p: true },
  { name: 'frequency_365d', type: 'count', description: 'Checkouts in the last 365 days', role: 'frequency', log1p: true },
  { name: 'monetary_loan_days_365d', type: 'numeric', description: 'Loan-days in the last 365 days (checkout to return, or to the cut-off)', role: 'monetary', log1p: false },
  { name: 'engagement_monthly_log_change', type: 'numeric', description: 'ln((loans_90d + 1) / (loans_prev_90d + 1)) / 3: monthly log change of the loan rate', role: 'engagement', log1p: false },
  { name: 'tenure_days', type: 'numeric', description: 'Days since joining', role: 'tenure', log1p: true },
] as const;

export const SEGMENTATION_FEATURE_NAMES: readonly string[] = SEGMENTATION_FEATURES.map((f) => f.name);

/** The same columns as the k-means trainer takes them: name, role and transform (version 1's scaling, every weight 1). */
export const SEGMENT_FEATURES: SegmentFeature[] = SEGMENTATION_FEATURES.map((f) => ({ name: f.name, role: f.role, log1p: f.log1p }));

type SegmentationFeatureName = (typeof SEGMENTATION_FEATURES)[number]['name'];

/** A way to put the columns on one scale for k-means: which take log1p, and each one's weight. */
export interface SegmentScaling {
  name: string;
  description: string;
  features: SegmentFeature[];
}

function scaling(name: string, description: string, change: Partial<Record<SegmentationFeatureName, { log1p?: boolean; weight?: number }>>): SegmentScaling {
  return { name, description, features: SEGMENT_FEATURES.map((f) => ({ ...f, ...change[f.name as SegmentationFeatureName] })) };
}

/** The scalings the trainer chooses from on validation folds, the plainest first (a tie goes to it). */
export const SEGMENT_SCALINGS: readonly SegmentScaling[] = [
  scaling('equal', 'log1p on recency, frequency and tenure; every standardised column weighs 1 (version 1)', {}),
  scaling('log loan-days', 'as equal, with log1p on loan-days too', { monetary_loan_days_365d: { log1p: true } }),
  scaling('recency-led', 'as equal, recency weighing 2 and loan-days, trend and tenure 0.5', {
    recency_days: { weight: 2 },
    monetary_loan_days_365d: { weight: 0.5 },
    engagement_monthly_log_change: { weight: 0.5 },
    tenure_days: { weight: 0.5 },
  }),
  scaling('recency and frequency-led', 'as equal, recency weighing 2, frequency 1.5, loan-days and tenure 0.5, trend 0.25', {
    recency_days: { weight: 2 },
    frequency_365d: { weight: 1.5 },
    monetary_loan_days_365d: { weight: 0.5 },
    engagement_monthly_log_change: { weight: 0.25 },
    tenure_days: { weight: 0.5 },
  }),
];

/** The engagement change compares two 90-day windows, three months apart. */
const MONTHS_PER_QUARTER = 3;

export function engagementMonthlyLogChange(a: Pick<MemberActivity, 'loans90d' | 'loansPrev90d'>): number {
  return Math.log((a.loans90d + 1) / (a.loansPrev90d + 1)) / MONTHS_PER_QUARTER;
}

export function segmentationFeatureRow(a: MemberActivity): number[] {
  return [a.daysSinceLastLoan, a.loans365d, a.loanDays365d, engagementMonthlyLogChange(a), a.tenureDays];
}

export interface SegmentationFeatureBatch {
  /** Members found (joined by the cut-off), in request order. */
  memberIds: number[];
  /** Row-major memberIds.length x SEGMENTATION_FEATURES.length, float32 as the ONNX input takes them. */
  values: Float32Array;
  /** For each requested id, its row in `values`, or -1. */
  rowOf: number[];
}

/** Features of a batch of members on `cutoff`: one query on members, one on loans. */
export async function segmentationFeatures(store: Store, memberIds: readonly number[], cutoff: string): Promise<SegmentationFeatureBatch> {
  return segmentationFeatureBatch(await loadMemberActivity(store, memberIds, cutoff));
}

/** The batch of rows for members' activity (from `loadMemberActivity`, in request order). */
export function segmentationFeatureBatch(activity: readonly (MemberActivity | undefined)[]): SegmentationFeatureBatch {
  const d = SEGMENTATION_FEATURES.length;
  const found: MemberActivity[] = [];
  const rowOf = activity.map((a) => (a ? found.push(a) - 1 : -1));
  const values = new Float32Array(found.length * d);
  found.forEach((a, i) => values.set(segmentationFeatureRow(a), i * d));
  return { memberIds: found.map((a) => a.memberId), values, rowOf };
}

/** Members per chunk in `segmentationFeaturesInChunks`: about 0.1 s of work each on the default library. */
export const FEATURE_CHUNK_SIZE = 500;

/**
 * The same batch as `segmentationFeatures`, for a long list of members (a whole library), read
 * `chunkSize` members at a time with the event loop free in between: a serving process stays
 * responsive while it reads every member (better-sqlite3 blocks while a query runs), and short
 * IN lists are faster than one long one (BENCHMARKS.md, figures moved from comments).
 */
export async function segmentationFeaturesInChunks(
  store: Store,
  memberIds: readonly number[],
  cutoff: string,
  chunkSize: number = FEATURE_CHUNK_SIZE,
): Promise<SegmentationFeatureBatch> {
  const d = SEGMENTATION_FEATURES.length;
  const chunks: SegmentationFeatureBatch[] = [];
  for (let start = 0; start < memberIds.length; start += chunkSize) {
    if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    chunks.push(await segmentationFeatures(store, memberIds.slice(start, start + chunkSize), cutoff));
  }
  const found = chunks.reduce((n, c) => n + c.memberIds.length, 0);
  const values = new Float32Array(found * d);
  const ids: number[] = [];
  const rowOf: number[] = [];
  for (const chunk of chunks) {
    const offset = ids.length;
    values.set(chunk.values, offset * d);
    ids.push(...chunk.memberIds);
    for (const row of chunk.rowOf) rowOf.push(row < 0 ? -1 : row + offset);
  }
  return { memberIds: ids, values, rowOf };
}

/** Rows of a batch as the k-means model takes them (the float32 values the ONNX graph sees). */
export function featureRows(values: Float32Array, d: number = SEGMENTATION_FEATURES.length): Float32Array[] {
  return Array.from({ length: values.length / d }, (_, i) => values.subarray(i * d, (i + 1) * d));
}
