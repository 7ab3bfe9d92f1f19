/**
 * The write path on a tiny known store: each kind of bad event is refused with its reason and
 * changes nothing; the same event twice applies once and answers the same; the same id with
 * other content is a conflict; every applied event leaves change records and moves the clock.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { applyEvent, applyEvents, CirculationError, parseEvent, readChanges, readClock, type CirculationEvent } from '..';
import type { Store } from '../../store';
import { tinyLibrary } from '../../../test/fixtures/tiny-library';

let store: Store;

beforeEach(async () => {
  ({ store } = await tinyLibrary(10, 5));
});
afterEach(() => store.close());

/** Row counts and contents of every table the write path touches, to prove nothing changed. */
async function snapshot(): Promise<string> {
  const parts: unknown[] = [];
  for (const table of ['members', 'loans', 'events', 'changes', 'meta']) {
    parts.push((await sql`select * from ${sql.table(table)} order by 1`.execute(store.db)).rows);
  }
  return JSON.stringify(parts);
}

const checkOut = (id: string, extra: Record<string, unknown> = {}): CirculationEvent =>
  parseEvent({ id, type: 'checkOut', at: '2025-07-01', memberId: '1', bookId: '2', branchId: '1', ...extra });

async function refusal(input: unknown): Promise<CirculationError> {
  const before = await snapshot();
  let error: unknown;
  try {
    await applyEvent(store, parseEvent(input));
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(CirculationError);
  expect(await snapshot()).toBe(before);
  return error as CirculationError;
}

describe('applyEvent', () => {
  it('checks out a book: a new loan, change records for loan, member, book and clock, the clock moved', async () => {
    const result = await applyEvent(store, checkOut('e1'));
    expect(result).toMatchObject({ eventId: 'e1', applied: true, memberId: 1, clock: '2025-07-01' });
    const loan = await store.db.selectFrom('loans').selectAll().where('id', '=', result.loanId!).executeTakeFirstOrThrow();
    expect(loan).toMatchObject({ member_id: 1, book_id: 2, checked_out_at: '2025-07-01', due_at: '2025-07-22', returned_at: null, renewals: 0 });
    const changes = await readChanges(store, 0);
    expect(changes.map((c) => [c.seq, c.entity, c.entityId])).toEqual([
      [1, 'loan', String(result.loanId)], [2, 'member', '1'], [3, 'book', '2'], [4, 'clock', '2025-07-01'],
    ]);
    expect(await readClock(store)).toBe('2025-07-01');
    expect(await readChanges(store, 3)).toHaveLength(1);
  });

  it('applies the same event once and answers the same; other content under the id is EVENT_CONFLICT', async () => {
    const first = await applyEvent(store, checkOut('e1'));
    const afterFirst = await snapshot();
    const again = await applyEvent(store, parseEvent({ type: 'checkOut', bookId: 2, memberId: 1, branchId: 1, id: 'e1', at: '2025-07-01T00:00:00Z' }));
    expect(again).toEqual({ ...first, applied: false });
    expect(await snapshot()).toBe(afterFirst);
    const conflict = await refusal({ id: 'e1', type: 'checkOut', at: '2025-07-01', memberId: '1', bookId: '3', branchId: '1' });
    expect(conflict.reason).toBe('EVENT_CONFLICT');
    expect(conflict.code).toBe('EVENT_CONFLICT');
  });

  it('returns and renews a loan, by id or as the member\'s open loan of a book', async () => {
    const { loanId } = await applyEvent(store, checkOut('e1'));
    const renewed = await applyEvent(store, parseEvent({ id: 'e2', type: 'renewLoan', at: '2025-07-10', memberId: 1, bookId: 2 }));
    expect(renewed.loanId).toBe(loanId);
    expect(await store.db.selectFrom('loans').select(['due_at', 'renewals']).where('id', '=', loanId!).executeTakeFirst()).toEqual({ due_at: '2025-07-31', renewals: 1 });
    await applyEvent(store, parseEvent({ id: 'e3', type: 'returnLoan', at: '2025-07-12', loanId: String(loanId) }));
    expect((await store.db.selectFrom('loans').select('returned_at').where('id', '=', loanId!).executeTakeFirst())?.returned_at).toBe('2025-07-12');
  });

  it('registers a member with a chosen or the next id, and advances the clock', async () => {
    const chosen = await applyEvent(store, parseEvent({ id: 'm1', type: 'registerMember', at: '2025-07-02', memberId: 500, name: 'Ada', email: 'ada@example.org', branchId: 2 }));
    expect(chosen.memberId).toBe(500);
    const next = await applyEvent(store, parseEvent({ id: 'm2', type: 'registerMember', at: '2025-07-02', name: 'Bo', email: 'bo@example.org', branchId: 1 }));
    expect(next.memberId).toBe(501);
    const tick = await applyEvent(store, parseEvent({ id: 'day', type: 'advanceClock', to: '2025-07-05' }));
    expect(tick.clock).toBe('2025-07-05');
    expect((await readChanges(store, 0)).at(-1)).toMatchObject({ entity: 'clock', entityId: '2025-07-05', eventId: 'day' });
  });

  it.each([
    ['an unknown member', { memberId: '999' }, 'UNKNOWN_MEMBER'],
    ['an unknown book', { bookId: '999' }, 'UNKNOWN_BOOK'],
    ['an unknown branch', { branchId: '9' }, 'UNKNOWN_BRANCH'],
    ['a time before the clock', { at: '2025-06-29' }, 'BEFORE_CLOCK'],
  ])('refuses a checkout of %s and changes nothing', async (_name, change, reason) => {
    const error = await refusal({ id: 'bad', type: 'checkOut', at: '2025-07-01', memberId: '1', bookId: '2', branchId: '1', ...change });
    expect(error.reason).toBe(reason);
    expect(error.message).toContain('event bad (checkOut)');
  });

  it('refuses a return of a loan already returned, or of no loan, and changes nothing', async () => {
    expect((await refusal({ id: 'r1', type: 'returnLoan', at: '2025-07-01', loanId: '1' })).reason).toBe('LOAN_ALREADY_RETURNED');
    expect((await refusal({ id: 'r2', type: 'returnLoan', at: '2025-07-01', loanId: '9999' })).reason).toBe('UNKNOWN_LOAN');
  });

  it('refuses a clock moved backwards and a member id already taken', async () => {
    expect((await refusal({ id: 'c1', type: 'advanceClock', to: '2025-06-01' })).reason).toBe('BEFORE_CLOCK');
    expect((await refusal({ id: 'm1', type: 'registerMember', at: '2025-07-01', memberId: 3, name: 'X', email: 'x@example.org', branchId: 1 })).reason).toBe('MEMBER_EXISTS');
  });

  it.each([
    ['not an object', 'checkOut', /JSON object/],
    ['no id', { type: 'checkOut' }, /id must be a string/],
    ['an unknown type', { id: 'x', type: 'lend' }, /type must be one of/],
    ['a missing field', { id: 'x', type: 'checkOut', at: '2025-07-01', memberId: '1', bookId: '2' }, /branchId is required/],
    ['a bad id', { id: 'x', type: 'checkOut', at: '2025-07-01', memberId: 'one', bookId: '2', branchId: '1' }, /memberId must be a positive integer/],
    ['a time without a zone', { id: 'x', type: 'advanceClock', to: '2025-07-01T10:00:00' }, /date-time with a zone/],
    ['an impossible date', { id: 'x', type: 'advanceClock', to: '2025-02-30' }, /not a calendar date/],
  ])('refuses a malformed event (%s)', (_name, input, message) => {
    expect(() => parseEvent(input)).toThrow(message);
    try {
      parseEvent(input);
    } catch (error) {
      expect((error as CirculationError).reason).toBe('MALFORMED');
    }
  });

  it('in a batch, answers each event in order and keeps the good ones when one is refused', async () => {
    const outcomes: string[] = [];
    const results = await applyEvents(store, [checkOut('b1'), checkOut('b2', { memberId: '999' }), checkOut('b3', { memberId: '2' })], {
      onOutcome: (type, outcome) => outcomes.push(`${type}:${outcome}`),
    });
    expect(results.map((r) => ('error' in r ? r.error.reason : r.applied))).toEqual([true, 'UNKNOWN_MEMBER', true]);
    expect(outcomes).toEqual(['checkOut:applied', 'checkOut:rejected', 'checkOut:applied']);
    expect(await store.db.selectFrom('events').select('id').orderBy('id').execute()).toEqual([{ id: 'b1' }, { id: 'b3' }]);
  });

  it('with CLOCK=wall never answers a date before the real one', async () => {
    const clock = { mode: 'wall' as const, today: () => '2026-01-10' };
    expect(await readClock(store, clock)).toBe('2026-01-10');
    await expect(applyEvent(store, checkOut('w1'), { clock })).rejects.toMatchObject({ reason: 'BEFORE_CLOCK' });
    expect((await applyEvent(store, checkOut('w2', { at: '2026-01-10' }), { clock })).clock).toBe('2026-01-10');
  });
});

describe("the README's NDJSON example", () => {
  it('parses, line by line, as the events it describes', () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const block = /```\n(\{"id":"e1"[\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const events = (block ?? '').trim().split('\n').map((line) => parseEvent(JSON.parse(line)));
    expect(events.map((e) => e.type)).toEqual(['checkOut', 'renewLoan', 'returnLoan', 'registerMember', 'advanceClock']);
  });
});
