/**
 * The write path: the only code that changes circulation data. `applyEvents` validates each
 * event against the store as the earlier events of the batch left it, and writes every
 * accepted event, its effect and its change records in one transaction under the store's
 * write lock.
 *
 * Contract, per event:
 *  - a new id: validated, then applied (`applied: true`), or refused with a CirculationError
 *    that names the reason and changes nothing;
 *  - an id applied before with the same canonical content: nothing is written, and the answer
 *    is the first one's (`applied: false`, same loan and member);
 *  - an id applied before with other content: refused, EVENT_CONFLICT.
 * Every check runs before its event touches anything, and writes are buffered until the batch
 * ends, so a refused event never leaves a partial write behind; an unexpected database error
 * rolls the whole batch back.
 */
import type { Compilable, Insertable, Kysely, Selectable } from 'kysely';
import { byKeys, chunks, exclusiveTransaction, reusableQuery, type ChangeTable, type ReusableQuery, type Database, type EventTable, type LoanTable, type Store } from '../store';
import type { MemberTable } from '../store/schema';
import { COLLECTIONS, formatOf, LOAN_PERIOD_DAYS, type Collection } from '../simulator/catalogue';
import { addDays } from '../util/dates';
import { effectiveClock, STORED_CLOCK, type LibraryClock } from './clock';
import { CirculationError } from './errors';
import { notifyChanges } from './feed';
import { canonicalContent, contentHash, eventDay, type CirculationEvent, type EventType, type LoanRef } from './events';

export type Outcome = 'applied' | 'duplicate' | 'rejected' | 'conflict';

export interface AppliedEvent {
  eventId: string;
  type: EventType;
  /** false: an event with this id and the same content was applied before; nothing changed now. */
  applied: boolean;
  loanId: number | null;
  memberId: number | null;
  /** The library clock after the event. */
  clock: string;
}

export type EventResult = AppliedEvent | { eventId: string; type: EventType; error: CirculationError };

export interface ApplyOptions {
  clock?: LibraryClock;
  /** Called once per event with its outcome (for `circulation_events_total`). */
  onOutcome?: (type: EventType, outcome: Outcome) => void;
}

export type ChangedEntity = 'member' | 'book' | 'loan' | 'clock';

type LoanRow = Selectable<LoanTable>;

/**
 * One transaction's view of the store: what the batch's events refer to, read up front in a
 * few queries, with the batch's own effects laid over it. Writes are buffered and flushed in
 * multi-row statements before the commit, so a batch costs a handful of statements, not a
 * handful per event.
 */
interface Batch {
  db: Kysely<Database>;
  clock: LibraryClock;
  storedClock: string;
  clockMoved: boolean;
  nextSeq: number;
  nextLoanId: number;
  nextMemberId: number;
  /** Events applied before or earlier in this batch, by id. */
  events: Map<string, { hash: string; loanId: number | null; memberId: number | null }>;
  members: Set<number>;
  /** Book id -> collection. */
  books: Map<number, string>;
  branches: Set<number>;
  /** Loans the batch refers to or made, as the batch has left them. */
  loans: Map<number, LoanRow>;
  newLoans: Set<number>;
  changedLoans: Set<number>;
  newMembers: Insertable<MemberTable>[];
  newEvents: Insertable<EventTable>[];
  newChanges: Insertable<ChangeTable>[];
}

interface Effect {
  loanId: number | null;
  memberId: number | null;
  changes: [ChangedEntity, number | string][];
}

/** Rows per multi-row statement: far below SQLite's limit on bound variables for every table here. */
const ROWS_PER_STATEMENT = 500;


// The write path's statements, compiled once per shape (see store/reusable-query).
const eventsById = byKeys((db, ids: readonly string[]) => db.selectFrom('events').select(['id', 'content_hash', 'loan_id', 'member_id']).where('id', 'in', ids));
const membersById = byKeys((db, ids: readonly number[]) => db.selectFrom('members').select('id').where('id', 'in', ids));
const booksById = byKeys((db, ids: readonly number[]) => db.selectFrom('books').select(['id', 'collection']).where('id', 'in', ids));
const loansById = byKeys((db, ids: readonly number[]) => db.selectFrom('loans').selectAll().where('id', 'in', ids));
const openLoansOfMembers = byKeys((db, ids: readonly number[]) => db.selectFrom('loans').selectAll().where('member_id', 'in', ids).where('returned_at', 'is', null));
const allBranches = reusableQuery({ build: (db) => db.selectFrom('branches').select('id'), parameters: () => [] });
const STORED_CLOCK_KEY = 'as_of';
const batchStartRow = reusableQuery({
  build: (db) => db.selectNoFrom((eb) => [
    eb.selectFrom('changes').select((e) => e.fn.max('seq').as('seq')).as('lastSeq'),
    eb.selectFrom('meta').select('value').where('key', '=', STORED_CLOCK_KEY).as('storedClock'),
    eb.selectFrom('loans').select((e) => e.fn.max('id').as('id')).as('lastLoanId'),
    eb.selectFrom('members').select((e) => e.fn.max('id').as('id')).as('lastMemberId'),
  ]),
  parameters: () => [STORED_CLOCK_KEY],
});

/** A multi-row insert of `columns`, in that order: one shape per row count. */
function insertRows<Row extends object>(insert: (db: Kysely<Database>, rows: Row[]) => Compilable<unknown>, columns: readonly (keyof Row)[]): ReusableQuery<Row[], unknown> {
  return reusableQuery({
    build: (db, rows) => insert(db, rows.map((row) => Object.fromEntries(columns.map((column) => [column, row[column] ?? null])) as Row)),
    parameters: (rows) => rows.flatMap((row) => columns.map((column) => row[column] ?? null)),
    shape: (rows) => rows.length,
  });
}

type MemberRow = Insertable<MemberTable>;
type EventRow = Insertable<EventTable>;
type ChangeRow = Insertable<ChangeTable>;
const insertMembers = insertRows<MemberRow>((db, rows) => db.insertInto('members').values(rows), ['id', 'name', 'email', 'joined_at', 'branch_id']);
const insertLoans = insertRows<LoanRow>((db, rows) => db.insertInto('loans').values(rows), ['id', 'member_id', 'book_id', 'branch_id', 'checked_out_at', 'due_at', 'returned_at', 'renewals']);
const insertEvents = insertRows<EventRow>((db, rows) => db.insertInto('events').values(rows), ['id', 'type', 'content', 'content_hash', 'at', 'loan_id', 'member_id']);
const insertChanges = insertRows<ChangeRow>((db, rows) => db.insertInto('changes').values(rows), ['seq', 'entity', 'entity_id', 'event_id']);
const updateLoan = reusableQuery({
  build: (db, loan: LoanRow) => db.updateTable('loans').set({ due_at: loan.due_at, returned_at: loan.returned_at, renewals: loan.renewals }).where('id', '=', loan.id),
  parameters: (loan) => [loan.due_at, loan.returned_at, loan.renewals, loan.id],
});
const updateStoredClock = reusableQuery({
  build: (db, day: string) => db.updateTable('meta').set({ value: day }).where('key', '=', STORED_CLOCK_KEY),
  parameters: (day) => [day, STORED_CLOCK_KEY],
});

function refuse(event: CirculationEvent, reason: CirculationError['reason'], message: string): CirculationError {
  return new CirculationError(reason, `event ${event.id} (${event.type}): ${message}`, event.id);
}

/** Reads what `events` refer to: earlier events with their ids, members, books, branches and loans. */
async function prefetch(batch: Batch, events: readonly CirculationEvent[]): Promise<void> {
  const { db } = batch;
  const memberIds = new Set<number>();
  const bookIds = new Set<number>();
  const loanIds = new Set<number>();
  const loanMembers = new Set<number>();
  for (const event of events) {
    if (event.type === 'checkOut') {
      memberIds.add(event.memberId);
      bookIds.add(event.bookId);
    } else if (event.type === 'registerMember' && event.memberId !== undefined) memberIds.add(event.memberId);
    else if (event.type === 'returnLoan' || event.type === 'renewLoan') {
      if ('loanId' in event) loanIds.add(event.loanId);
      else loanMembers.add(event.memberId);
    }
  }
  for (const ids of chunks([...new Set(events.map((e) => e.id))], ROWS_PER_STATEMENT)) {
    for (const row of await eventsById.execute(db, ids)) {
      batch.events.set(row.id, { hash: row.content_hash, loanId: row.loan_id, memberId: row.member_id });
    }
  }
  for (const ids of chunks([...memberIds], ROWS_PER_STATEMENT)) {
    for (const row of await membersById.execute(db, ids)) batch.members.add(row.id);
  }
  for (const ids of chunks([...bookIds], ROWS_PER_STATEMENT)) {
    for (const row of await booksById.execute(db, ids)) batch.books.set(row.id, row.collection);
  }
  for (const row of await allBranches.execute(db, undefined)) batch.branches.add(row.id);
  for (const ids of chunks([...loanIds], ROWS_PER_STATEMENT)) {
    for (const row of await loansById.execute(db, ids)) batch.loans.set(row.id, row);
  }
  for (const ids of chunks([...loanMembers], ROWS_PER_STATEMENT)) {
    for (const row of await openLoansOfMembers.execute(db, ids)) batch.loans.set(row.id, row);
  }
}

async function bookCollection(batch: Batch, bookId: number): Promise<string | undefined> {
  if (!batch.books.has(bookId)) {
    for (const row of await booksById.execute(batch.db, [bookId])) batch.books.set(row.id, row.collection);
  }
  return batch.books.get(bookId);
}

function loanPeriodDays(collection: string | undefined): number {
  const known = COLLECTIONS.find((c): c is Collection => c === collection);
  return LOAN_PERIOD_DAYS[known ? formatOf(known) : 'print'];
}

function openLoan(batch: Batch, event: CirculationEvent, ref: LoanRef): LoanRow {
  let loan: LoanRow | undefined;
  if ('loanId' in ref) loan = batch.loans.get(ref.loanId);
  else {
    for (const candidate of batch.loans.values()) {
      if (candidate.member_id !== ref.memberId || candidate.book_id !== ref.bookId || candidate.returned_at !== null) continue;
      if (!loan || candidate.checked_out_at < loan.checked_out_at || (candidate.checked_out_at === loan.checked_out_at && candidate.id < loan.id)) loan = candidate;
    }
  }
  if (!loan) {
    throw refuse(event, 'UNKNOWN_LOAN', 'loanId' in ref ? `no loan with id ${ref.loanId}` : `member ${ref.memberId} has no open loan of book ${ref.bookId}`);
  }
  if (loan.returned_at !== null) throw refuse(event, 'LOAN_ALREADY_RETURNED', `loan ${loan.id} was returned on ${loan.returned_at}`);
  return loan;
}

/** Where a batch starts, in one statement: the last change record, the stored clock and the highest loan and member ids. */
async function batchStart(db: Kysely<Database>): Promise<{ lastSeq: number; storedClock: string; lastLoanId: number; lastMemberId: number }> {
  const [row] = await batchStartRow.execute(db, undefined);
  if (!row) throw new Error('the batch start query answered no row');
  if (row.storedClock === null) throw new Error('the store has no library clock (meta.as_of): run `npm run generate` first');
  return { lastSeq: Number(row.lastSeq ?? 0), storedClock: row.storedClock, lastLoanId: Number(row.lastLoanId ?? 0), lastMemberId: Number(row.lastMemberId ?? 0) };
}

function dueAfter(event: CirculationEvent, day: string, dueAt: string | undefined, periodDays: number): string {
  if (dueAt === undefined) return addDays(day, periodDays);
  const due = dueAt.slice(0, 10);
  if (due < day) throw new CirculationError('MALFORMED', `event ${event.id} (${event.type}): dueAt ${due} is before the event's day ${day}`, event.id);
  return due;
}

function changeLoan(batch: Batch, loan: LoanRow, change: Partial<LoanRow>): void {
  batch.loans.set(loan.id, { ...loan, ...change });
  if (!batch.newLoans.has(loan.id)) batch.changedLoans.add(loan.id);
}

/** Checks one new event, then lays its effect over the batch; throws before touching anything when refused. */
async function applyEffect(batch: Batch, event: CirculationEvent, day: string): Promise<Effect> {
  switch (event.type) {
    case 'checkOut': {
      if (!batch.members.has(event.memberId)) throw refuse(event, 'UNKNOWN_MEMBER', `no member with id ${event.memberId}`);
      const collection = await bookCollection(batch, event.bookId);
      if (collection === undefined) throw refuse(event, 'UNKNOWN_BOOK', `no book with id ${event.bookId}`);
      if (!batch.branches.has(event.branchId)) throw refuse(event, 'UNKNOWN_BRANCH', `no branch with id ${event.branchId}`);
      const due = dueAfter(event, day, event.dueAt, loanPeriodDays(collection));
      const loanId = batch.nextLoanId;
      batch.nextLoanId = loanId + 1;
      batch.loans.set(loanId, {
        id: loanId, member_id: event.memberId, book_id: event.bookId, branch_id: event.branchId, checked_out_at: day, due_at: due, returned_at: null, renewals: 0,
      });
      batch.newLoans.add(loanId);
      return { loanId, memberId: event.memberId, changes: [['loan', loanId], ['member', event.memberId], ['book', event.bookId]] };
    }
    case 'returnLoan': {
      const loan = openLoan(batch, event, event);
      if (day < loan.checked_out_at) throw refuse(event, 'BEFORE_CLOCK', `loan ${loan.id} was checked out on ${loan.checked_out_at}, after ${day}`);
      changeLoan(batch, loan, { returned_at: day });
      return { loanId: loan.id, memberId: loan.member_id, changes: [['loan', loan.id], ['member', loan.member_id], ['book', loan.book_id]] };
    }
    case 'renewLoan': {
      const loan = openLoan(batch, event, event);
      const due = dueAfter(event, day, event.dueAt, loanPeriodDays(await bookCollection(batch, loan.book_id)));
      changeLoan(batch, loan, { due_at: due, renewals: loan.renewals + 1 });
      return { loanId: loan.id, memberId: loan.member_id, changes: [['loan', loan.id], ['member', loan.member_id]] };
    }
    case 'registerMember': {
      if (!batch.branches.has(event.branchId)) throw refuse(event, 'UNKNOWN_BRANCH', `no branch with id ${event.branchId}`);
      const memberId = event.memberId ?? batch.nextMemberId;
      if (batch.members.has(memberId)) throw refuse(event, 'MEMBER_EXISTS', `member ${memberId} already exists`);
      batch.nextMemberId = Math.max(batch.nextMemberId, memberId + 1);
      batch.members.add(memberId);
      batch.newMembers.push({ id: memberId, name: event.name, email: event.email, joined_at: day, branch_id: event.branchId });
      return { loanId: null, memberId, changes: [['member', memberId]] };
    }
    case 'advanceClock':
      return { loanId: null, memberId: null, changes: [] };
    default: {
      const unhandled: never = event;
      throw new Error(`unknown event type ${JSON.stringify(unhandled)}`);
    }
  }
}

async function applyOne(batch: Batch, event: CirculationEvent): Promise<AppliedEvent> {
  const content = canonicalContent(event);
  const hash = contentHash(content);
  const previous = batch.events.get(event.id);
  const clockNow = effectiveClock(batch.storedClock, batch.clock);
  if (previous) {
    if (previous.hash !== hash) throw refuse(event, 'EVENT_CONFLICT', 'an event with this id and other content was applied before');
    return { eventId: event.id, type: event.type, applied: false, loanId: previous.loanId, memberId: previous.memberId, clock: clockNow };
  }
  const day = eventDay(event);
  if (day < clockNow) throw refuse(event, 'BEFORE_CLOCK', `${day} is before the library clock (${clockNow})`);
  const effect = await applyEffect(batch, event, day);
  batch.events.set(event.id, { hash, loanId: effect.loanId, memberId: effect.memberId });
  batch.newEvents.push({ id: event.id, type: event.type, content, content_hash: hash, at: day, loan_id: effect.loanId, member_id: effect.memberId });
  const changes = [...effect.changes];
  if (day > batch.storedClock) {
    batch.storedClock = day;
    batch.clockMoved = true;
    changes.push(['clock', day]);
  }
  for (const [entity, id] of changes) batch.newChanges.push({ seq: batch.nextSeq++, entity, entity_id: String(id), event_id: event.id });
  return { eventId: event.id, type: event.type, applied: true, loanId: effect.loanId, memberId: effect.memberId, clock: effectiveClock(batch.storedClock, batch.clock) };
}

/** Writes what the batch did, parents before children (members, loans, events, change records). */
async function flush(batch: Batch): Promise<void> {
  const { db } = batch;
  for (const rows of chunks(batch.newMembers, ROWS_PER_STATEMENT)) await insertMembers.execute(db, rows);
  const loans = [...batch.newLoans].map((id) => batch.loans.get(id)).filter((row): row is LoanRow => row !== undefined);
  for (const rows of chunks(loans, ROWS_PER_STATEMENT)) await insertLoans.execute(db, rows);
  for (const id of batch.changedLoans) {
    const loan = batch.loans.get(id);
    if (loan) await updateLoan.execute(db, loan);
  }
  for (const rows of chunks(batch.newEvents, ROWS_PER_STATEMENT)) await insertEvents.execute(db, rows);
  for (const rows of chunks(batch.newChanges, ROWS_PER_STATEMENT)) await insertChanges.execute(db, rows);
  if (batch.clockMoved) await updateStoredClock.execute(db, batch.storedClock);
}

function outcomeOf(result: EventResult): Outcome {
  if ('error' in result) return result.error.reason === 'EVENT_CONFLICT' ? 'conflict' : 'rejected';
  return result.applied ? 'applied' : 'duplicate';
}

/**
 * Applies `events` in order, in one transaction; answers one result per event, in order.
 * Refused events are answered with their error and leave no trace.
 */
export async function applyEvents(store: Store, events: readonly CirculationEvent[], options: ApplyOptions = {}): Promise<EventResult[]> {
  const { answered: results, wroteChanges, lastSeq } = await exclusiveTransaction(store, async (db) => {
    const start = await batchStart(db);
    const firstSeq = start.lastSeq + 1;
    const batch: Batch = {
      db,
      clock: options.clock ?? STORED_CLOCK,
      storedClock: start.storedClock,
      clockMoved: false,
      nextSeq: firstSeq,
      nextLoanId: start.lastLoanId + 1,
      nextMemberId: start.lastMemberId + 1,
      events: new Map(),
      members: new Set(),
      books: new Map(),
      branches: new Set(),
      loans: new Map(),
      newLoans: new Set(),
      changedLoans: new Set(),
      newMembers: [],
      newEvents: [],
      newChanges: [],
    };
    await prefetch(batch, events);
    const answered: EventResult[] = [];
    for (const event of events) {
      try {
        answered.push(await applyOne(batch, event));
      } catch (error) {
        if (!(error instanceof CirculationError)) throw error;
        answered.push({ eventId: event.id, type: event.type, error });
      }
    }
    await flush(batch);
    return { answered, wroteChanges: batch.nextSeq > firstSeq, lastSeq: batch.nextSeq - 1 };
  });
  if (wroteChanges) await notifyChanges(store, lastSeq);
  if (options.onOutcome) for (const result of results) options.onOutcome(result.type, outcomeOf(result));
  return results;
}

/** Applies one event; throws its CirculationError when refused. */
export async function applyEvent(store: Store, event: CirculationEvent, options: ApplyOptions = {}): Promise<AppliedEvent> {
  const [result] = await applyEvents(store, [event], options);
  if (!result) throw new Error('applyEvents answered no result for one event');
  if ('error' in result) throw result.error;
  return result;
}
