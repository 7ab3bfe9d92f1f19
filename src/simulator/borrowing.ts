/**
 * Three years of borrowing, member by member, day by day (see engagement.ts for the process),
 * held in typed arrays. Which books: the member's latent taste over genres (tilted by each
 * genre's trend) and favourite authors, mixed with popularity, avoiding books the member has
 * already borrowed. Then each loan is settled: renewals, the late outcome drawn from its true
 * probability, the return day, and what the library's records show on the as-of day.
 */
import { DAYS_PER_MONTH, type Calendar } from './calendar';
import { COLLECTIONS, GENRES, MAX_RENEWALS, type CatalogueBook, type ItemFormat } from './catalogue';
import { stopHazard, visitProbability } from './engagement';
import {
  calibrateLateIntercepts,
  drawReturn,
  lateLogitWithoutIntercept,
  loanPeriodDays,
  NEVER_RETURNED,
  sigmoid,
} from './lateness';
import type { MemberWindow, SimMember } from './members';
import { BRANCHES } from './people';
import { GENRE_TRENDS_PER_YEAR } from './seasonality';
import { pickFromShelf, type Shelves } from './shelves';
import { streamRandom } from './streams';
import type { Random } from '../util/random';

/** Share of visits made at the member's home branch. */
const HOME_BRANCH_SHARE = 0.85;
/** Share of ordinary-print picks that go straight to a favourite author. */
const FAVOURITE_AUTHOR_SHARE = 0.15;
/** Redraws before a member settles for a book they have borrowed before (a re-read). */
const MAX_PICK_ATTEMPTS = 8;
/** Popular books are often reserved by someone else, which blocks renewal half the time. */
const POPULAR_BOOK = 1;
const RESERVED_RENEWAL_FACTOR = 0.5;

/** All loans, in checkout order (loan id = index + 1). Indices refer to members[] and catalogue[]. */
export interface Loans {
  length: number;
  member: Int32Array;
  book: Int32Array;
  branch: Uint8Array;
  checkoutDay: Int32Array;
  /** Renewals the loan will have had when it comes back. */
  plannedRenewals: Uint8Array;
  /** Index into COLLECTIONS. */
  collection: Uint8Array;
  lateProbability: Float64Array;
  /** The outcome drawn from lateProbability: back after the final due date (or never). */
  late: Uint8Array;
  /** Day the item comes back, possibly after the as-of day; NEVER_RETURNED if never. */
  returnDay: Int32Array;
  /** What the records show on the as-of day: due date, renewals so far, return day or -1. */
  shownDueDay: Int32Array;
  shownRenewals: Uint8Array;
  shownReturnDay: Int32Array;
  /** Per collection, the intercept of the late model. */
  lateIntercepts: Float64Array;
}

/** Where a simulated visit puts each loan it makes (indices into members[] and catalogue[]). */
export interface LoanSink {
  push(member: number, book: number, branch: number, checkoutDay: number, renewals: number, lateLogit: number): void;
}

class GrowingColumns implements LoanSink {
  length = 0;
  member = new Int32Array(1024);
  book = new Int32Array(1024);
  branch = new Uint8Array(1024);
  checkoutDay = new Int32Array(1024);
  renewals = new Uint8Array(1024);
  lateLogit = new Float64Array(1024);

  push(member: number, book: number, branch: number, checkoutDay: number, renewals: number, lateLogit: number): void {
    if (this.length === this.member.length) this.grow();
    const i = this.length++;
    this.member[i] = member;
    this.book[i] = book;
    this.branch[i] = branch;
    this.checkoutDay[i] = checkoutDay;
    this.renewals[i] = renewals;
    this.lateLogit[i] = lateLogit;
  }

  private grow(): void {
    const size = this.member.length * 2;
    const grown = <T extends Int32Array | Uint8Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(size);
      next.set(old);
      return next;
    };
    this.member = grown(this.member, (n) => new Int32Array(n));
    this.book = grown(this.book, (n) => new Int32Array(n));
    this.branch = grown(this.branch, (n) => new Uint8Array(n));
    this.checkoutDay = grown(this.checkoutDay, (n) => new Int32Array(n));
    this.renewals = grown(this.renewals, (n) => new Uint8Array(n));
    this.lateLogit = grown(this.lateLogit, (n) => new Float64Array(n));
  }
}

export interface BorrowingContext {
  catalogue: readonly CatalogueBook[];
  shelves: Shelves;
  calendar: Calendar;
  window: MemberWindow;
  /** exp(trend * years) per (month of the window, genre). */
  genreTrend: Float64Array;
  /** A multiplier of each genre's weight on top of its trend (1: none; the simulator's drift knob). */
  genreBoost: Float64Array;
  branchCumulative: number[];
}

export function borrowingContext(catalogue: readonly CatalogueBook[], shelves: Shelves, calendar: Calendar, window: MemberWindow): BorrowingContext {
  const branchCumulative: number[] = [];
  let total = 0;
  for (const b of BRANCHES) branchCumulative.push((total += b.size));
  return { catalogue, shelves, calendar, window, genreTrend: genreTrendTable(window), genreBoost: new Float64Array(GENRES.length).fill(1), branchCumulative };
}

function genreTrendTable(window: MemberWindow): Float64Array {
  const months = Math.ceil((window.endDay - window.startDay + 1) / DAYS_PER_MONTH) + 1;
  const table = new Float64Array(months * GENRES.length);
  for (let m = 0; m < months; m++) {
    GENRES.forEach((genre, g) => {
      table[m * GENRES.length + g] = Math.exp((GENRE_TRENDS_PER_YEAR[genre] * m) / 12);
    });
  }
  return table;
}

function drawFormat(member: SimMember, rng: Random): ItemFormat {
  const u = rng.next();
  if (u < member.dvdShare) return 'dvd';
  if (u < member.dvdShare + member.largePrintShare) return 'largePrint';
  return 'print';
}

/** Scratch cumulative weights, reused across picks: allocating per pick would dominate the loop. */
const genreWeights = new Float64Array(GENRES.length);

function drawCandidate(member: SimMember, day: number, rng: Random, context: BorrowingContext): number {
  const format = drawFormat(member, rng);
  if (format === 'print' && member.favouriteAuthors.length > 0 && rng.next() < FAVOURITE_AUTHOR_SHARE) {
    const books = context.shelves.byAuthor.get(member.favouriteAuthors[rng.int(member.favouriteAuthors.length)]!);
    if (books && books.length > 0) return books[rng.int(books.length)]!;
  }
  const shelves = context.shelves.byFormat[format];
  const month = Math.floor((day - context.window.startDay) / DAYS_PER_MONTH);
  let total = 0;
  for (let g = 0; g < GENRES.length; g++) {
    const weight = shelves[g] ? member.taste[g]! * context.genreTrend[month * GENRES.length + g]! * context.genreBoost[g]! : 0;
    total += weight;
    genreWeights[g] = total;
  }
  if (total === 0) {
    // The member likes nothing this format holds (e.g. no DVDs of poetry): browse by shelf size.
    for (let g = 0; g < GENRES.length; g++) {
      total += shelves[g]?.books.length ?? 0;
      genreWeights[g] = total;
    }
  }
  return pickFromShelf(shelves[rng.pickCumulative(genreWeights)]!, rng);
}

function pickBook(member: SimMember, day: number, rng: Random, context: BorrowingContext, borrowed: Set<number>): number {
  let candidate = drawCandidate(member, day, rng, context);
  for (let attempt = 1; attempt < MAX_PICK_ATTEMPTS && borrowed.has(candidate); attempt++) {
    candidate = drawCandidate(member, day, rng, context);
  }
  return candidate;
}

function drawRenewals(member: SimMember, book: CatalogueBook, rng: Random): number {
  const chance = member.renewalPropensity * (book.popularity > POPULAR_BOOK ? RESERVED_RENEWAL_FACTOR : 1);
  let renewals = 0;
  while (renewals < MAX_RENEWALS[book.format] && rng.next() < chance) renewals++;
  return renewals;
}

/**
 * One day of one member: they may stop borrowing for good (then `churnDay` is set and this
 * answers false), else may visit and borrow, each loan going to `out`. Draws from `rng` in a
 * fixed order, so a member's days are the same whoever simulates them.
 */
export function simulateMemberDay(
  memberIndex: number, member: SimMember, day: number, rng: Random, context: BorrowingContext, borrowed: Set<number>, out: LoanSink,
): boolean {
  if (day > member.startDay && rng.next() < stopHazard(member, day)) {
    member.churnDay = day;
    return false;
  }
  if (rng.next() >= visitProbability(member, day, context.calendar)) return true;
  const items = 1 + rng.poisson(member.extraItemsPerVisit);
  const branch = rng.next() < HOME_BRANCH_SHARE ? member.branch : rng.pickCumulative(context.branchCumulative);
  for (let k = 0; k < items; k++) {
    const bookIndex = pickBook(member, day, rng, context, borrowed);
    borrowed.add(bookIndex);
    const book = context.catalogue[bookIndex]!;
    const renewals = drawRenewals(member, book, rng);
    const dueDay = day + loanPeriodDays(book) * (1 + renewals);
    out.push(memberIndex, bookIndex, branch, day, renewals, lateLogitWithoutIntercept(member, book, renewals, dueDay, items, context.calendar));
  }
  return true;
}

/** All of one member's borrowing over the window, from the member's own random stream. */
export function simulateMember(memberIndex: number, member: SimMember, seed: number, context: BorrowingContext, out: LoanSink): void {
  const rng = streamRandom(seed, 'borrowing', member.id);
  const borrowed = new Set<number>();
  for (let day = member.startDay; day <= context.window.endDay; day++) {
    if (!simulateMemberDay(memberIndex, member, day, rng, context, borrowed, out)) return;
  }
}

/** Stable counting sort by checkout day: loans of a day keep member order, then visit order. */
function chronologicalOrder(columns: GrowingColumns, window: MemberWindow): Int32Array {
  const days = window.endDay - window.startDay + 1;
  const starts = new Int32Array(days + 1);
  for (let i = 0; i < columns.length; i++) starts[columns.checkoutDay[i]! - window.startDay + 1]!++;
  for (let d = 1; d <= days; d++) starts[d]! += starts[d - 1]!;
  const order = new Int32Array(columns.length);
  for (let i = 0; i < columns.length; i++) order[starts[columns.checkoutDay[i]! - window.startDay]!++] = i;
  return order;
}

export interface BorrowingProgress {
  membersDone: number;
  loans: number;
}

/** Simulates every member's borrowing (setting `churnDay` on those who stop) and settles the loans. */
export function simulateBorrowing(
  members: SimMember[],
  catalogue: readonly CatalogueBook[],
  shelves: Shelves,
  calendar: Calendar,
  window: MemberWindow,
  seed: number,
  onProgress: (progress: BorrowingProgress) => void = () => {},
): Loans {
  const context = borrowingContext(catalogue, shelves, calendar, window);
  const columns = new GrowingColumns();
  const progressEvery = Math.max(1, Math.floor(members.length / 10));
  members.forEach((member, index) => {
    simulateMember(index, member, seed, context, columns);
    if ((index + 1) % progressEvery === 0) onProgress({ membersDone: index + 1, loans: columns.length });
  });
  return settleLoans(columns, members, catalogue, window, seed);
}

function settleLoans(
  columns: GrowingColumns,
  members: readonly SimMember[],
  catalogue: readonly CatalogueBook[],
  window: MemberWindow,
  seed: number,
): Loans {
  const n = columns.length;
  const order = chronologicalOrder(columns, window);
  const collectionIndex = new Map(COLLECTIONS.map((c, i) => [c, i]));
  const loans: Loans = {
    length: n,
    member: new Int32Array(n),
    book: new Int32Array(n),
    branch: new Uint8Array(n),
    checkoutDay: new Int32Array(n),
    plannedRenewals: new Uint8Array(n),
    collection: new Uint8Array(n),
    lateProbability: new Float64Array(n),
    late: new Uint8Array(n),
    returnDay: new Int32Array(n),
    shownDueDay: new Int32Array(n),
    shownRenewals: new Uint8Array(n),
    shownReturnDay: new Int32Array(n),
    lateIntercepts: new Float64Array(COLLECTIONS.length),
  };
  const logits = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const from = order[i]!;
    loans.member[i] = columns.member[from]!;
    loans.book[i] = columns.book[from]!;
    loans.branch[i] = columns.branch[from]!;
    loans.checkoutDay[i] = columns.checkoutDay[from]!;
    loans.plannedRenewals[i] = columns.renewals[from]!;
    loans.collection[i] = collectionIndex.get(catalogue[loans.book[i]!]!.collection)!;
    logits[i] = columns.lateLogit[from]!;
  }
  loans.lateIntercepts.set(calibrateLateIntercepts(logits, loans.collection));

  const rng = streamRandom(seed, 'returns');
  const settled: SettledLoan = { probability: 0, late: false, returnDay: 0, shownDueDay: 0, shownRenewals: 0, shownReturnDay: 0 };
  for (let i = 0; i < n; i++) {
    const probability = sigmoid(loans.lateIntercepts[loans.collection[i]!]! + logits[i]!);
    settleLoan(rng, members[loans.member[i]!]!, catalogue[loans.book[i]!]!, loans.checkoutDay[i]!, loans.plannedRenewals[i]!, probability, window.endDay, settled);
    loans.lateProbability[i] = probability;
    loans.late[i] = settled.late ? 1 : 0;
    loans.returnDay[i] = settled.returnDay;
    loans.shownDueDay[i] = settled.shownDueDay;
    loans.shownRenewals[i] = settled.shownRenewals;
    loans.shownReturnDay[i] = settled.shownReturnDay;
  }
  return loans;
}

/** One loan's outcome and what the records show of it on the as-of day (see `settleLoan`). */
export interface SettledLoan {
  probability: number;
  late: boolean;
  /** Day the item comes back, possibly after the as-of day; NEVER_RETURNED if never. */
  returnDay: number;
  shownDueDay: number;
  shownRenewals: number;
  /** -1 while the item is out on the as-of day. */
  shownReturnDay: number;
}

/**
 * Settles one loan, writing into `out` (reused across loans: millions of them are settled):
 * the late outcome drawn from its true probability, the return day, and what the library's
 * records show on `asOf`. Loans must be settled in checkout order from one 'returns' stream,
 * whether they are held in memory (`simulateBorrowing`) or read back from disk in chunks
 * (`generateLibrary`), so that both give the same outcomes.
 */
export function settleLoan(
  rng: Random,
  member: Pick<SimMember, 'reliability'>,
  book: CatalogueBook,
  checkout: number,
  renewals: number,
  probability: number,
  asOf: number,
  out: SettledLoan,
): void {
  const period = loanPeriodDays(book);
  const late = rng.next() < probability;
  const returnDay = drawReturn(rng, late, member, checkout, renewals, period);
  out.probability = probability;
  out.late = late;
  out.returnDay = returnDay;
  if (returnDay !== NEVER_RETURNED && returnDay <= asOf) {
    out.shownRenewals = renewals;
    out.shownDueDay = checkout + period * (1 + renewals);
    out.shownReturnDay = returnDay;
  } else {
    // Still out: only the renewals made by the as-of day (each on the day before it fell due).
    let shown = 0;
    while (shown < renewals && checkout + (shown + 1) * period - 1 <= asOf) shown++;
    out.shownRenewals = shown;
    out.shownDueDay = checkout + period * (1 + shown);
    out.shownReturnDay = -1;
  }
}
