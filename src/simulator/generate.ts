/**
 * Builds a simulated library: the real catalogue, simulated members and three years of loans,
 * with the hidden causes and true probabilities behind them, written to SQLite or PostgreSQL.
 * The same options (seed above all) always give the same rows; nothing depends on the clock.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Insertable } from 'kysely';
import type { Database, TableName } from '../store';
import { Calendar, dayNumber, isoDay } from './calendar';
import { borrowingContext, settleLoan, simulateBorrowing, simulateMember, type Loans, type SettledLoan } from './borrowing';
import { COLLECTIONS, defaultCatalogueFile, GENRES, LOAN_PERIOD_DAYS, loadCatalogue, type CatalogueBook } from './catalogue';
import { CHURN_WINDOW_DAYS, churnCutoffs, churnTruth, type ChurnTruth } from './churn';
import { calibrateLateInterceptsByPasses, sigmoid } from './lateness';
import { LoanSpill } from './loan-spill';
import { drawMembers, memberDrawer, type MemberWindow, type SimMember } from './members';
import { BRANCHES } from './people';
import { arrangeShelves } from './shelves';
import { streamRandom } from './streams';
import { churnCheck, churnChecks, lateOracleAuc, OracleSample, OverdueTally, overdueByCollection, type ChurnCheck, type OverdueShare } from './summary';
import {
  checkTarget, describeTarget, resolveTarget, temporaryFileFor, writeLibrary, type AnyTableRows, type TableInserter, type WriteProgress,
} from './writer';

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
  /** Members drawn, simulated and written at a time (default `MEMBER_CHUNK`); the tables do not depend on it. */
  memberChunk?: number;
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

/** The meta table's rows: what the library was generated with. */
function metaRows(library: Pick<SimulatedLibrary, 'calendar' | 'asOfDay' | 'windowStartDay' | 'seed' | 'churnCutoffDays'>, members: number, lateIntercepts: Float64Array): [string, string][] {
  const { calendar } = library;
  return [
    ['as_of', calendar.iso(library.asOfDay)],
    ['window_start', calendar.iso(library.windowStartDay)],
    ['seed', String(library.seed)],
    ['members', String(members)],
    ['simulator_version', SIMULATOR_VERSION],
    ['churn_window_days', String(CHURN_WINDOW_DAYS)],
    ['churn_cutoffs', JSON.stringify(library.churnCutoffDays.map((d) => calendar.iso(d)))],
    ['loan_period_days', JSON.stringify(LOAN_PERIOD_DAYS)],
    ['late_intercepts', JSON.stringify(Object.fromEntries(COLLECTIONS.map((c, i) => [c, lateIntercepts[i]])))],
    ['catalogue', 'goodbooks-10k by Zygmunt Zając, CC BY-SA 4.0 (see data/catalogue/NOTICE.md)'],
  ];
}

function memberRow(m: SimMember, calendar: Calendar): Insertable<Database['members']> {
  return { id: m.id, name: m.name, email: m.email, joined_at: calendar.iso(m.joinDay), branch_id: m.branch + 1 };
}

function bookRow(b: CatalogueBook): Insertable<Database['books']> {
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
}

function memberTruthRow(m: SimMember, calendar: Calendar): Insertable<Database['sim_member_truth']> {
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
}

/** A loan's row as the records show it on the as-of day; `id` is its place in checkout order + 1. */
function loanRow(
  id: number, memberId: number, book: CatalogueBook, branch: number, checkoutDay: number,
  shown: Pick<SettledLoan, 'shownDueDay' | 'shownReturnDay' | 'shownRenewals'>, calendar: Calendar,
): Insertable<Database['loans']> {
  return {
    id,
    member_id: memberId,
    book_id: book.id,
    branch_id: branch + 1,
    checked_out_at: calendar.iso(checkoutDay),
    due_at: calendar.iso(shown.shownDueDay),
    returned_at: shown.shownReturnDay < 0 ? null : calendar.iso(shown.shownReturnDay),
    renewals: shown.shownRenewals,
  };
}

/** The library as rows of the store's tables. */
export function libraryTables(library: SimulatedLibrary): AnyTableRows[] {
  const { calendar, catalogue, members, loans, churn } = library;
  const meta = metaRows(library, members.length, loans.lateIntercepts);
  return [
    { table: 'meta', count: meta.length, row: (i) => ({ key: meta[i]![0], value: meta[i]![1] }) },
    { table: 'branches', count: BRANCHES.length, row: (i) => ({ id: i + 1, name: BRANCHES[i]!.name, size: BRANCHES[i]!.size }) },
    { table: 'members', count: members.length, row: (i) => memberRow(members[i]!, calendar) },
    { table: 'books', count: catalogue.length, row: (i) => bookRow(catalogue[i]!) },
    {
      table: 'loans',
      count: loans.length,
      row: (i) =>
        loanRow(i + 1, members[loans.member[i]!]!.id, catalogue[loans.book[i]!]!, loans.branch[i]!, loans.checkoutDay[i]!, {
          shownDueDay: loans.shownDueDay[i]!,
          shownReturnDay: loans.shownReturnDay[i]!,
          shownRenewals: loans.shownRenewals[i]!,
        }, calendar),
    },
    { table: 'sim_loan_truth', count: loans.length, row: (i) => ({ loan_id: i + 1, late_probability: loans.lateProbability[i]! }) },
    { table: 'sim_member_truth', count: members.length, row: (i) => memberTruthRow(members[i]!, calendar) },
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

/** Members drawn, simulated and written per chunk: a few MB of member objects at a time. */
const MEMBER_CHUNK = 10_000;
/** Matured loans kept for the oracle AUC of the summary; beyond it, every k-th (see below). */
const ORACLE_AUC_SAMPLE = 2_000_000;

/**
 * Simulates a library and writes it to `options.db`, replacing what is there only with
 * `force`; reports progress through `onProgress` and returns what was written.
 *
 * The tables are the ones `libraryTables(simulateLibrary(options))` gives, row for row, but
 * the library is never held whole: members are drawn, simulated and written `MEMBER_CHUNK`
 * at a time, their loans spilled to disk by checkout day (`LoanSpill`), the late intercepts
 * calibrated in passes over the spilled loans, and the loans settled and written one file of
 * the spill at a time, in checkout order. What stays in memory grows with the members only
 * (about 100 bytes each: the e-mail addresses taken, each member's reliability, the churn
 * summary), not with the loans (about 50 a member).
 *
 * The one figure that differs from the in-memory path: past `ORACLE_AUC_SAMPLE` loans the
 * summary's late oracle AUC is computed over every k-th matured loan (k = loans / 2,000,000,
 * rounded up), to keep its sort bounded; the stored tables are unaffected.
 */
export async function generateLibrary(options: GenerateOptions, onProgress: ProgressListener = () => {}): Promise<GenerationSummary> {
  const started = performance.now();
  const resolved = resolveOptions(options);
  const target = resolveTarget(options.db);
  const force = options.force ?? false;
  await checkTarget(target, force);

  const report = progressClock(onProgress);
  const spillFolder = target.kind === 'sqlite' ? `${temporaryFileFor(target.file)}-loans` : mkdtempSync(path.join(tmpdir(), 'shelfmark-loans-'));
  let summary: Omit<GenerationSummary, 'target' | 'rowCounts' | 'elapsedMs'> | undefined;
  let lastRows = 0;
  const rowCounts = await writeLibrary(
    target,
    force,
    async (out) => {
      summary = await streamLibrary(resolved, options.memberChunk ?? MEMBER_CHUNK, out, spillFolder, report);
    },
    ({ table, rows, of }: WriteProgress) => {
      if (table === 'indexes') {
        report('indexes', rows === 0 ? 'building indexes' : 'indexes built');
        return;
      }
      // Loans: one event per 500,000 rows written; other tables when complete.
      if (table === 'loans' && Math.floor(rows / 500_000) > Math.floor(lastRows / 500_000)) report('write', `loans ${rows}/${of}`, rows);
      if (table === 'loans') lastRows = rows;
    },
  ).finally(() => rmSync(spillFolder, { recursive: true, force: true }));
  const result: GenerationSummary = { target: describeTarget(target), rowCounts, ...summary!, elapsedMs: performance.now() - started };
  report('done', `written to ${result.target}`);
  return result;
}

/** The streaming generation inside the write transaction; see `generateLibrary`. */
async function streamLibrary(
  resolved: ResolvedOptions,
  memberChunk: number,
  out: TableInserter,
  spillFolder: string,
  report: ReturnType<typeof progressClock>,
): Promise<Omit<GenerationSummary, 'target' | 'rowCounts' | 'elapsedMs'>> {
  const { seed, asOfDay } = resolved;
  const count = resolved.members;
  const window: MemberWindow = { startDay: asOfDay - Math.round(resolved.years * 365.25) + 1, endDay: asOfDay };
  const calendar = new Calendar(window.startDay - Math.ceil(CALENDAR_YEARS_BEFORE_WINDOW * 365.25), asOfDay + CALENDAR_DAYS_AFTER_AS_OF);
  const catalogue = loadCatalogue(resolved.catalogueFile);
  const shelves = arrangeShelves(catalogue);
  report('catalogue', `${catalogue.length} titles shelved`, catalogue.length);
  for (let i = 0; i < BRANCHES.length; i++) await out.add('branches', { id: i + 1, name: BRANCHES[i]!.name, size: BRANCHES[i]!.size });
  for (const book of catalogue) await out.add('books', bookRow(book));
  out.expected.members = count;
  out.expected.sim_member_truth = count;

  // Members a chunk at a time: drawn, simulated (loans to the spill), written with their truths.
  const churnCutoffDays = churnCutoffs(asOfDay);
  const reliability = new Float64Array(count);
  /** Per cut-off, each member's true churn probability (NaN: joined after it), for the summary. */
  const churnProbability = churnCutoffDays.map(() => new Float64Array(count).fill(Number.NaN));
  let churnRows = 0;
  const draw = memberDrawer(seed, window, calendar, shelves, catalogue);
  const context = borrowingContext(catalogue, shelves, calendar, window);
  const spill = new LoanSpill(spillFolder, window);
  try {
    if (!Number.isInteger(memberChunk) || memberChunk < 1) throw new RangeError(`memberChunk must be a positive integer, got ${memberChunk}`);
    const progressEvery = Math.max(memberChunk, Math.ceil(count / 10 / memberChunk) * memberChunk);
    for (let from = 0; from < count; from += memberChunk) {
      const chunk: SimMember[] = [];
      for (let index = from; index < Math.min(count, from + memberChunk); index++) {
        const member = draw(index + 1);
        simulateMember(index, member, seed, context, spill);
        reliability[index] = member.reliability;
        chunk.push(member);
      }
      for (const m of chunk) await out.add('members', memberRow(m, calendar));
      for (const m of chunk) await out.add('sim_member_truth', memberTruthRow(m, calendar));
      const churn = churnTruth(chunk, churnCutoffDays, calendar);
      for (let r = 0; r < churn.probability.length; r++) {
        const member = chunk[churn.member[r]!]!;
        await out.add('sim_churn_truth', { member_id: member.id, cutoff: calendar.iso(churn.cutoff[r]!), probability: churn.probability[r]! });
        churnProbability[churnCutoffDays.indexOf(churn.cutoff[r]!)]![member.id - 1] = churn.probability[r]!;
      }
      churnRows += churn.probability.length;
      const done = Math.min(count, from + memberChunk);
      if (done % progressEvery === 0 || done === count) report('borrowing', `${done}/${count} members drawn and simulated, ${spill.length} loans`, spill.length);
    }
    spill.finish();
    report('members', `${count} members written`, count);
    report('churn', `${churnRows} churn probabilities`, churnRows);

    // The late intercepts, calibrated in passes over the spilled loans in checkout order.
    const collectionOfBook = Uint8Array.from(catalogue, (b) => COLLECTIONS.indexOf(b.collection));
    const lateIntercepts = calibrateLateInterceptsByPasses((visit) => {
      for (const loans of spill.chronological()) {
        for (let i = 0; i < loans.length; i++) visit(collectionOfBook[loans.book[i]!]!, loans.lateLogit[i]!);
      }
    });
    const library = { calendar, asOfDay, windowStartDay: window.startDay, seed, churnCutoffDays };
    for (const [key, value] of metaRows(library, count, lateIntercepts)) await out.add('meta', { key, value });
    report('borrowing', `late intercepts calibrated over ${spill.length} loans`, spill.length);

    // Settle and write the loans in checkout order, gathering the summary as they go.
    out.expected.loans = spill.length;
    out.expected.sim_loan_truth = spill.length;
    const overdue = new OverdueTally();
    const oracle = new OracleSample(Math.max(1, Math.ceil(spill.length / ORACLE_AUC_SAMPLE)));
    const borrowedAfter = churnCutoffDays.map(() => new Uint8Array(count));
    const rng = streamRandom(seed, 'returns');
    const settled: SettledLoan = { probability: 0, late: false, returnDay: 0, shownDueDay: 0, shownRenewals: 0, shownReturnDay: 0 };
    for (const loans of spill.chronological()) {
      for (let i = 0; i < loans.length; i++) {
        const book = catalogue[loans.book[i]!]!;
        const collection = collectionOfBook[loans.book[i]!]!;
        const member = loans.member[i]!;
        const day = loans.checkoutDay[i]!;
        const probability = sigmoid(lateIntercepts[collection]! + loans.lateLogit[i]!);
        settleLoan(rng, { reliability: reliability[member]! }, book, day, loans.renewals[i]!, probability, asOfDay, settled);
        const id = loans.first + i + 1;
        await out.add('loans', loanRow(id, member + 1, book, loans.branch[i]!, day, settled, calendar));
        await out.add('sim_loan_truth', { loan_id: id, late_probability: probability });
        const outcome = overdue.add(collection, settled, asOfDay);
        if (outcome !== undefined) oracle.add(probability, outcome);
        churnCutoffDays.forEach((cutoff, c) => {
          if (day > cutoff && day <= cutoff + CHURN_WINDOW_DAYS) borrowedAfter[c]![member] = 1;
        });
      }
    }
    await out.flush();
    report('write', `${spill.length} loans settled and written`, spill.length);
    return {
      seed,
      members: count,
      windowStart: calendar.iso(window.startDay),
      asOf: calendar.iso(asOfDay),
      overdueByCollection: overdue.shares(),
      lateOracleAuc: oracle.auc(),
      churn: churnCutoffDays.flatMap((cutoffDay, c) => {
        if (cutoffDay + CHURN_WINDOW_DAYS > asOfDay) return [];
        const scores: number[] = [];
        const labels: number[] = [];
        churnProbability[c]!.forEach((p, m) => {
          if (Number.isNaN(p)) return;
          scores.push(p);
          labels.push(borrowedAfter[c]![m] ? 0 : 1);
        });
        return [{ ...churnCheck(cutoffDay, scores, labels), cutoff: calendar.iso(cutoffDay) }];
      }),
    };
  } finally {
    spill.close();
  }
}
