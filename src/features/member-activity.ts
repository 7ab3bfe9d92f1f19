/**
 * A member's borrowing history summarised as of a cut-off day: the raw material of the churn
 * and segmentation features. Used by the trainers (at past cut-offs) and by the subgraphs
 * (at the system date) alike, so training and serving cannot drift apart.
 *
 * Contract: for a batch of member ids, `loadMemberActivity` issues one query on `members`
 * and one on `loans` per IDS_PER_QUERY ids (so a whole library's ids never make one statement
 * too large), sees only what was known on the cut-off day (loans checked out on or
 * before it; a return after it counts as not yet returned), and answers in id order with
 * `undefined` for ids that are not members or had not joined by the cut-off.
 */
import { chunks, type LoanTable, type Store } from '../store';
import { daysBetween } from '../util/dates';

export interface MemberActivity {
  memberId: number;
  branchId: number;
  tenureDays: number;
  /** Days since the last checkout; the tenure when there was none. */
  daysSinceLastLoan: number;
  loans30d: number;
  loans90d: number;
  /** Checkouts 91 to 180 days before the cut-off. */
  loansPrev90d: number;
  loans365d: number;
  loansTotal: number;
  distinctBooks365d: number;
  /** Mean days between consecutive checkouts in the last year (365 with fewer than two). */
  meanGapDays365d: number;
  /** Share of loans returned by the cut-off that came back after their due date. */
  lateShare: number;
  returnedLoans: number;
  openLoans: number;
  overdueOpenLoans: number;
  meanRenewals365d: number;
  /** Sum of loan days (checkout to return, or to the cut-off) in the last year: time spent with the library's books. */
  loanDays365d: number;
  /**
   * Visit days: distinct days with a checkout. A visit often lends several items (families take
   * home three or four), so loan counts mix how often a member comes with how much they carry;
   * whether they come back is a matter of visits.
   */
  visitDays90d: number;
  /** Visit days 91 to 180 days before the cut-off. */
  visitDaysPrev90d: number;
  visitDays365d: number;
  /** Visits per 30 days over the last year, or since the first visit when that is more recent (at least 30 days). */
  visitRate365d: number;
  /** Days between the last two visits (the days since the first visit when there was one; tenure when none). */
  lastVisitGapDays: number;
  /** Mean of the last three gaps between visits ÷ the mean of all earlier gaps (1 with fewer than four visits). */
  visitGapTrend: number;
  /** Visits per 30 days at the cut-off, from a log-linear fit of the monthly visit counts (`fitVisitRate`). */
  fittedVisitRate: number;
  /** Monthly log change of the visit rate in that fit (−0.1: about 10% fewer visits each month). */
  fittedVisitTrend: number;
}

type LoanRow = Omit<LoanTable, 'id' | 'branch_id'>;

export async function loadMemberActivity(store: Store, memberIds: readonly number[], cutoff: string): Promise<(MemberActivity | undefined)[]> {
  if (memberIds.length === 0) return [];
  // Summarised a slice at a time: only one slice's loans are ever held as rows, so a trainer
  // asking for every member of a large library holds a summary per member, not every loan
  // (about 50 a member).
  const byId = new Map<number, MemberActivity>();
  for (const slice of chunks([...new Set(memberIds)])) {
    const [members, loans] = await Promise.all([
      store.db.selectFrom('members').select(['id', 'joined_at', 'branch_id']).where('id', 'in', slice).where('joined_at', '<=', cutoff).execute(),
      store.db
        .selectFrom('loans')
        .select(['member_id', 'book_id', 'checked_out_at', 'due_at', 'returned_at', 'renewals'])
        .where('member_id', 'in', slice)
        .where('checked_out_at', '<=', cutoff)
        .execute(),
    ]);
    const loansByMember = new Map<number, LoanRow[]>();
    for (const loan of loans) {
      const list = loansByMember.get(loan.member_id);
      if (list) list.push(loan);
      else loansByMember.set(loan.member_id, [loan]);
    }
    for (const m of members) byId.set(m.id, summarise(m.id, m.branch_id, m.joined_at, loansByMember.get(m.id) ?? [], cutoff));
  }
  return memberIds.map((id) => byId.get(id));
}

/** `loadMemberActivity` keyed by member id, for memoising per member (members not found are absent). */
export async function memberActivityById(store: Store, memberIds: readonly number[], cutoff: string): Promise<Map<number, MemberActivity>> {
  const found = new Map<number, MemberActivity>();
  for (const activity of await loadMemberActivity(store, memberIds, cutoff)) if (activity) found.set(activity.memberId, activity);
  return found;
}

export function summarise(memberId: number, branchId: number, joinedAt: string, loans: LoanRow[], cutoff: string): MemberActivity {
  const tenureDays = Math.max(0, daysBetween(joinedAt, cutoff));
  const ages = loans.map((l) => daysBetween(l.checked_out_at, cutoff)).sort((a, b) => a - b);
  let loans30d = 0, loans90d = 0, loansPrev90d = 0, loans365d = 0;
  for (const age of ages) {
    if (age < 30) loans30d++;
    if (age < 90) loans90d++;
    else if (age < 180) loansPrev90d++;
    if (age < 365) loans365d++;
  }
  const recentAges = ages.filter((a) => a < 365);
  let meanGapDays365d = 365;
  if (recentAges.length >= 2) meanGapDays365d = (recentAges[recentAges.length - 1]! - recentAges[0]!) / (recentAges.length - 1);

  let returnedLoans = 0, lateReturns = 0, openLoans = 0, overdueOpenLoans = 0, renewals365 = 0, loanDays365d = 0;
  const books365 = new Set<number>();
  for (const loan of loans) {
    const returnedByCutoff = loan.returned_at !== null && loan.returned_at <= cutoff;
    if (returnedByCutoff) {
      returnedLoans++;
      if (loan.returned_at! > loan.due_at) lateReturns++;
    } else {
      openLoans++;
      if (loan.due_at < cutoff) overdueOpenLoans++;
    }
    const age = daysBetween(loan.checked_out_at, cutoff);
    if (age < 365) {
      renewals365 += loan.renewals;
      books365.add(loan.book_id);
      loanDays365d += daysBetween(loan.checked_out_at, returnedByCutoff ? loan.returned_at! : cutoff);
    }
  }
  return {
    ...visitSummary(ages, tenureDays),
    ...fitVisitRate(ages, tenureDays),
    memberId,
    branchId,
    tenureDays,
    daysSinceLastLoan: ages.length ? ages[0]! : tenureDays,
    loans30d,
    loans90d,
    loansPrev90d,
    loans365d,
    loansTotal: loans.length,
    distinctBooks365d: books365.size,
    meanGapDays365d,
    lateShare: returnedLoans ? lateReturns / returnedLoans : 0,
    returnedLoans,
    openLoans,
    overdueOpenLoans,
    meanRenewals365d: loans365d ? renewals365 / loans365d : 0,
    loanDays365d,
  };
}


/** Days in a 30-day month, the unit of `visitRate365d`. */
const DAYS_PER_RATE_MONTH = 30;
/** Gaps averaged at the recent end of `visitGapTrend`. */
const RECENT_GAPS = 3;

type VisitSummary = Pick<MemberActivity, 'visitDays90d' | 'visitDaysPrev90d' | 'visitDays365d' | 'visitRate365d' | 'lastVisitGapDays' | 'visitGapTrend'>;

/**
 * Visit-day figures from the ages (days before the cut-off, ascending) of a member's checkouts.
 * How often a member comes, and whether the gaps between visits are widening, is what decides
 * whether they come back: a silence of 60 days is nothing for a member who visits twice a year
 * and a warning for one who came every week.
 */
export function visitSummary(ages: readonly number[], tenureDays: number): VisitSummary {
  const visits: number[] = [];
  for (const age of ages) if (visits[visits.length - 1] !== age) visits.push(age);
  let visitDays90d = 0, visitDaysPrev90d = 0, visitDays365d = 0;
  for (const age of visits) {
    if (age < 90) visitDays90d++;
    else if (age < 180) visitDaysPrev90d++;
    if (age < 365) visitDays365d++;
  }
  const observed = Math.max(DAYS_PER_RATE_MONTH, Math.min(365, visits.length ? visits[visits.length - 1]! + 1 : 0));
  const gaps = visits.slice(1).map((age, i) => age - visits[i]!);
  let visitGapTrend = 1;
  if (gaps.length > RECENT_GAPS) {
    const recent = gaps.slice(0, RECENT_GAPS).reduce((a, b) => a + b, 0) / RECENT_GAPS;
    const earlier = gaps.slice(RECENT_GAPS).reduce((a, b) => a + b, 0) / (gaps.length - RECENT_GAPS);
    visitGapTrend = recent / earlier;
  }
  return {
    visitDays90d,
    visitDaysPrev90d,
    visitDays365d,
    visitRate365d: (visitDays365d * DAYS_PER_RATE_MONTH) / observed,
    lastVisitGapDays: gaps.length ? gaps[0]! : visits.length ? visits[0]! : tenureDays,
    visitGapTrend,
  };
}

/** Months of history the visit-rate fit looks back over (the default library holds 36 before its clock, 19 at the first training cut-off). */
export const VISIT_FIT_MONTHS = 18;
/**
 * The fit's priors, weak enough for a few visits to move them: a rate near 0.7 visits a month
 * (log sd 2, a factor of seven either way), and a monthly log trend near 0 (sd 0.1: a change of
 * 10% a month needs evidence).
 */
const RATE_PRIOR_LOG = Math.log(0.7);
const RATE_PRIOR_SD = 2;
const TREND_PRIOR_SD = 0.1;
const FIT_ITERATIONS = 20;

/**
 * A member's visit rate at the cut-off and its monthly trend, fitted to their visit days by
 * maximum a posteriori Poisson regression with a log-linear rate, rate(m) = exp(a + b m) visits
 * a month m months before the cut-off (m < 0), over up to VISIT_FIT_MONTHS months of membership.
 * Counts over fixed windows (`visitDays90d`, ...) are noisy for a member who visits a few times a
 * year; the fit uses all of their history and weighs it by how long ago each visit was, so it
 * tells a member slowing down from one who has always come rarely. The visit on the day of
 * joining is left out: nearly everyone borrows then, whatever their later habit.
 */
export function fitVisitRate(ages: readonly number[], tenureDays: number): Pick<MemberActivity, 'fittedVisitRate' | 'fittedVisitTrend'> {
  const days = Math.min(tenureDays, VISIT_FIT_MONTHS * DAYS_PER_RATE_MONTH);
  const bins = Math.max(1, Math.ceil(days / DAYS_PER_RATE_MONTH));
  const counts = new Float64Array(bins);
  const exposure = new Float64Array(bins);
  for (let k = 0; k < bins; k++) exposure[k] = Math.max(1, Math.min(DAYS_PER_RATE_MONTH, days - k * DAYS_PER_RATE_MONTH)) / DAYS_PER_RATE_MONTH;
  let last = -1;
  for (const age of ages) {
    if (age === last || age >= days) continue;
    last = age;
    counts[Math.floor(age / DAYS_PER_RATE_MONTH)]!++;
  }
  const x = Float64Array.from({ length: bins }, (_, k) => -(k + 0.5));
  let a = RATE_PRIOR_LOG;
  let b = 0;
  for (let iteration = 0; iteration < FIT_ITERATIONS; iteration++) {
    let ga = -(a - RATE_PRIOR_LOG) / RATE_PRIOR_SD ** 2, gb = -b / TREND_PRIOR_SD ** 2;
    let haa = 1 / RATE_PRIOR_SD ** 2, hab = 0, hbb = 1 / TREND_PRIOR_SD ** 2;
    for (let k = 0; k < bins; k++) {
      const mu = exposure[k]! * Math.exp(a + b * x[k]!);
      ga += counts[k]! - mu;
      gb += x[k]! * (counts[k]! - mu);
      haa += mu;
      hab += x[k]! * mu;
      hbb += x[k]! * x[k]! * mu;
    }
    // Newton step on the (concave) log posterior: [a, b] += H^-1 g, H the negated Hessian.
    const det = haa * hbb - hab * hab;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a += Math.max(-2, Math.min(2, da));
    b += Math.max(-0.5, Math.min(0.5, db));
    if (Math.abs(da) < 1e-6 && Math.abs(db) < 1e-6) break;
  }
  return { fittedVisitRate: Math.exp(a), fittedVisitTrend: b };
}
