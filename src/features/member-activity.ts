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
