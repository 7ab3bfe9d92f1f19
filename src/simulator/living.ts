/**
 * The simulated library goes on living after its last generated day: the same members with the
 * same hidden causes (reliability, engagement, taste) keep visiting, borrowing, renewing,
 * returning and stopping, day by day, and every one of those events goes through the write
 * path (src/circulation), never straight into the library's tables. What only the simulator
 * knows is stored beside them, as `generate` does: the true late probability of each new loan
 * (`sim_loan_truth`), new members' traits and the day a member stops (`sim_member_truth`), and
 * each day the true churn probability of every member at the cut-off whose 90-day outcome
 * window closes that day (`sim_churn_truth`): the cut-off the churn trainer tests on when the
 * clock stands at that day, so the oracle follows the clock.
 *
 * Determinism: the events depend only on the generated library, the seed, the number of days
 * and the shifts. A later run continues from day 1 again and re-sends the days already lived;
 * they are duplicates (idempotent ids) and change nothing, so a crashed run can simply be
 * re-run, and 30 days then 60 more equal 90 at once.
 *
 * New members keep registering at the rate and in the seasons the generated window had, so the
 * population the models see does not simply age (see `drawRegistrations`).
 *
 * Shifts change the hidden causes from a given day on, so drift detection has something to find:
 *   reliability=SHARE@DAY        every member's reliability falls by SHARE (0..1); it governs
 *                                every loan that falls due from DAY on, the loans already out
 *                                included (an on-time loan becomes late with the probability
 *                                that makes its late share the new one)
 *   genre=NAME*FACTOR@DAY        the genre's popularity is multiplied by FACTOR
 *   cohort=COUNT:PROFILE@DAY     COUNT new members of PROFILE (adult, senior, family, teen) join
 */
import type { LibraryClock } from '../circulation';
import { applyEvents, canonicalContent, parseEvent, type CirculationEvent } from '../circulation';
import type { Kysely } from 'kysely';
import { exclusiveTransaction, readMeta, type Database, type Store } from '../store';
import { Calendar, dayNumber, isoDay } from './calendar';
import { borrowingContext, simulateMemberDay, type BorrowingContext, type LoanSink } from './borrowing';
import { COLLECTIONS, GENRES, type Genre } from './catalogue';
import { CHURN_WINDOW_DAYS } from './churn';
import { probabilityNoLoan } from './engagement';
import { simulateLibrary, SIMULATOR_VERSION, tasteJson, type SimulatedLibrary } from './generate';
import { drawReturn, loanPeriodDays, NEVER_RETURNED, reliabilityLogit, sigmoid } from './lateness';
import { drawCohort, drawRegistrations, PROFILES, type Membership, type Profile, type SimMember } from './members';
import { arrangeShelves } from './shelves';
import { streamRandom } from './streams';
import type { Random } from '../util/random';

/** Days after the generated window the calendar (and so a continuation) can cover, loans' due dates included. */
export const MAX_LIVING_DAYS = 300;
const CALENDAR_MARGIN_DAYS = 400;
const COLLECTION_INDEX = new Map<string, number>(COLLECTIONS.map((c, i) => [c, i]));

export type Shift =
  | { kind: 'reliability'; share: number; day: number }
  | { kind: 'genre'; genre: Genre; factor: number; day: number }
  | { kind: 'cohort'; members: number; profile: Profile; day: number };

export class ShiftError extends Error {}

/** Parses `reliability=0.2@30`, `genre=Fantasy*3@10` or `cohort=200:teen@45`; throws ShiftError saying what was expected. */
export function parseShift(text: string): Shift {
  const match = /^([a-z]+)=(.+)@(\d+)$/.exec(text);
  if (!match) throw new ShiftError(`--shift ${text}: expected NAME=VALUE@DAY, e.g. reliability=0.2@30, genre=Fantasy*3@10, cohort=200:teen@45`);
  const [, name, value = '', dayText] = match;
  const day = Number(dayText);
  if (!Number.isInteger(day) || day < 1 || day > MAX_LIVING_DAYS) throw new ShiftError(`--shift ${text}: DAY must be in 1..${MAX_LIVING_DAYS}`);
  switch (name) {
    case 'reliability': {
      const share = Number(value);
      if (!(share > 0 && share < 1)) throw new ShiftError(`--shift ${text}: the share reliability falls by must be between 0 and 1`);
      return { kind: 'reliability', share, day };
    }
    case 'genre': {
      const [genreName = '', factorText = ''] = value.split('*');
      const genre = GENRES.find((g) => g.toLowerCase() === genreName.toLowerCase());
      const factor = Number(factorText);
      if (!genre) throw new ShiftError(`--shift ${text}: unknown genre "${genreName}"; genres: ${GENRES.join(', ')}`);
      if (!(factor > 0 && factor <= 100)) throw new ShiftError(`--shift ${text}: FACTOR must be in (0, 100]`);
      return { kind: 'genre', genre, factor, day };
    }
    case 'cohort': {
      const [countText = '', profileName = ''] = value.split(':');
      const members = Number(countText);
      const profile = PROFILES.find((p) => p === profileName);
      if (!Number.isInteger(members) || members < 1 || members > 100_000) throw new ShiftError(`--shift ${text}: COUNT must be in 1..100000`);
      if (!profile) throw new ShiftError(`--shift ${text}: PROFILE must be one of ${PROFILES.join(', ')}`);
      return { kind: 'cohort', members, profile, day };
    }
    default:
      throw new ShiftError(`--shift ${text}: unknown shift "${name}"; known: reliability, genre, cohort`);
  }
}

export interface LivingOptions {
  days: number;
  /** Seed of the continuation's draws (default: the library's own seed). */
  seed?: number;
  shifts?: readonly Shift[];
  /** Simulated time runs this many times faster than real time; absent: as fast as possible. */
  speed?: number;
  clock?: LibraryClock;
  /** After each simulated day is committed; the next day waits for a promise it returns. */
  onDay?: (day: LivedDay) => void | Promise<void>;
  /** Every event sent, as its canonical JSON, in order. */
  onEvent?: (canonical: string) => void;
}

export interface LivedDay {
  day: string;
  /** 1 = the first day after the generated window. */
  index: number;
  events: number;
  applied: number;
  duplicates: number;
  refused: string[];
}

export interface LivingSummary {
  from: string;
  through: string;
  days: number;
  events: number;
  applied: number;
  duplicates: number;
  refused: number;
  loans: number;
  members: number;
}

type Scheduled = { kind: 'renew'; loanId: number; dueDay: number } | { kind: 'return'; loanId: number };

interface NewLoan {
  memberIndex: number;
  bookIndex: number;
  branch: number;
  renewals: number;
  lateProbability: number;
  returnDay: number;
}

/** A loan still out: what a change of its member's reliability needs to redraw its outcome. */
interface OpenLoan {
  memberIndex: number;
  checkoutDay: number;
  period: number;
  renewals: number;
  /** The final due day, after every planned renewal. */
  dueDay: number;
  probability: number;
  late: boolean;
  returnDay: number;
}

interface LivingState {
  library: SimulatedLibrary;
  members: SimMember[];
  open: Map<number, OpenLoan>;
  borrowed: Map<number, Set<number>>;
  rngs: Map<number, Random>;
  schedule: Map<number, Scheduled[]>;
  context: BorrowingContext;
  seed: number;
}

function schedule(state: LivingState, day: number, action: Scheduled): void {
  const list = state.schedule.get(day);
  if (list) list.push(action);
  else state.schedule.set(day, [action]);
}

/** Renewals (each on the day before the loan falls due) from `from` to `to`, then the return. */
function scheduleLoan(state: LivingState, loanId: number, loan: Omit<OpenLoan, 'dueDay' | 'late'>, from: number): void {
  const { checkoutDay, period, renewals, returnDay } = loan;
  for (let j = from; j <= renewals; j++) schedule(state, checkoutDay + j * period - 1, { kind: 'renew', loanId, dueDay: checkoutDay + period * (1 + j) });
  if (returnDay !== NEVER_RETURNED) schedule(state, returnDay, { kind: 'return', loanId });
  const dueDay = checkoutDay + period * (1 + renewals);
  state.open.set(loanId, { ...loan, dueDay, late: returnDay === NEVER_RETURNED || returnDay > dueDay });
}

/** The generated loans still out on the last generated day: their remaining renewals and returns. */
function scheduleOpenLoans(state: LivingState): void {
  const { loans, catalogue } = state.library;
  for (let i = 0; i < loans.length; i++) {
    if (loans.shownReturnDay[i] !== -1) continue;
    const loan = {
      memberIndex: loans.member[i]!, checkoutDay: loans.checkoutDay[i]!, period: loanPeriodDays(catalogue[loans.book[i]!]!),
      renewals: loans.plannedRenewals[i]!, probability: loans.lateProbability[i]!, returnDay: loans.returnDay[i]!,
    };
    scheduleLoan(state, i + 1, loan, loans.shownRenewals[i]! + 1);
  }
}

/**
 * Every member's reliability falls by `share` on `day`. Loans still out that fall due from then
 * on get the late probability of the new reliability; one that was to come back on time turns
 * late with probability (p′ − p) / (1 − p), so that p′ of them are late, and gets a late return
 * day in place of its on-time one. Returns the loans whose true probability changed.
 */
function reliabilityFalls(state: LivingState, day: number, share: number): { loanId: number; probability: number }[] {
  const revised: { loanId: number; probability: number }[] = [];
  for (const [loanId, loan] of [...state.open].sort((a, b) => a[0] - b[0])) {
    const member = state.members[loan.memberIndex]!;
    if (loan.dueDay < day) continue;
    const before = loan.probability;
    const logit = Math.log(before / (1 - before)) + reliabilityLogit(member.reliability * (1 - share)) - reliabilityLogit(member.reliability);
    loan.probability = sigmoid(logit);
    revised.push({ loanId, probability: loan.probability });
    const rng = streamRandom(state.seed, 'reliabilityShift', loanId);
    if (loan.late || rng.next() >= (loan.probability - before) / (1 - before)) continue;
    const unreliable = { ...member, reliability: member.reliability * (1 - share) };
    const returns = state.schedule.get(loan.returnDay);
    if (returns) state.schedule.set(loan.returnDay, returns.filter((a) => !(a.kind === 'return' && a.loanId === loanId)));
    loan.late = true;
    loan.returnDay = drawReturn(rng, true, unreliable, loan.checkoutDay, loan.renewals, loan.period);
    if (loan.returnDay !== NEVER_RETURNED) schedule(state, loan.returnDay, { kind: 'return', loanId });
  }
  for (const member of state.members) member.reliability *= 1 - share;
  return revised;
}

function rngOf(state: LivingState, member: SimMember): Random {
  let rng = state.rngs.get(member.id);
  if (!rng) {
    rng = streamRandom(state.seed, 'living', member.id);
    state.rngs.set(member.id, rng);
  }
  return rng;
}

function borrowedBy(state: LivingState, memberIndex: number): Set<number> {
  let set = state.borrowed.get(memberIndex);
  if (!set) {
    set = new Set();
    state.borrowed.set(memberIndex, set);
  }
  return set;
}

/** The day's borrowing of every member still active, with each new loan's true late probability and return day. */
function borrowOn(state: LivingState, day: number, churned: SimMember[]): NewLoan[] {
  const { library, context } = state;
  const loans: NewLoan[] = [];
  state.members.forEach((member, memberIndex) => {
    if (member.churnDay >= 0 || member.startDay > day) return;
    const rng = rngOf(state, member);
    const made: Parameters<LoanSink['push']>[] = [];
    const sink: LoanSink = { push: (...loan) => made.push(loan) };
    if (!simulateMemberDay(memberIndex, member, day, rng, context, borrowedBy(state, memberIndex), sink)) churned.push(member);
    for (const [, bookIndex, branch, , renewals, lateLogit] of made) {
      const book = library.catalogue[bookIndex]!;
      const collection = library.loans.lateIntercepts[COLLECTION_INDEX.get(book.collection) ?? 0]!;
      const lateProbability = sigmoid(collection + lateLogit);
      const late = rng.next() < lateProbability;
      const returnDay = drawReturn(rng, late, member, day, renewals, loanPeriodDays(book));
      loans.push({ memberIndex, bookIndex, branch, renewals, lateProbability, returnDay });
    }
  });
  return loans;
}

interface LivingMeta {
  from: string;
  through: string | undefined;
  seed: number;
  members: number;
  years: number;
}

async function readLivingMeta(store: Store): Promise<LivingMeta> {
  const meta = await readMeta(store);
  if (meta.simulator_version !== SIMULATOR_VERSION) {
    throw new Error(`the store was generated by simulator version ${meta.simulator_version ?? '(none)'}, this is version ${SIMULATOR_VERSION}: regenerate it first`);
  }
  const { seed, members, window_start: windowStart } = meta;
  if (!seed || !members || !windowStart || !meta.as_of) throw new Error('the store holds no generated library (meta seed, members, window_start): run `npm run generate` first');
  let from = meta.living_from;
  if (!from) {
    const events = await store.db.selectFrom('events').select('id').limit(1).execute();
    if (events.length > 0) throw new Error('the library clock has moved since the library was generated, so where simulation resumes is unknown; simulate on a freshly generated library');
    from = meta.as_of;
  }
  const years = Math.round((dayNumber(from) - dayNumber(windowStart) + 1) / 365.25);
  return { from, through: meta.living_through, seed: Number(seed), members: Number(members), years };
}

interface ChurnTruthRow {
  member_id: number;
  cutoff: string;
  probability: number;
}

/**
 * The true churn probability at `cutoff` of every member who had joined by then, given what the
 * simulation knows at the end of a later day: whether they had stopped by the cut-off, their
 * intensity and trend (the same oracle `generate` stores at its cut-offs).
 */
function churnTruthAt(members: readonly SimMember[], cutoff: number, calendar: Calendar): ChurnTruthRow[] {
  const iso = isoDay(cutoff);
  return members
    .filter((m) => m.joinDay <= cutoff)
    .map((m) => ({ member_id: m.id, cutoff: iso, probability: probabilityNoLoan(m, cutoff, CHURN_WINDOW_DAYS, calendar) }));
}

/** Cut-offs with churn truth, as the meta key `churn_cutoffs` lists them, with `added` among them. */
async function churnCutoffsWith(db: Kysely<Database>, added: string): Promise<string> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', 'churn_cutoffs').executeTakeFirst();
  const cutoffs = new Set<string>(row ? (JSON.parse(row.value) as string[]) : []);
  cutoffs.add(added);
  return JSON.stringify([...cutoffs].sort());
}

const ROWS_PER_INSERT = 500;

async function recordDay(store: Store, day: number, meta: Record<string, string>, loans: { loanId: number; probability: number }[], joined: SimMember[], changed: SimMember[], churn: ChurnTruthRow[]): Promise<void> {
  const iso = isoDay(day);
  await exclusiveTransaction(store, async (db) => {
    for (let start = 0; start < loans.length; start += ROWS_PER_INSERT) {
      const rows = loans.slice(start, start + ROWS_PER_INSERT).map((l) => ({ loan_id: l.loanId, late_probability: l.probability }));
      // A loan already stored is one whose probability a shift revised.
      await db.insertInto('sim_loan_truth').values(rows).onConflict((oc) => oc.column('loan_id').doUpdateSet({ late_probability: (eb) => eb.ref('excluded.late_probability') })).execute();
    }
    for (let start = 0; start < churn.length; start += ROWS_PER_INSERT) {
      await db.insertInto('sim_churn_truth').values(churn.slice(start, start + ROWS_PER_INSERT)).onConflict((oc) => oc.columns(['member_id', 'cutoff']).doNothing()).execute();
    }
    const cutoff = churn[0]?.cutoff;
    const churnMeta = cutoff === undefined ? {} : { churn_cutoffs: await churnCutoffsWith(db, cutoff) };
    for (const member of joined) {
      await db.insertInto('sim_member_truth').values({
        member_id: member.id, reliability: member.reliability, engagement_trend: member.engagementTrend, churned_at: null,
        taste: tasteJson(member.taste),
        favourite_authors: JSON.stringify(member.favouriteAuthors), intensity: member.intensity, profile: member.profile,
      }).onConflict((oc) => oc.column('member_id').doNothing()).execute();
    }
    for (const member of changed) {
      await db.updateTable('sim_member_truth')
        .set({ reliability: member.reliability, churned_at: member.churnDay >= 0 ? isoDay(member.churnDay) : null })
        .where('member_id', '=', member.id).execute();
    }
    for (const [key, value] of Object.entries({ ...meta, ...churnMeta, living_through: iso })) {
      await db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Lives `options.days` more days of the generated library in `store`, through the write path. */
export async function liveOn(store: Store, options: LivingOptions): Promise<LivingSummary> {
  if (!Number.isInteger(options.days) || options.days < 1) throw new RangeError(`days must be a positive whole number, got ${options.days}`);
  const meta = await readLivingMeta(store);
  const seed = options.seed ?? meta.seed;
  const shifts = [...(options.shifts ?? [])];
  const livedBefore = meta.through ? dayNumber(meta.through) - dayNumber(meta.from) : 0;
  const stored = await readMeta(store);
  if (livedBefore > 0 && (stored.living_seed !== String(seed) || stored.living_shifts !== JSON.stringify(shifts))) {
    throw new Error(`this library has lived ${livedBefore} days with seed ${stored.living_seed} and shifts ${stored.living_shifts}; continue with the same seed and shifts`);
  }
  const total = livedBefore + options.days;
  if (total > MAX_LIVING_DAYS) throw new RangeError(`a library lives at most ${MAX_LIVING_DAYS} days past its generated window; it has lived ${livedBefore}`);

  const library = simulateLibrary({ seed: meta.seed, members: meta.members, asOf: meta.from, years: meta.years });
  const end = library.asOfDay + total;
  const calendar = new Calendar(library.calendar.firstDay, end + CALENDAR_MARGIN_DAYS);
  const shelves = arrangeShelves(library.catalogue);
  const state: LivingState = {
    library,
    members: [...library.members],
    open: new Map(),
    borrowed: new Map(),
    rngs: new Map(),
    schedule: new Map(),
    context: borrowingContext(library.catalogue, shelves, calendar, { startDay: library.windowStartDay, endDay: end }),
    seed,
  };
  for (let i = 0; i < library.loans.length; i++) borrowedBy(state, library.loans.member[i]!).add(library.loans.book[i]!);
  scheduleOpenLoans(state);

  const livingMeta = { living_from: meta.from, living_seed: String(seed), living_shifts: JSON.stringify(shifts) };
  const summary: LivingSummary = { from: meta.from, through: meta.from, days: total, events: 0, applied: 0, duplicates: 0, refused: 0, loans: 0, members: 0 };
  let nextMemberId = meta.members + 1;
  const membership: Membership = { members: meta.members, window: { startDay: library.windowStartDay, endDay: library.asOfDay } };
  for (let index = 1; index <= total; index++) {
    const day = library.asOfDay + index;
    const iso = isoDay(day);
    const changed: SimMember[] = [];
    const joined: SimMember[] = [];
    const truth: { loanId: number; probability: number }[] = [];
    for (const shift of shifts.filter((s) => s.day === index)) {
      if (shift.kind === 'reliability') {
        truth.push(...reliabilityFalls(state, day, shift.share));
        changed.push(...state.members);
      } else if (shift.kind === 'genre') {
        state.context.genreBoost[GENRES.indexOf(shift.genre)]! *= shift.factor;
      } else {
        const cohort = drawCohort(shift.members, shift.profile, day, nextMemberId, seed, calendar, shelves, library.catalogue);
        nextMemberId += cohort.length;
        joined.push(...cohort);
        state.members.push(...cohort);
      }
    }
    const registered = drawRegistrations(day, nextMemberId, seed, membership, calendar, shelves, library.catalogue);
    nextMemberId += registered.length;
    joined.push(...registered);
    state.members.push(...registered);
    const raw: Record<string, unknown>[] = [{ type: 'advanceClock', to: iso }];
    const due = [...(state.schedule.get(day) ?? [])].sort((a, b) => a.loanId - b.loanId || (a.kind === 'renew' ? -1 : 1));
    state.schedule.delete(day);
    for (const action of due) {
      if (action.kind === 'return') state.open.delete(action.loanId);
      raw.push(action.kind === 'renew' ? { type: 'renewLoan', at: iso, loanId: action.loanId, dueAt: isoDay(action.dueDay) } : { type: 'returnLoan', at: iso, loanId: action.loanId });
    }
    for (const member of joined) raw.push({ type: 'registerMember', at: iso, memberId: member.id, name: member.name, email: member.email, branchId: member.branch + 1 });
    const churned: SimMember[] = [];
    const newLoans = borrowOn(state, day, churned);
    changed.push(...churned);
    for (const loan of newLoans) {
      raw.push({ type: 'checkOut', at: iso, memberId: state.members[loan.memberIndex]!.id, bookId: library.catalogue[loan.bookIndex]!.id, branchId: loan.branch + 1 });
    }
    const events: CirculationEvent[] = raw.map((r, n) => parseEvent({ ...r, id: `sim-${seed}-${iso}-${n}` }));
    for (const event of events) options.onEvent?.(canonicalContent(event));
    const results = await applyEvents(store, events, { clock: options.clock });

    const lived: LivedDay = { day: iso, index, events: events.length, applied: 0, duplicates: 0, refused: [] };
    let loanCursor = 0;
    results.forEach((result, n) => {
      const event = events[n]!;
      if ('error' in result) lived.refused.push(result.error.message);
      else if (result.applied) lived.applied += 1;
      else lived.duplicates += 1;
      if (event.type !== 'checkOut') return;
      const loan = newLoans[loanCursor++]!;
      if ('error' in result || result.loanId === null) return;
      truth.push({ loanId: result.loanId, probability: loan.lateProbability });
      const period = loanPeriodDays(library.catalogue[loan.bookIndex]!);
      scheduleLoan(state, result.loanId, { memberIndex: loan.memberIndex, checkoutDay: day, period, renewals: loan.renewals, probability: loan.lateProbability, returnDay: loan.returnDay }, 1);
    });
    // Days lived before already stored their churn truth (in the transaction that recorded them).
    const churnTruth = index > livedBefore ? churnTruthAt(state.members, day - CHURN_WINDOW_DAYS, calendar) : [];
    await recordDay(store, day, livingMeta, truth, joined, changed, churnTruth);
    summary.through = iso;
    summary.events += lived.events;
    summary.applied += lived.applied;
    summary.duplicates += lived.duplicates;
    summary.refused += lived.refused.length;
    summary.loans += newLoans.length;
    summary.members += joined.length;
    await options.onDay?.(lived);
    // Days lived before are re-sent at full speed: they are duplicates.
    if (options.speed && index > livedBefore) await sleep(86_400_000 / options.speed);
  }
  return summary;
}
