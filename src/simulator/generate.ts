/**
 * Builds a simulated library: the real catalogue, simulated members and three years of loans,
 * with the hidden causes and true probabilities behind them, written to SQLite or PostgreSQL.
 * The same options (seed above all) always give the same rows; nothing depends on the clock.
 */
import type { TableName } from '../store';
import { Calendar, dayNumber, isoDay } from './calendar';
import { simulateBorrowing, type Loans } from './borrowing';
import { COLLECTIONS, defaultCatalogueFile, GENRES, LOAN_PERIOD_DAYS, loadCatalogue, type CatalogueBook } from './catalogue';
import { CHURN_WINDOW_DAYS, churnCutoffs, churnTruth, type ChurnTruth } from './churn';
import { drawMembers, type MemberWindow, type SimMember } from './members';
import { BRANCHES } from './people';
import { arrangeShelves } from './shelves';
import { churnChecks, lateOracleAuc, overdueByCollection, type ChurnCheck, type OverdueShare } from './summary';
import { checkTarget, describeTarget, resolveTarget, writeTables, type AnyTableRows, type WriteProgress } from './writer';

export const DEFAULT_SEED = 1;
export const DEFAULT_MEMBERS = 10_000;
export const DEFAULT_AS_OF = '2024-12-31';
export const DEFAULT_YEARS = 3;
/** Bumped whenever the same seed would produce different data. */
export const SIMULATOR_VERSION = '1';
const MAX_MEMBERS = 1_000_000;
/** Earliest join date simulated, in years before the window (members.ts draws up to 12). */
const CALENDAR_YEARS_BEFORE_WINDOW = 13;
/** Days after the as-of day the calendar must cover: due dates of open loans, the as-of churn window. */
const CALENDAR_DAYS_AFTER_AS_OF = 400;

export interface SimulationOptions {
  seed?: number;
  members?: number;
  /** The last simulated day ('YYYY-MM-DD'), the system's "now". */
  asOf?: string;
  /** Length of the simulated window in years, ending on `asOf`. */
  years?: number;
  catalogueFile?: string;
}

export interface GenerateOptions extends SimulationOptions {
  /** A SQLite file path or `sqlite:` URL, or a `postgres://` URL. */
  db: string;
  /** Replace an existing database at `db`. */
  force?: boolean;
}

export type GenerationPhase = 'catalogue' | 'members' | 'borrowing' | 'churn' | 'write' | 'indexes' | 'done';

export interface GenerationProgress {
  phase: GenerationPhase;
  message: string;
  /** Rows produced or written so far in this phase, where that applies. */
  rows?: number;
  elapsedMs: number;
}

export type ProgressListener = (progress: GenerationProgress) => void;

export interface SimulatedLibrary {
  seed: number;
  windowStartDay: number;
  asOfDay: number;
  calendar: Calendar;
  catalogue: CatalogueBook[];
  members: SimMember[];
  loans: Loans;
  churnCutoffDays: number[];
  churn: ChurnTruth;
}

export interface GenerationSummary {
  target: string;
  seed: number;
  members: number;
  windowStart: string;
  asOf: string;
  rowCounts: Record<TableName, number>;
  overdueByCollection: OverdueShare[];
  /** ROC AUC of the true late probability against the late outcome, over matured loans. */
  lateOracleAuc: number;
  churn: (ChurnCheck & { cutoff: string })[];
  elapsedMs: number;
}

interface ResolvedOptions {
  seed: number;
  members: number;
  asOfDay: number;
  years: number;
  catalogueFile: string;
}

function resolveOptions(options: SimulationOptions): ResolvedOptions {
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed must be an integer in 0..4294967295, got ${seed}`);
  const members = options.members ?? DEFAULT_MEMBERS;
  if (!Number.isInteger(members) || members < 1 || members > MAX_MEMBERS) {
    throw new RangeError(`members must be an integer in 1..${MAX_MEMBERS}, got ${members}`);
  }
  const years = options.years ?? DEFAULT_YEARS;
  if (!Number.isInteger(years) || years < 1 || years > 10) throw new RangeError(`years must be an integer in 1..10, got ${years}`);
  const asOf = options.asOf ?? DEFAULT_AS_OF;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(asOf) || isoDay(dayNumber(asOf)) !== asOf) throw new RangeError(`asOf must be a date YYYY-MM-DD, got "${asOf}"`);
  return { seed, members, asOfDay: dayNumber(asOf), years, catalogueFile: options.catalogueFile ?? defaultCatalogueFile() };
}

function progressClock(onProgress: ProgressListener): (phase: GenerationPhase, message: string, rows?: number) => void {
  const started = performance.now();
  return (phase, message, rows) => onProgress({ phase, message, rows, elapsedMs: performance.now() - started });
}

function simulate(resolved: ResolvedOptions, report: ReturnType<typeof progressClock>): SimulatedLibrary {
  const { seed, asOfDay } = resolved;
  const window: MemberWindow = { startDay: asOfDay - Math.round(resolved.years * 365.25) + 1, endDay: asOfDay };
  const calendar = new Calendar(
    window.startDay - Math.ceil(CALENDAR_YEARS_BEFORE_WINDOW * 365.25),
    asOfDay + CALENDAR_DAYS_AFTER_AS_OF,
  );

  const catalogue = loadCatalogue(resolved.catalogueFile);
  const shelves = arrangeShelves(catalogue);
  report('catalogue', `${catalogue.length} titles shelved`, catalogue.length);

  const members = drawMembers(resolved.members, seed, window, calendar, shelves, catalogue);
  report('members', `${members.length} members drawn`, members.length);

  const loans = simulateBorrowing(members, catalogue, shelves, calendar, window, seed, ({ membersDone, loans: count }) =>
    report('borrowing', `${membersDone}/${members.length} members, ${count} loans`, count),
  );
  report('borrowing', `${loans.length} loans settled`, loans.length);

  const churnCutoffDays = churnCutoffs(asOfDay);
  const churn = churnTruth(members, churnCutoffDays, calendar);
  report('churn', `${churn.probability.length} churn probabilities`, churn.probability.length);

  return { seed, windowStartDay: window.startDay, asOfDay, calendar, catalogue, members, loans, churnCutoffDays, churn };
}

/** Simulates a library in memory, without writing it anywhere. */
export function simulateLibrary(options: SimulationOptions = {}, onProgress: ProgressListener = () => {}): SimulatedLibrary {
  return simulate(resolveOptions(options), progressClock(onProgress));
}

/** A member's taste as stored in sim_member_truth: genre -> weight, genres with no weight left out. */
export function tasteJson(taste: Float64Array): string {
  const weights: Record<string, number> = {};
  GENRES.forEach((genre, g) => {
    if (taste[g]! > 0) weights[genre] = taste[g]!;
  });
  return JSON.stringify(weights);
}

/** The library as rows of the store's tables. */
export function libraryTables(library: SimulatedLibrary): AnyTableRows[] {
  const { calendar, catalogue, members, loans, churn } = library;
  const meta: [string, string][] = [
    ['as_of', calendar.iso(library.asOfDay)],
    ['window_start', calendar.iso(library.windowStartDay)],
    ['seed', String(library.seed)],
    ['members', String(members.length)],
    ['simulator_version', SIMULATOR_VERSION],
    ['churn_window_days', String(CHURN_WINDOW_DAYS)],
    ['churn_cutoffs', JSON.stringify(library.churnCutoffDays.map((d) => calendar.iso(d)))],
    ['loan_period_days', JSON.stringify(LOAN_PERIOD_DAYS)],
    ['late_intercepts', JSON.stringify(Object.fromEntries(COLLECTIONS.map((c, i) => [c, loans.lateIntercepts[i]])))],
    ['catalogue', 'goodbooks-10k by Zygmunt Zając, CC BY-SA 4.0 (see data/catalogue/NOTICE.md)'],
  ];
  return [
    { table: 'meta', count: meta.length, row: (i) => ({ key: meta[i]![0], value: meta[i]![1] }) },
    { table: 'branches', count: BRANCHES.length, row: (i) => ({ id: i + 1, name: BRANCHES[i]!.name, size: BRANCHES[i]!.size }) },
    {
      table: 'members',
      count: members.length,
      row: (i) => {
        const m = members[i]!;
        return { id: m.id, name: m.name, email: m.email, joined_at: calendar.iso(m.joinDay), branch_id: m.branch + 1 };
      },
    },
    {
      table: 'books',
      count: catalogue.length,
      row: (i) => {
        const b = catalogue[i]!;
        return {
          id: b.id,
          title: b.title,
          authors: JSON.stringify(b.authors),
          genre: b.genre,
          collection: b.collection,
          publication_year: b.publicationYear,
          isbn: b.isbn,
          average_rating: b.averageRating,
          ratings_count: b.ratingsCount,
        };
      },
    },
    {
      table: 'loans',
      count: loans.length,
      row: (i) => {
        const returned = loans.shownReturnDay[i]!;
        return {
          id: i + 1,
          member_id: members[loans.member[i]!]!.id,
          book_id: catalogue[loans.book[i]!]!.id,
          branch_id: loans.branch[i]! + 1,
          checked_out_at: calendar.iso(loans.checkoutDay[i]!),
          due_at: calendar.iso(loans.shownDueDay[i]!),
          returned_at: returned < 0 ? null : calendar.iso(returned),
          renewals: loans.shownRenewals[i]!,
        };
      },
    },
    { table: 'sim_loan_truth', count: loans.length, row: (i) => ({ loan_id: i + 1, late_probability: loans.lateProbability[i]! }) },
    {
      table: 'sim_member_truth',
      count: members.length,
      row: (i) => {
        const m = members[i]!;
        return {
          member_id: m.id,
          reliability: m.reliability,
          engagement_trend: m.engagementTrend,
          churned_at: m.churnDay < 0 ? null : calendar.iso(m.churnDay),
          taste: tasteJson(m.taste),
          favourite_authors: JSON.stringify(m.favouriteAuthors),
          intensity: m.intensity,
          profile: m.profile,
        };
      },
    },
    {
      table: 'sim_churn_truth',
      count: churn.probability.length,
      row: (i) => ({
        member_id: members[churn.member[i]!]!.id,
        cutoff: calendar.iso(churn.cutoff[i]!),
        probability: churn.probability[i]!,
      }),
    },
  ];
}

export function summariseLibrary(library: SimulatedLibrary): Pick<GenerationSummary, 'overdueByCollection' | 'lateOracleAuc' | 'churn'> {
  const { loans, asOfDay, calendar } = library;
  return {
    overdueByCollection: overdueByCollection(loans, asOfDay),
    lateOracleAuc: lateOracleAuc(loans, asOfDay),
    churn: churnChecks(loans, library.members.length, library.churn, asOfDay, CHURN_WINDOW_DAYS).map((check) => ({
      ...check,
      cutoff: calendar.iso(check.cutoffDay),
    })),
  };
}

/**
 * Simulates a library and writes it to `options.db`, replacing what is there only with
 * `force`; reports progress through `onProgress` and returns what was written.
 */
export async function generateLibrary(options: GenerateOptions, onProgress: ProgressListener = () => {}): Promise<GenerationSummary> {
  const started = performance.now();
  const resolved = resolveOptions(options);
  const target = resolveTarget(options.db);
  const force = options.force ?? false;
  await checkTarget(target, force);

  const report = progressClock(onProgress);
  const library = simulate(resolved, report);
  let lastTable = '';
  let lastRows = 0;
  const rowCounts = await writeTables(target, force, libraryTables(library), ({ table, rows, of }: WriteProgress) => {
    if (table === 'indexes') {
      report('indexes', rows === 0 ? 'building indexes' : 'indexes built');
      return;
    }
    // One event per finished table, and one per 100,000 rows written in between.
    if (table !== lastTable) lastRows = 0;
    if (rows === of || Math.floor(rows / 100_000) > Math.floor(lastRows / 100_000)) report('write', `${table} ${rows}/${of}`, rows);
    lastTable = table;
    lastRows = rows;
  });
  const summary: GenerationSummary = {
    target: describeTarget(target),
    seed: resolved.seed,
    members: resolved.members,
    windowStart: library.calendar.iso(library.windowStartDay),
    asOf: library.calendar.iso(library.asOfDay),
    rowCounts,
    ...summariseLibrary(library),
    elapsedMs: performance.now() - started,
  };
  report('done', `written to ${summary.target}`);
  return summary;
}
