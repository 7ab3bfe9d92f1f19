/**
 * Overdue features: what was known about a loan and its borrower when the book went out
 * (plus the renewals since). The label is "returned after its final due date" (or, for a loan
 * still out, already past it on the system date).
 *
 * Contract: `overdueFeatures` takes loans and the borrowers' full loan histories and is the
 * one place features are computed, for training and serving alike. Loaders fetch those rows
 * with one query per table: by loan ids (serving), by members' open loans (serving) or by a
 * checkout window (training).
 */
import { inChunks, type BookTable, type LoanTable, type Store } from '../store';
import { addDays, dayToMs, daysBetween, msToDay } from '../util/dates';
import { stratifiedPicker } from '../util/stratified-sample';

export const OVERDUE_FEATURES = [
  { name: 'member_late_share', type: 'numeric', description: "Share of the borrower's loans returned before this checkout that came back late (smoothed towards 10%)" },
  { name: 'member_returned_loans', type: 'count', description: 'Loans the borrower had returned before this checkout' },
  { name: 'member_loans_365d', type: 'count', description: 'Checkouts by the borrower in the year before this one' },
  { name: 'member_open_loans', type: 'count', description: 'Other loans the borrower had out at checkout' },
  { name: 'member_tenure_days', type: 'numeric', description: 'Days from joining to this checkout' },
  { name: 'loan_days', type: 'numeric', description: 'Days from checkout to the final due date' },
  { name: 'renewals', type: 'count', description: 'Renewals of this loan' },
  { name: 'due_month_sin', type: 'numeric', description: 'Season of the due date (sine of the month angle)' },
  { name: 'due_month_cos', type: 'numeric', description: 'Season of the due date (cosine of the month angle)' },
  { name: 'book_popularity', type: 'numeric', description: 'log(1 + Goodreads ratings count) of the title' },
  { name: 'is_dvd', type: 'binary', description: 'The item is a DVD (one-week loans)' },
  { name: 'is_large_print', type: 'binary', description: 'The item is large print' },
  { name: 'is_children', type: 'binary', description: "The item is from a children's or teen collection" },
] as const;

export const OVERDUE_FEATURE_NAMES: readonly string[] = OVERDUE_FEATURES.map((f) => f.name);

/** Smoothing of the borrower's late share: LATE_PRIOR_WEIGHT pseudo-loans at LATE_PRIOR_RATE. */
const LATE_PRIOR_RATE = 0.1;
const LATE_PRIOR_WEIGHT = 2;

export type LoanRecord = Omit<LoanTable, 'branch_id'>;

export type BookRecord = Pick<BookTable, 'id' | 'collection' | 'ratings_count'>;

export interface OverdueFeatureBatch {
  loanIds: number[];
  values: Float32Array;
}

/** Was the loan late, as known on `asOf`? Undefined while it is out and not yet due. */
export function loanWasLate(loan: Pick<LoanRecord, 'returned_at' | 'due_at'>, asOf: string): boolean | undefined {
  if (loan.returned_at !== null && loan.returned_at <= asOf) return loan.returned_at > loan.due_at;
  return loan.due_at < asOf ? true : undefined;
}

/**
 * Features of `targets`. `histories` holds every loan of the borrowers (any order); only what
 * was known on each target's checkout day is used, except the target's own renewals.
 */
export function overdueFeatures(
  targets: readonly LoanRecord[],
  histories: readonly LoanRecord[],
  books: ReadonlyMap<number, BookRecord>,
  joinedAt: ReadonlyMap<number, string>,
): OverdueFeatureBatch {
  const dayCache = new Map<string, number>();
  const day = (iso: string): number => {
    let value = dayCache.get(iso);
    if (value === undefined) {
      value = dayToMs(iso) / 86_400_000;
      dayCache.set(iso, value);
    }
    return value;
  };
  interface History { ids: Int32Array; checkout: Float64Array; returned: Float64Array; late: Uint8Array }
  const grouped = new Map<number, LoanRecord[]>();
  for (const loan of histories) {
    const list = grouped.get(loan.member_id);
    if (list) list.push(loan);
    else grouped.set(loan.member_id, [loan]);
  }
  const byMember = new Map<number, History>();
  for (const [member, loans] of grouped) {
    byMember.set(member, {
      ids: Int32Array.from(loans, (l) => l.id),
      checkout: Float64Array.from(loans, (l) => day(l.checked_out_at)),
      returned: Float64Array.from(loans, (l) => (l.returned_at === null ? Infinity : day(l.returned_at))),
      late: Uint8Array.from(loans, (l) => (l.returned_at !== null && l.returned_at > l.due_at ? 1 : 0)),
    });
  }
  const d = OVERDUE_FEATURES.length;
  const values = new Float32Array(targets.length * d);
  targets.forEach((loan, i) => {
    const checkout = loan.checked_out_at;
    const checkoutDay = day(checkout);
    const yearBefore = checkoutDay - 365;
    let returned = 0, late = 0, lastYear = 0, open = 0;
    const history = byMember.get(loan.member_id);
    const n = history ? history.ids.length : 0;
    for (let k = 0; k < n; k++) {
      const otherCheckout = history!.checkout[k]!;
      if (history!.ids[k] === loan.id || otherCheckout > checkoutDay) continue;
      if (history!.returned[k]! < checkoutDay) {
        returned++;
        late += history!.late[k]!;
      } else open++;
      if (otherCheckout >= yearBefore) lastYear++;
    }
    const book = books.get(loan.book_id);
    const collection = book?.collection ?? '';
    const month = Number(loan.due_at.slice(5, 7)) - 1;
    const angle = (2 * Math.PI * month) / 12;
    const joined = joinedAt.get(loan.member_id) ?? checkout;
    values.set(
      [
        (late + LATE_PRIOR_RATE * LATE_PRIOR_WEIGHT) / (returned + LATE_PRIOR_WEIGHT),
        returned,
        lastYear,
        open,
        Math.max(0, daysBetween(joined, checkout)),
        daysBetween(checkout, loan.due_at),
        loan.renewals,
        Math.sin(angle),
        Math.cos(angle),
        Math.log1p(book?.ratings_count ?? 0),
        collection === 'DVD' ? 1 : 0,
        collection === 'Large Print' ? 1 : 0,
        /^(Child|YA)/.test(collection) ? 1 : 0,
      ],
      i * d,
    );
  });
  return { loanIds: targets.map((l) => l.id), values };
}

const LOAN_COLUMNS = ['id', 'member_id', 'book_id', 'checked_out_at', 'due_at', 'returned_at', 'renewals'] as const;

async function booksAndMembers(store: Store, targets: readonly LoanRecord[]) {
  const bookIds = [...new Set(targets.map((l) => l.book_id))];
  const memberIds = [...new Set(targets.map((l) => l.member_id))];
  const [books, members] = await Promise.all([
    inChunks(bookIds, (slice) => store.db.selectFrom('books').select(['id', 'collection', 'ratings_count']).where('id', 'in', slice).execute()),
    inChunks(memberIds, (slice) => store.db.selectFrom('members').select(['id', 'joined_at']).where('id', 'in', slice).execute()),
  ]);
  return { books: new Map(books.map((b) => [b.id, b])), joinedAt: new Map(members.map((m) => [m.id, m.joined_at])) };
}

export interface ServingBatch {
  /** The loans scored: the requested loans, then the members' open loans. */
  loans: LoanRecord[];
  /** How many of `loans` are requested loans (the rest are members' open loans). */
  requestedCount: number;
  features: OverdueFeatureBatch;
}

/**
 * Whether a loan is out and not yet due on `day`: a loan already past its due date is late for
 * certain, so only loans still due are at risk.
 */
function stillDueOn(loan: Pick<LoanRecord, 'due_at' | 'returned_at'>, day: string): boolean {
  return loan.due_at >= day && (loan.returned_at === null || loan.returned_at > day);
}

/**
 * Serving: features of the loans with `loanIds` and of the open loans of `memberIds` that are
 * not yet due on `asOf`, together. Per IDS_PER_QUERY ids: one query for the requested loans'
 * borrowers, one on loans for the borrowers' and members' histories, one on books, one on members.
 */
export async function overdueServingFeatures(
  store: Store,
  { loanIds = [], memberIds = [] }: { loanIds?: readonly number[]; memberIds?: readonly number[] },
  asOf: string,
): Promise<ServingBatch> {
  if (loanIds.length === 0 && memberIds.length === 0) return { loans: [], requestedCount: 0, features: { loanIds: [], values: new Float32Array(0) } };
  const wantedLoans = new Set(loanIds);
  const wantedMembers = new Set(memberIds);
  const borrowers = await inChunks([...wantedLoans], (slice) => store.db.selectFrom('loans').select('member_id').where('id', 'in', slice).execute());
  const histories = await inChunks([...new Set([...wantedMembers, ...borrowers.map((b) => b.member_id)])], (slice) =>
    store.db.selectFrom('loans').select(LOAN_COLUMNS).where('member_id', 'in', slice).execute(),
  );
  // Checkout (id) order whatever plan the store chose: the order a member's loans are scored and
  // combined in must not depend on which members were asked with them (sums of floats).
  histories.sort((a, b) => a.id - b.id);
  const requested = histories.filter((l) => wantedLoans.has(l.id));
  const open = histories.filter((l) => wantedMembers.has(l.member_id) && l.checked_out_at <= asOf && stillDueOn(l, asOf));
  const loans = [...requested, ...open];
  const { books, joinedAt } = await booksAndMembers(store, loans);
  return { loans, requestedCount: requested.length, features: overdueFeatures(loans, histories, books, joinedAt) };
}

/**
 * A loan as it stood on its checkout day: not yet renewed or returned, due after one loan
 * period (its current loan days shared equally among the checkout and each renewal).
 */
export function loanAtCheckout(loan: LoanRecord): LoanRecord {
  const period = Math.round(daysBetween(loan.checked_out_at, loan.due_at) / (1 + loan.renewals));
  return { ...loan, renewals: 0, returned_at: null, due_at: addDays(loan.checked_out_at, period) };
}

/**
 * Features of loans as serving computed them on each loan's checkout day, whatever has happened
 * to the loans since (renewals, a later due date, the return): the rows a version's references
 * and its calibration windows hold. Loans the store does not hold are left out.
 */
export async function overdueCheckoutFeatures(store: Store, loanIds: readonly number[]): Promise<OverdueFeatureBatch> {
  const borrowers = await inChunks([...new Set(loanIds)], (slice) => store.db.selectFrom('loans').select('member_id').where('id', 'in', slice).execute());
  const histories = await inChunks([...new Set(borrowers.map((b) => b.member_id))], (slice) => store.db.selectFrom('loans').select(LOAN_COLUMNS).where('member_id', 'in', slice).execute());
  const wanted = new Set(loanIds);
  const targets = histories.filter((l) => wanted.has(l.id)).map(loanAtCheckout);
  const { books, joinedAt } = await booksAndMembers(store, targets);
  return overdueFeatures(targets, histories, books, joinedAt);
}

/** Training rows: loans in id order (= checkout order), their features and labels. */
export interface OverdueTrainingSet {
  features: OverdueFeatureBatch;
  labels: Uint8Array;
  /** Each row's borrower. */
  memberIds: Int32Array;
  /** Each row's final due date, in days since 1970-01-01 (see `dueDateOf`): what its outcome is settled by. */
  dueDays: Int32Array;
  /** When the rows are a sample (the window held more loans than its cap): the window's loans. */
  sampledFrom?: number;
}

const DAY_MS = 86_400_000;

/** The due date (YYYY-MM-DD) of training row `i`. */
export function dueDateOf(set: Pick<OverdueTrainingSet, 'dueDays'>, i: number): string {
  return msToDay(set.dueDays[i]! * DAY_MS);
}

/** Loans read per page when the training loans are listed. */
const TRAINING_LOANS_PER_PAGE = 100_000;
/** Borrowers whose histories are read, and whose loans' rows are computed, at a time. */
const TRAINING_MEMBERS_PER_CHUNK = 5_000;

/**
 * Visits every loan checked out in [from, to), in id order, reading `pageSize` loans at a
 * time: what a pass over a window holds is one page, whatever the library's size.
 */
export async function forEachLoanCheckedOut(
  store: Store,
  from: string,
  to: string,
  visit: (loan: Pick<LoanRecord, 'id' | 'member_id' | 'checked_out_at' | 'due_at' | 'returned_at'>) => void,
  pageSize = TRAINING_LOANS_PER_PAGE,
): Promise<void> {
  for (let after = 0; ; ) {
    const page = await store.db
      .selectFrom('loans')
      .select(['id', 'member_id', 'checked_out_at', 'due_at', 'returned_at'])
      .where('id', '>', after)
      .where('checked_out_at', '>=', from)
      .where('checked_out_at', '<', to)
      .orderBy('id')
      .limit(pageSize)
      .execute();
    for (const loan of page) visit(loan);
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.id;
  }
}

/**
 * A cap on a window's training rows: a seeded sample of the window's loans, stratified by
 * checkout order (`stratifiedPicker`): the loans in id (= checkout) order are cut into `maxRows`
 * equal blocks and one loan of each is kept, so each loan has the same chance and each stretch of
 * the window its share. A window of at most `maxRows` loans is kept whole.
 */
export interface TrainingSample {
  maxRows: number;
  seed: number;
}

/** Loans checked out in [from, to): the population a training sample is drawn from. */
export async function loansCheckedOutCount(store: Store, from: string, to: string): Promise<number> {
  const row = await store.db
    .selectFrom('loans')
    .select((eb) => eb.fn.countAll().as('loans'))
    .where('checked_out_at', '>=', from)
    .where('checked_out_at', '<', to)
    .executeTakeFirstOrThrow();
  // PostgreSQL answers a count as a string (bigint).
  return Number(row.loans);
}

/**
 * Training: every loan checked out in [from, to) whose outcome is known on `asOf` (or, with
 * `sample`, those of the sampled loans), with its features and label, in id order. A sampled
 * loan's features are computed from its borrower's whole history, as serving computes them.
 *
 * Built in two passes so that memory grows by about 65 bytes a row (the rows themselves),
 * not by a few hundred bytes for every loan before `to` held as an object (1.4 GB of objects
 * for the 5 million loans of a 100,000-member library): the training loans are listed a page
 * at a time, keeping only ids, borrowers and labels; then their borrowers' histories are read
 * `TRAINING_MEMBERS_PER_CHUNK` borrowers at a time (a range of the member index) and each
 * chunk's rows computed by `overdueFeatures` and written at their place. A row's features
 * depend only on its borrower's loans, so the rows are the ones one pass over everything gives.
 */
export async function overdueTrainingSet(store: Store, from: string, to: string, asOf: string, sample?: TrainingSample): Promise<OverdueTrainingSet> {
  const population = sample ? await loansCheckedOutCount(store, from, to) : 0;
  const sampled = sample ? stratifiedPicker(population, sample.maxRows, sample.seed) : () => true;
  const loanIds: number[] = [];
  let members = new Int32Array(1024);
  let labels = new Uint8Array(1024);
  let dues = new Int32Array(1024);
  await forEachLoanCheckedOut(store, from, to, (loan) => {
    if (!sampled()) return;
    const late = loanWasLate(loan, asOf);
    if (late === undefined) return;
    if (loanIds.length === members.length) {
      members = grown(members, new Int32Array(members.length * 2));
      labels = grown(labels, new Uint8Array(labels.length * 2));
      dues = grown(dues, new Int32Array(dues.length * 2));
    }
    members[loanIds.length] = loan.member_id;
    dues[loanIds.length] = dayToMs(loan.due_at) / DAY_MS;
    labels[loanIds.length] = late ? 1 : 0;
    loanIds.push(loan.id);
  });
  const n = loanIds.length;
  const memberIds = members.slice(0, n);
  const d = OVERDUE_FEATURES.length;
  const values = new Float32Array(n * d);
  const books = new Map((await store.db.selectFrom('books').select(['id', 'collection', 'ratings_count']).execute()).map((b) => [b.id, b]));
  const borrowers = [...new Set(memberIds)].sort((a, b) => a - b);
  for (let c = 0; c < borrowers.length; c += TRAINING_MEMBERS_PER_CHUNK) {
    const low = borrowers[c]!;
    const high = borrowers[Math.min(borrowers.length, c + TRAINING_MEMBERS_PER_CHUNK) - 1]!;
    const [histories, joined] = await Promise.all([
      store.db.selectFrom('loans').select(LOAN_COLUMNS).where('member_id', '>=', low).where('member_id', '<=', high).where('checked_out_at', '<', to).execute(),
      store.db.selectFrom('members').select(['id', 'joined_at']).where('id', '>=', low).where('id', '<=', high).execute(),
    ]);
    const targets: LoanRecord[] = [];
    const places: number[] = [];
    for (const loan of histories) {
      const place = sortedIndexOf(loanIds, loan.id);
      if (place < 0) continue;
      targets.push(loan);
      places.push(place);
    }
    const rows = overdueFeatures(targets, histories, books, new Map(joined.map((m) => [m.id, m.joined_at]))).values;
    places.forEach((place, k) => values.set(rows.subarray(k * d, (k + 1) * d), place * d));
  }
  const set: OverdueTrainingSet = { features: { loanIds, values }, labels: labels.slice(0, n), memberIds, dueDays: dues.slice(0, n) };
  return sample && population > sample.maxRows ? { ...set, sampledFrom: population } : set;
}

function grown<T extends Int32Array | Uint8Array>(old: T, next: T): T {
  next.set(old);
  return next;
}

/** The index of `value` in the ascending `sorted`, or -1. */
function sortedIndexOf(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const at = sorted[mid]!;
    if (at === value) return mid;
    if (at < value) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}

/** A member's open loans not yet due on the as-of date, with their feature rows. */
export interface MemberOpenLoans {
  loans: LoanRecord[];
  /** Row-major loans.length x OVERDUE_FEATURES.length. */
  values: Float32Array;
}

/**
 * Serving, per member: `overdueServingFeatures` for the members' open loans, split by member,
 * so each member's rows can be kept and reused. Every member of the store gets an entry (no
 * open loans: an empty one); ids that are not members get none. One more query, on members.
 */
export async function memberOpenLoanFeatures(store: Store, memberIds: readonly number[], asOf: string): Promise<Map<number, MemberOpenLoans>> {
  const result = new Map<number, MemberOpenLoans>();
  if (memberIds.length === 0) return result;
  const [batch, members] = await Promise.all([
    overdueServingFeatures(store, { memberIds }, asOf),
    inChunks([...new Set(memberIds)], (slice) => store.db.selectFrom('members').select('id').where('id', 'in', slice).execute()),
  ]);
  const d = OVERDUE_FEATURES.length;
  const rowsOf = new Map<number, number[]>();
  batch.loans.forEach((loan, i) => {
    const rows = rowsOf.get(loan.member_id);
    if (rows) rows.push(i);
    else rowsOf.set(loan.member_id, [i]);
  });
  for (const { id } of members) {
    const rows = rowsOf.get(id) ?? [];
    const values = new Float32Array(rows.length * d);
    rows.forEach((row, k) => values.set(batch.features.values.subarray(row * d, (row + 1) * d), k * d));
    result.set(id, { loans: rows.map((row) => batch.loans[row]!), values });
  }
  return result;
}

/**
 * A member's open loans at the later day `to`, from those at `from`, when none of the member's
 * loans was checked out or returned after `from` and by `to` (see MemoCarry): the loans still due.
 * A loan's feature row depends on what was known at its checkout and on its renewals, not on the
 * day it is scored, so the rows are kept as they are.
 */
export function carryOpenLoans(value: MemberOpenLoans, _from: string, to: string): MemberOpenLoans {
  const kept: number[] = [];
  value.loans.forEach((loan, i) => {
    if (stillDueOn(loan, to)) kept.push(i);
  });
  if (kept.length === value.loans.length) return value;
  const d = OVERDUE_FEATURES.length;
  const values = new Float32Array(kept.length * d);
  kept.forEach((row, k) => values.set(value.values.subarray(row * d, (row + 1) * d), k * d));
  return { loans: kept.map((row) => value.loans[row]!), values };
}
