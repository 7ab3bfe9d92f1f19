/**
 * Churn features: what a member's borrowing looked like on a cut-off day. The label the model
 * learns is "no checkout in the 90 days after the cut-off" (`churnLabels`).
 */
import type { Store } from '../store';
import { addDays } from '../util/dates';
import { loadMemberActivity, type MemberActivity } from './member-activity';

export const CHURN_WINDOW_DAYS = 90;

/**
 * Every churn feature the serving code computes. A version takes the ones its feature spec
 * names, by name (`featureColumns`): versions up to 1.1.0 the first 11, loan counts over fixed
 * windows; 2.0.0 all 22, adding visit days (days with a checkout, since one visit often lends
 * several items), the gaps between visits and a fitted visit rate and trend, which together
 * raised the AUC on active members by 0.015 (BENCHMARKS.md, "Churn 2.0.0"). Features are only
 * added, never renamed or dropped while a registered version names them.
 */
export const CHURN_FEATURES = [
  { name: 'days_since_last_loan', type: 'float', description: 'Days since the last checkout (tenure when none)' },
  { name: 'loans_30d', type: 'float', description: 'Checkouts in the last 30 days' },
  { name: 'loans_90d', type: 'float', description: 'Checkouts in the last 90 days' },
  { name: 'loans_prev_90d', type: 'float', description: 'Checkouts 91 to 180 days ago' },
  { name: 'loans_365d', type: 'float', description: 'Checkouts in the last 365 days' },
  { name: 'engagement_trend', type: 'float', description: '(loans_90d + 1) / (loans_prev_90d + 1)' },
  { name: 'tenure_days', type: 'float', description: 'Days since joining' },
  { name: 'mean_gap_days', type: 'float', description: 'Mean days between checkouts in the last year' },
  { name: 'late_share', type: 'float', description: 'Share of returned loans that came back late' },
  { name: 'open_loans', type: 'float', description: 'Loans not yet returned' },
  { name: 'mean_renewals', type: 'float', description: 'Mean renewals per loan in the last year' },
  { name: 'visit_days_90d', type: 'float', description: 'Days with a checkout in the last 90 days' },
  { name: 'visit_days_prev_90d', type: 'float', description: 'Days with a checkout 91 to 180 days ago' },
  { name: 'visit_days_365d', type: 'float', description: 'Days with a checkout in the last 365 days' },
  { name: 'visit_rate_30d', type: 'float', description: 'Visit days per 30 days over the last year (or since the first visit)' },
  { name: 'silence_visits', type: 'float', description: 'Visits a member at their usual rate would have made since the last one: days_since_last_loan x visit_rate_30d / 30' },
  { name: 'last_visit_gap_days', type: 'float', description: 'Days between the last two visits' },
  { name: 'visit_gap_trend', type: 'float', description: 'Mean of the last 3 gaps between visits / mean of the earlier ones' },
  { name: 'fitted_visit_rate', type: 'float', description: 'Visits per 30 days at the date, from a log-linear Poisson fit of the monthly visit counts (up to 18 months)' },
  { name: 'fitted_visit_trend', type: 'float', description: 'Monthly log change of the visit rate in that fit' },
  { name: 'expected_visits_90d', type: 'float', description: 'Visits the fitted rate and trend expect in the next 90 days' },
  { name: 'fitted_silence_visits', type: 'float', description: 'Visits at the fitted rate since the last one: days_since_last_loan x fitted_visit_rate / 30' },
] as const;

export const CHURN_FEATURE_NAMES: readonly string[] = CHURN_FEATURES.map((f) => f.name);

/** Visits the fitted rate and trend expect in the `days` after the date (whole months, then the remainder). */
export function expectedVisits(a: Pick<MemberActivity, 'fittedVisitRate' | 'fittedVisitTrend'>, days: number): number {
  let total = 0;
  for (let m = 0; m * 30 < days; m++) total += (Math.min(30, days - m * 30) / 30) * a.fittedVisitRate * Math.exp(a.fittedVisitTrend * (m + 0.5));
  return total;
}

export function churnFeatureRow(a: MemberActivity): number[] {
  return [
    a.daysSinceLastLoan,
    a.loans30d,
    a.loans90d,
    a.loansPrev90d,
    a.loans365d,
    (a.loans90d + 1) / (a.loansPrev90d + 1),
    a.tenureDays,
    a.meanGapDays365d,
    a.lateShare,
    a.openLoans,
    a.meanRenewals365d,
    a.visitDays90d,
    a.visitDaysPrev90d,
    a.visitDays365d,
    a.visitRate365d,
    (a.daysSinceLastLoan * a.visitRate365d) / 30,
    a.lastVisitGapDays,
    a.visitGapTrend,
    a.fittedVisitRate,
    a.fittedVisitTrend,
    expectedVisits(a, CHURN_WINDOW_DAYS),
    (a.daysSinceLastLoan * a.fittedVisitRate) / 30,
  ];
}

export interface ChurnFeatureBatch {
  /** Members found (joined by the cut-off), in request order. */
  memberIds: number[];
  /** Row-major memberIds.length x CHURN_FEATURES.length. */
  values: Float32Array;
  /** For each requested id, its row in `values`, or -1. */
  rowOf: number[];
}

/** Features of a batch of members on `cutoff`: one query on members, one on loans. */
export async function churnFeatures(store: Store, memberIds: readonly number[], cutoff: string): Promise<ChurnFeatureBatch> {
  return churnFeatureBatch(await loadMemberActivity(store, memberIds, cutoff));
}

/** The batch of rows for members' activity (from `loadMemberActivity`, in request order). */
export function churnFeatureBatch(activity: readonly (MemberActivity | undefined)[]): ChurnFeatureBatch {
  const d = CHURN_FEATURES.length;
  const found: MemberActivity[] = [];
  const rowOf = activity.map((a) => (a ? found.push(a) - 1 : -1));
  const values = new Float32Array(found.length * d);
  found.forEach((a, i) => values.set(churnFeatureRow(a), i * d));
  return { memberIds: found.map((a) => a.memberId), values, rowOf };
}

/** 1 when the member made no checkout in (cutoff, cutoff + 90 days]; one query on loans. */
export async function churnLabels(store: Store, memberIds: readonly number[], cutoff: string): Promise<Uint8Array> {
  const active = await store.db
    .selectFrom('loans')
    .select('member_id')
    .distinct()
    .where('checked_out_at', '>', cutoff)
    .where('checked_out_at', '<=', addDays(cutoff, CHURN_WINDOW_DAYS))
    .execute();
  const activeIds = new Set(active.map((r) => r.member_id));
  return Uint8Array.from(memberIds, (id) => (activeIds.has(id) ? 0 : 1));
}
