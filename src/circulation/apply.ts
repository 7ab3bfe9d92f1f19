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
 * Every check runs before the first write of its event, so a refused event never leaves a
 * partial write behind; an unexpected database error rolls the whole batch back.
 */
import type { Kysely } from 'kysely';
import { exclusiveTransaction, type Database, type Store } from '../store';
import { COLLECTIONS, formatOf, LOAN_PERIOD_DAYS, type Collection } from '../simulator/catalogue';
import { addDays } from '../util/dates';
import { effectiveClock, readStoredClock, STORED_CLOCK, type LibraryClock } from './clock';
import { CirculationError } from './errors';
import { latestChange, notifyChanges } from './feed';
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

/** What one transaction knows beyond the tables: the clock and the next free numbers. */
interface Batch {
  db: Kysely<Database>;
  clock: LibraryClock;
  storedClock: string;
  clockMoved: boolean;
  nextSeq: number;
  nextLoanId: number | undefined;
  nextMemberId: number | undefined;
}

interface Effect {
  loanId: number | null;
  memberId: number | null;
  changes: [ChangedEntity, number | string][];
}

function refuse(event: CirculationEvent, reason: CirculationError['reason'], message: string): CirculationError {
  return new CirculationError(reason, `event ${event.id} (${event.type}): ${message}`, event.id);
}

async function requireRow(batch: Batch, event: CirculationEvent, table: 'members' | 'books' | 'branches', id: number): Promise<void> {
  const row = await batch.db.selectFrom(table).select('id').where('id', '=', id).executeTakeFirst();
  if (row) return;
  const reason = table === 'members' ? 'UNKNOWN_MEMBER' : table === 'books' ? 'UNKNOWN_BOOK' : 'UNKNOWN_BRANCH';
  throw refuse(event, reason, `no ${table.replace(/e?s$/, '')} with id ${id}`);
}

async function loanPeriodDays(batch: Batch, bookId: number): Promise<number> {
  const book = await batch.db.selectFrom('books').select('collection').where('id', '=', bookId).executeTakeFirst();
  const collection = COLLECTIONS.find((c) => c === book?.collection) as Collection | undefined;
  return LOAN_PERIOD_DAYS[collection ? formatOf(collection) : 'print'];
}

async function openLoan(batch: Batch, event: CirculationEvent, ref: LoanRef) {
  const query = batch.db.selectFrom('loans').selectAll();
  const loan = 'loanId' in ref
    ? await query.where('id', '=', ref.loanId).executeTakeFirst()
    : await query.where('member_id', '=', ref.memberId).where('book_id', '=', ref.bookId).where('returned_at', 'is', null).orderBy('checked_out_at').orderBy('id').executeTakeFirst();
  if (!loan) {
    throw refuse(event, 'UNKNOWN_LOAN', 'loanId' in ref ? `no loan with id ${ref.loanId}` : `member ${ref.memberId} has no open loan of book ${ref.bookId}`);
  }
  if (loan.returned_at !== null) throw refuse(event, 'LOAN_ALREADY_RETURNED', `loan ${loan.id} was returned on ${loan.returned_at}`);
  return loan;
}

async function nextId(batch: Batch, table: 'loans' | 'members'): Promise<number> {
  const row = await batch.db.selectFrom(table).select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
  return Number(row?.id ?? 0) + 1;
}

function dueAfter(event: CirculationEvent, day: string, dueAt: string | undefined, periodDays: number): string {
  if (dueAt === undefined) return addDays(day, periodDays);
  const due = dueAt.slice(0, 10);
  if (due < day) throw new CirculationError('MALFORMED', `event ${event.id} (${event.type}): dueAt ${due} is before the event's day ${day}`, event.id);
  return due;
}

/** Checks, then writes, one new event's effect on the library's tables. */
async function applyEffect(batch: Batch, event: CirculationEvent, day: string): Promise<Effect> {
  const { db } = batch;
  switch (event.type) {
    case 'checkOut': {
      await requireRow(batch, event, 'members', event.memberId);
      await requireRow(batch, event, 'books', event.bookId);
      await requireRow(batch, event, 'branches', event.branchId);
      const due = dueAfter(event, day, event.dueAt, await loanPeriodDays(batch, event.bookId));
      const loanId = batch.nextLoanId ?? (await nextId(batch, 'loans'));
      batch.nextLoanId = loanId + 1;
      await db.insertInto('loans').values({
        id: loanId, member_id: event.memberId, book_id: event.bookId, branch_id: event.branchId, checked_out_at: day, due_at: due, returned_at: null, renewals: 0,
      }).execute();
      return { loanId, memberId: event.memberId, changes: [['loan', loanId], ['member', event.memberId], ['book', event.bookId]] };
    }
    case 'returnLoan': {
      const loan = await openLoan(batch, event, event);
      if (day < loan.checked_out_at) throw refuse(event, 'BEFORE_CLOCK', `loan ${loan.id} was checked out on ${loan.checked_out_at}, after ${day}`);
      await db.updateTable('loans').set({ returned_at: day }).where('id', '=', loan.id).execute();
      return { loanId: loan.id, memberId: loan.member_id, changes: [['loan', loan.id], ['member', loan.member_id], ['book', loan.book_id]] };
    }
    case 'renewLoan': {
      const loan = await openLoan(batch, event, event);
      const due = dueAfter(event, day, event.dueAt, await loanPeriodDays(batch, loan.book_id));
      await db.updateTable('loans').set({ due_at: due, renewals: loan.renewals + 1 }).where('id', '=', loan.id).execute();
      return { loanId: loan.id, memberId: loan.member_id, changes: [['loan', loan.id], ['member', loan.member_id]] };
    }
    case 'registerMember': {
      await requireRow(batch, event, 'branches', event.branchId);
      let memberId = event.memberId;
      if (memberId !== undefined) {
        const existing = await db.selectFrom('members').select('id').where('id', '=', memberId).executeTakeFirst();
        if (existing) throw refuse(event, 'MEMBER_EXISTS', `member ${memberId} already exists`);
      } else {
        memberId = batch.nextMemberId ?? (await nextId(batch, 'members'));
      }
      batch.nextMemberId = Math.max(batch.nextMemberId ?? 0, memberId + 1);
      await db.insertInto('members').values({ id: memberId, name: event.name, email: event.email, joined_at: day, branch_id: event.branchId }).execute();
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
  const previous = await batch.db.selectFrom('events').select(['content_hash', 'loan_id', 'member_id']).where('id', '=', event.id).executeTakeFirst();
  const clockNow = effectiveClock(batch.storedClock, batch.clock);
  if (previous) {
    if (previous.content_hash !== hash) throw refuse(event, 'EVENT_CONFLICT', 'an event with this id and other content was applied before');
    return { eventId: event.id, type: event.type, applied: false, loanId: previous.loan_id, memberId: previous.member_id, clock: clockNow };
  }
  const day = eventDay(event);
  if (day < clockNow) throw refuse(event, 'BEFORE_CLOCK', `${day} is before the library clock (${clockNow})`);
  const effect = await applyEffect(batch, event, day);
  await batch.db.insertInto('events').values({ id: event.id, type: event.type, content, content_hash: hash, at: day, loan_id: effect.loanId, member_id: effect.memberId }).execute();
  const changes = [...effect.changes];
  if (day > batch.storedClock) {
    batch.storedClock = day;
    batch.clockMoved = true;
    changes.push(['clock', day]);
  }
  if (changes.length > 0) {
    const first = batch.nextSeq;
    batch.nextSeq += changes.length;
    await batch.db.insertInto('changes').values(changes.map(([entity, id], i) => ({ seq: first + i, entity, entity_id: String(id), event_id: event.id }))).execute();
  }
  return { eventId: event.id, type: event.type, applied: true, loanId: effect.loanId, memberId: effect.memberId, clock: effectiveClock(batch.storedClock, batch.clock) };
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
    const firstSeq = (await latestChange(db)) + 1;
    const batch: Batch = {
      db,
      clock: options.clock ?? STORED_CLOCK,
      storedClock: await readStoredClock(db),
      clockMoved: false,
      nextSeq: firstSeq,
      nextLoanId: undefined,
      nextMemberId: undefined,
    };
    const answered: EventResult[] = [];
    for (const event of events) {
      try {
        answered.push(await applyOne(batch, event));
      } catch (error) {
        if (!(error instanceof CirculationError)) throw error;
        answered.push({ eventId: event.id, type: event.type, error });
      }
    }
    if (batch.clockMoved) await db.updateTable('meta').set({ value: batch.storedClock }).where('key', '=', 'as_of').execute();
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
