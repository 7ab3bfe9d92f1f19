/**
 * Demand features: how many loans a book had each week, and a collection series (a genre, a
 * branch, both or the whole library) each month, up to the system date. The demand model's
 * engineered inputs (season, lags, trend: src/ml/forecasting/features.ts) are computed from
 * these counts, so the counts are the one thing the trainer and the subgraph must read alike.
 *
 * Contract:
 * - Periods are complete calendar periods: weeks start on Monday (`weekStart`) and a week
 *   counts once its Sunday is on or before the system date; a month counts once its last day
 *   is. The week or month in progress on the system date is not part of the history: it is
 *   the first period a forecast is for. A history starts at the first complete period of the
 *   loan window (the simulator's `window_start`, else the first checkout) and holds at most
 *   MAX_HISTORY_WEEKS / MAX_HISTORY_MONTHS periods, so queries stay bounded as data grows.
 * - Every book has a value for every week of its calendar (0 when nobody borrowed it): the
 *   catalogue is on the shelves for the whole window, so no loans means no demand, not
 *   missing data.
 * - `bookWeeklyLoans` answers a batch of book ids with one query on books and one on loans;
 *   `collectionMonthlyLoans` answers any number of collection keys with one query on loans
 *   (joined with books for the genre).
 */
import { sql } from 'kysely';
import type { DemandSeries } from '../ml/forecasting/series';
import { chunks, IDS_PER_QUERY, type Store } from '../store';
import { addDays, daysBetween, weekStart } from '../util/dates';

/** Three years of weeks: two seasons for the model's year-over-year inputs, one to learn from. */
export const MAX_HISTORY_WEEKS = 156;
export const MAX_HISTORY_MONTHS = 60;
export const WEEKS_PER_SEASON = 52;
export const MONTHS_PER_SEASON = 12;


export interface WeeklyCalendar {
  /** Monday of the first week of history. */
  firstWeek: string;
  /** Complete weeks of history; the last ends on or before the system date. */
  weeks: number;
  /** Week of the year of `firstWeek` (0..51): the seasonal phase the model reads. */
  firstPhase: number;
}

export interface MonthlyCalendar {
  /** First month of history, YYYY-MM. */
  firstMonth: string;
  /** Complete months of history. */
  months: number;
  /** Month of the year of `firstMonth`, January = 0. */
  firstPhase: number;
}

/** Week of the year of a Monday, 0..51 (the few days of a 53rd week count as week 51). */
export function weekOfYear(monday: string): number {
  return Math.min(WEEKS_PER_SEASON - 1, Math.floor(daysBetween(`${monday.slice(0, 4)}-01-01`, monday) / 7));
}

/** The complete weeks from the first Monday on or after `loansFrom` to the last Sunday on or before `asOf`. */
export function weeklyCalendar(loansFrom: string, asOf: string, maxWeeks: number = MAX_HISTORY_WEEKS): WeeklyCalendar {
  const fromMonday = weekStart(loansFrom);
  const first = fromMonday === loansFrom ? loansFrom : addDays(fromMonday, 7);
  // The week containing `asOf` is complete only when asOf is its Sunday.
  const currentMonday = weekStart(asOf);
  const lastMonday = addDays(currentMonday, 6) === asOf ? currentMonday : addDays(currentMonday, -7);
  const available = Math.max(0, daysBetween(first, lastMonday) / 7 + 1);
  const weeks = Math.min(available, maxWeeks);
  const firstWeek = addDays(lastMonday, -7 * (weeks - 1));
  return { firstWeek, weeks, firstPhase: weekOfYear(firstWeek) };
}

/** Monday of week `index` of a calendar; `index` may run past the history (forecast weeks). */
export function weekAt(calendar: WeeklyCalendar, index: number): string {
  return addDays(calendar.firstWeek, 7 * index);
}

/** Months since year 0 of 'YYYY-MM'. */
function monthNumber(month: string): number {
  return Number(month.slice(0, 4)) * 12 + Number(month.slice(5, 7)) - 1;
}

function monthText(n: number): string {
  const year = Math.floor(n / 12);
  return `${String(year).padStart(4, '0')}-${String(n - year * 12 + 1).padStart(2, '0')}`;
}

/** The complete months from the first month starting on or after `loansFrom` to the last ending on or before `asOf`. */
export function monthlyCalendar(loansFrom: string, asOf: string, maxMonths: number = MAX_HISTORY_MONTHS): MonthlyCalendar {
  const first = monthNumber(loansFrom) + (loansFrom.slice(8) === '01' ? 0 : 1);
  const last = monthNumber(asOf) - (addDays(asOf, 1).slice(8) === '01' ? 0 : 1);
  const months = Math.min(Math.max(0, last - first + 1), maxMonths);
  const firstMonth = last - months + 1;
  return { firstMonth: monthText(firstMonth), months, firstPhase: ((firstMonth % 12) + 12) % 12 };
}

/** Month `index` of a calendar as YYYY-MM; `index` may run past the history (forecast months). */
export function monthAt(calendar: MonthlyCalendar, index: number): string {
  return monthText(monthNumber(calendar.firstMonth) + index);
}

/** The first day of the loan window: the simulator's `window_start`, else the first checkout. */
export async function loanWindowStart(store: Store): Promise<string | undefined> {
  const meta = await store.db.selectFrom('meta').select('value').where('key', '=', 'window_start').executeTakeFirst();
  if (meta) return meta.value;
  const first = await store.db.selectFrom('loans').select((eb) => eb.fn.min('checked_out_at').as('first')).executeTakeFirst();
  return (first?.first) ?? undefined;
}

/** Both calendars of a store on its system date (weeks for books, months for collections). */
export async function demandCalendars(store: Store, asOf: string): Promise<{ weekly: WeeklyCalendar; monthly: MonthlyCalendar }> {
  const from = (await loanWindowStart(store)) ?? asOf;
  return { weekly: weeklyCalendar(from, asOf), monthly: monthlyCalendar(from, asOf) };
}

export interface BookWeeklyLoans {
  /** Books found, in request order, without repeats. */
  bookIds: number[];
  /** For each book of `bookIds`, loans per week of the calendar. */
  series: DemandSeries[];
  /** For each requested id, its index in `bookIds`, or -1 for an id that is not a book. */
  rowOf: number[];
}

/**
 * Books per statement on loans when counting weekly loans. The rows come back one per book and
 * day, up to books x days (10,000 books over three years: 11 million rows, which a library of a
 * million members nearly fills), so they are read and added into the weeks a slice of books at
 * a time, never all at once.
 */
export const BOOKS_PER_LOAN_QUERY = 500;

/** Loans per calendar week of each book: one query on books per IDS_PER_QUERY ids, one on loans per BOOKS_PER_LOAN_QUERY. */
export async function bookWeeklyLoans(store: Store, bookIds: readonly number[], calendar: WeeklyCalendar): Promise<BookWeeklyLoans> {
  const unique = [...new Set(bookIds)];
  if (unique.length === 0) return { bookIds: [], series: [], rowOf: bookIds.map(() => -1) };
  const end = weekAt(calendar, calendar.weeks);
  const books = await Promise.all(chunks(unique, IDS_PER_QUERY).map((ids) => store.db.selectFrom('books').select('id').where('id', 'in', ids).execute()));
  const known = new Set(books.flat().map((b) => b.id));
  const found = unique.filter((id) => known.has(id));
  const indexOf = new Map(found.map((id, i) => [id, i]));
  const values = found.map(() => new Array<number>(calendar.weeks).fill(0));
  const weekOfDay = new Map<string, number>();
  for (const ids of calendar.weeks === 0 ? [] : chunks(found, BOOKS_PER_LOAN_QUERY)) {
    const counts = await store.db
      .selectFrom('loans')
      .select((eb) => ['book_id', 'checked_out_at', eb.fn.countAll<number>().as('loans')])
      .where('book_id', 'in', ids)
      .where('checked_out_at', '>=', calendar.firstWeek)
      .where('checked_out_at', '<', end)
      .groupBy(['book_id', 'checked_out_at'])
      .execute();
    for (const row of counts) {
      let week = weekOfDay.get(row.checked_out_at);
      if (week === undefined) {
        week = Math.floor(daysBetween(calendar.firstWeek, row.checked_out_at) / 7);
        weekOfDay.set(row.checked_out_at, week);
      }
      const i = indexOf.get(row.book_id);
      if (i !== undefined) values[i]![week]! += Number(row.loans);
    }
  }
  return {
    bookIds: found,
    series: values.map((v) => ({ values: v, firstPhase: calendar.firstPhase })),
    rowOf: bookIds.map((id) => indexOf.get(id) ?? -1),
  };
}

/** A collection series: loans of books of `genre` at branch `branchId`; null means all of them. */
export interface CollectionKey {
  genre: string | null;
  branchId: number | null;
}

/**
 * Days of checkouts one query of `collectionMonthlyLoans` reads. SQLite reads block the event
 * loop: one query over every loan of the window kept a serving process from answering (its
 * health check included) for as long as the whole scan took, which grows with the library.
 */
export const DAYS_PER_COLLECTION_READ = 7;

/**
 * Loans per calendar month of each collection series, in key order. Queries on loans (joined
 * with books), each over `DAYS_PER_COLLECTION_READ` days of checkouts and grouped by genre,
 * branch and month in the store, so each returns at most genres x branches x 2 rows however
 * many loans there are; the event loop is free between two of them.
 */
export async function collectionMonthlyLoans(store: Store, keys: readonly CollectionKey[], calendar: MonthlyCalendar, known?: { calendar: MonthlyCalendar; series: readonly DemandSeries[] }): Promise<DemandSeries[]> {
  if (keys.length === 0) return [];
  if (calendar.months === 0) return keys.map(() => ({ values: [], firstPhase: calendar.firstPhase }));
  // No event may be dated before the clock, so a month that ended before `known` was read never
  // changes: those months of `known` (the same keys on an earlier calendar with the same first
  // month) are kept and only later ones read. Its last month is read again, since checkouts on
  // the clock's day may still have joined it.
  const kept = known && known.calendar.firstMonth === calendar.firstMonth && known.series.length === keys.length ? Math.max(0, Math.min(known.calendar.months, calendar.months) - 1) : 0;
  const empty = (i: number): number[] => {
    const values = new Array<number>(calendar.months).fill(0);
    for (let m = 0; m < kept; m++) values[m] = known?.series[i]?.values[m] ?? 0;
    return values;
  };
  if (kept === calendar.months) return keys.map((_, i) => ({ values: empty(i), firstPhase: calendar.firstPhase }));
  const genres = new Set(keys.map((k) => k.genre));
  const branches = new Set(keys.map((k) => k.branchId));
  const month = sql<string>`substr(${sql.ref('loans.checked_out_at')}, 1, 7)`;
  // Loans are grouped by book first, then joined with books: the days' loans are found by the
  // checkout index whatever the genres asked. Joining first let SQLite start from books and
  // look up every book's loans of the days, two to three times the CPU at 100,000 members.
  const readDays = (from: string, to: string) => {
    let days = store.db
      .selectFrom('loans')
      .select((eb) => ['loans.book_id as book_id', 'loans.branch_id as branch_id', month.as('month'), eb.fn.countAll<number>().as('loans')])
      .where('loans.checked_out_at', '>=', from)
      .where('loans.checked_out_at', '<', to);
    // Narrow the scan when every key names a genre (or a branch); otherwise group everything.
    if (!branches.has(null)) days = days.where('loans.branch_id', 'in', [...branches] as number[]);
    let query = store.db
      .selectFrom(days.groupBy(['loans.book_id', 'loans.branch_id', month]).as('days'))
      .innerJoin('books', 'books.id', 'days.book_id')
      .select((eb) => ['books.genre as genre', 'days.branch_id as branch_id', 'days.month as month', eb.fn.sum<number>('days.loans').as('loans')]);
    if (!genres.has(null)) query = query.where('books.genre', 'in', [...genres] as string[]);
    return query.groupBy(['books.genre', 'days.branch_id', 'days.month']).execute();
  };
  const first = monthNumber(calendar.firstMonth);
  const series = keys.map((_, i) => empty(i));
  const end = `${monthAt(calendar, calendar.months)}-01`;
  for (let from = `${monthAt(calendar, kept)}-01`; from < end; ) {
    const to = addDays(from, DAYS_PER_COLLECTION_READ) < end ? addDays(from, DAYS_PER_COLLECTION_READ) : end;
    for (const row of await readDays(from, to)) {
      const m = monthNumber(row.month) - first;
      keys.forEach((key, i) => {
        if ((key.genre === null || key.genre === row.genre) && (key.branchId === null || key.branchId === row.branch_id)) series[i]![m]! += Number(row.loans);
      });
    }
    from = to;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return series.map((values) => ({ values, firstPhase: calendar.firstPhase }));
}

/** The genres of the catalogue and the branch ids, in order: what a collection key may name. */
export async function collectionDimensions(store: Store): Promise<{ genres: string[]; branchIds: number[] }> {
  const [genres, branches] = await Promise.all([
    store.db.selectFrom('books').select('genre').distinct().orderBy('genre').execute(),
    store.db.selectFrom('branches').select('id').orderBy('id').execute(),
  ]);
  return { genres: genres.map((g) => g.genre), branchIds: branches.map((b) => b.id) };
}

/** Every collection series the model learns from: the library, each genre, each branch, each genre at each branch. */
export function allCollectionKeys({ genres, branchIds }: { genres: readonly string[]; branchIds: readonly number[] }): CollectionKey[] {
  const keys: CollectionKey[] = [{ genre: null, branchId: null }];
  for (const genre of genres) keys.push({ genre, branchId: null });
  for (const branchId of branchIds) keys.push({ genre: null, branchId });
  for (const genre of genres) for (const branchId of branchIds) keys.push({ genre, branchId });
  return keys;
}
