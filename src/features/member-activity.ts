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
import { dayToMs } from '../util/dates';

const DAY_MS = 86_400_000;

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

type LoanRow = Pick<LoanTable, 'member_id' | 'book_id' | 'checked_out_at' | 'due_at' | 'returned_at' | 'renewals'>;

/**
 * A member's loans known on a cut-off day, compactly: per loan, in one Int32Array, its checkout,
 * due and return days (days since 1970-01-01; NOT_RETURNED when it is out), renewals and book.
 * `summariseHistory` reads nothing else, so a serving memo that keeps it beside the activity can
 * summarise the member again at a later cut-off without reading the store (see `carryMemberActivity`).
 */
export interface MemberHistory {
  memberId: number;
  branchId: number;
  joinedDay: number;
  /** LOAN_FIELDS numbers per loan: checkout, due, returned, renewals, book. */
  loans: Int32Array;
}

const LOAN_FIELDS = 5;
const CHECKOUT = 0, DUE = 1, RETURNED = 2, RENEWALS = 3, BOOK = 4;
/** The return day of a loan still out: after every day. */
const NOT_RETURNED = 2 ** 31 - 1;

/** What the subgraphs memoise: the activity at the memo's day, with the history it was summarised from. */
export type DatedMemberActivity = MemberActivity & { readonly history: MemberHistory };

/** Day numbers of 'YYYY-MM-DD' strings, parsed once per distinct day (a batch has few distinct days and many loans). */
function dayNumbers(): (day: string) => number {
  const parsed = new Map<string, number>();
  return (day) => {
    let value = parsed.get(day);
    if (value === undefined) {
      value = Math.round(dayToMs(day) / DAY_MS);
      parsed.set(day, value);
    }
    return value;
  };
}

/** The histories of a batch of members (at most IDS_PER_QUERY a statement), by id: those who had joined by the cut-off. */
async function loadMemberHistories(store: Store, memberIds: readonly number[], cutoff: string): Promise<Map<number, MemberHistory>> {
  const day = dayNumbers();
  const byId = new Map<number, MemberHistory>();
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
    for (const m of members) {
      const rows = loansByMember.get(m.id) ?? [];
      const packed = new Int32Array(rows.length * LOAN_FIELDS);
      rows.forEach((loan, i) => {
        const at = i * LOAN_FIELDS;
        packed[at + CHECKOUT] = day(loan.checked_out_at);
        packed[at + DUE] = day(loan.due_at);
        packed[at + RETURNED] = loan.returned_at === null ? NOT_RETURNED : day(loan.returned_at);
        packed[at + RENEWALS] = loan.renewals;
        packed[at + BOOK] = loan.book_id;
      });
      byId.set(m.id, { memberId: m.id, branchId: m.branch_id, joinedDay: day(m.joined_at), loans: packed });
    }
  }
  return byId;
}

export async function loadMemberActivity(store: Store, memberIds: readonly number[], cutoff: string): Promise<(MemberActivity | undefined)[]> {
  if (memberIds.length === 0) return [];
  // Summarised a slice at a time: only one slice's loans are ever held, so a trainer asking for
  // every member of a large library holds a summary per member, not every loan (about 50 a member).
  const cutoffDay = Math.round(dayToMs(cutoff) / DAY_MS);
  const byId = new Map<number, MemberActivity>();
  for (const slice of chunks([...new Set(memberIds)])) {
    for (const [id, history] of await loadMemberHistories(store, slice, cutoff)) byId.set(id, summariseHistory(history, cutoffDay));
  }
  return memberIds.map((id) => byId.get(id));
}

/**
 * `loadMemberActivity` keyed by member id, for memoising per member (members not found are
 * absent), each with the history it was summarised from, so a roll can carry it.
 */
export async function memberActivityById(store: Store, memberIds: readonly number[], cutoff: string): Promise<Map<number, DatedMemberActivity>> {
  const cutoffDay = Math.round(dayToMs(cutoff) / DAY_MS);
  const found = new Map<number, DatedMemberActivity>();
  if (memberIds.length === 0) return found;
  for (const [id, history] of await loadMemberHistories(store, memberIds, cutoff)) found.set(id, { ...summariseHistory(history, cutoffDay), history });
  return found;
}

/**
 * A member's activity at the later day `to`, from the one at `from`, when none of their loans was
 * checked out or returned after `from` and by `to` (see MemoCarry): the same history summarised at `to`.
 */
export function carryMemberActivity(activity: DatedMemberActivity, _from: string, to: string): DatedMemberActivity {
  return { ...summariseHistory(activity.history, Math.round(dayToMs(to) / DAY_MS)), history: activity.history };
}

/** A member's activity on `cutoffDay` (a day number) from their loans checked out by then. */
export function summariseHistory(history: MemberHistory, cutoffDay: number): MemberActivity {
  const { loans } = history;
  const n = loans.length / LOAN_FIELDS;
  const tenureDays = Math.max(0, cutoffDay - history.joinedDay);
  const ages: number[] = [];
  for (let i = 0; i < n; i++) ages.push(cutoffDay - loans[i * LOAN_FIELDS + CHECKOUT]!);
  ages.sort((a, b) => a - b);
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
  for (let i = 0; i < n; i++) {
    const at = i * LOAN_FIELDS;
    const checkout = loans[at + CHECKOUT]!, due = loans[at + DUE]!, returned = loans[at + RETURNED]!;
    const returnedByCutoff = returned <= cutoffDay;
    if (returnedByCutoff) {
      returnedLoans++;
      if (returned > due) lateReturns++;
    } else {
      openLoans++;
      if (due < cutoffDay) overdueOpenLoans++;
    }
    if (cutoffDay - checkout < 365) {
      renewals365 += loans[at + RENEWALS]!;
      books365.add(loans[at + BOOK]!);
      loanDays365d += (returnedByCutoff ? returned : cutoffDay) - checkout;
    }
  }
  return {
    ...visitSummary(ages, tenureDays),
    ...fitVisitRate(ages, tenureDays),
    memberId: history.memberId,
    branchId: history.branchId,
    tenureDays,
    daysSinceLastLoan: ages.length ? ages[0]! : tenureDays,
    loans30d,
    loans90d,
    loansPrev90d,
    loans365d,
    loansTotal: n,
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
