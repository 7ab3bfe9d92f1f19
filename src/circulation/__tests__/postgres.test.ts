/**
 * The write path on PostgreSQL leaves the same tables as on SQLite: the same generated library
 * on both, the same events (applied, refused, duplicate, conflicting, in one batch and through
 * the group-commit writer), the same answers and the same rows. Runs against
 * SHELFMARK_TEST_POSTGRES_URL in a schema of its own; skipped, with the reason printed, when no
 * PostgreSQL answers there.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { applyEvents, eventWriter, parseEvent, readClock, type CirculationEvent, type EventResult } from '..';
import { openStore, type Store } from '../../store';
import { generateLibrary } from '../../simulator';
import { addDays } from '../../util/dates';
import { ownSchema, postgresUnreachableReason } from '../../../test/fixtures/postgres';
import { tableHashes } from '../../simulator/__tests__/table-hash';

const SCHEMA = 'shelfmark_circulation_test';
/** PostgreSQL's `real` is single precision; `bigint` comes back as text (changes.seq is compared as numbers below). */
const SKIPPED_COLUMNS = ['size', 'average_rating', 'late_probability', 'reliability', 'engagement_trend', 'intensity', 'probability', 'seq'];
const unreachable = postgresUnreachableReason('the PostgreSQL write-path tests');

function answers(results: EventResult[]): unknown[] {
  return results.map((r) => ('error' in r ? r.error.reason : { applied: r.applied, loanId: r.loanId, memberId: r.memberId, clock: r.clock }));
}

(unreachable ? describe.skip : describe)('the write path on PostgreSQL', () => {
  let dir: string;
  let schema: Awaited<ReturnType<typeof ownSchema>>;
  const stores: Store[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-circulation-pg-'));
    schema = await ownSchema(SCHEMA);
  });
  afterAll(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await schema.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the same events the same, and leaves the same rows, as SQLite', async () => {
    const sqliteUrl = `sqlite:${path.join(dir, 'library.db')}`;
    await generateLibrary({ db: sqliteUrl, seed: 5, members: 60 });
    await generateLibrary({ db: schema.url, seed: 5, members: 60 });
    const [onSqlite, onPostgres] = [openStore(sqliteUrl), openStore(schema.url)] as const;
    stores.push(onSqlite, onPostgres);

    const clock = await readClock(onSqlite);
    const open = await onSqlite.db.selectFrom('loans').select(['id', 'member_id', 'book_id']).where('returned_at', 'is', null).orderBy('id').limit(2).execute();
    expect(open).toHaveLength(2);
    const event = (raw: Record<string, unknown>): CirculationEvent => parseEvent(raw);
    const batch = [
      event({ id: 'c1', type: 'checkOut', at: addDays(clock, 1), memberId: 1, bookId: 1, branchId: 1 }),
      event({ id: 'c2', type: 'checkOut', at: addDays(clock, 1), memberId: 2, bookId: 2, branchId: 2 }),
      event({ id: 'r1', type: 'returnLoan', at: addDays(clock, 1), loanId: open[0]?.id }),
      event({ id: 'n1', type: 'renewLoan', at: addDays(clock, 1), loanId: open[1]?.id }),
      event({ id: 'bad', type: 'checkOut', at: addDays(clock, 1), memberId: 99_999, bookId: 1, branchId: 1 }),
      event({ id: 'r2', type: 'returnLoan', at: addDays(clock, 2), memberId: 1, bookId: 1 }),
      event({ id: 'm1', type: 'registerMember', at: addDays(clock, 2), name: 'Ada', email: 'ada@example.org', branchId: 1 }),
    ];
    const singles = [
      event({ id: 'eod', type: 'advanceClock', to: addDays(clock, 3) }),
      event({ id: 'c1', type: 'checkOut', at: addDays(clock, 1), memberId: 1, bookId: 1, branchId: 1 }),
      event({ id: 'c1', type: 'checkOut', at: addDays(clock, 3), memberId: 1, bookId: 3, branchId: 1 }),
      event({ id: 'r0', type: 'returnLoan', at: addDays(clock, 3), loanId: open[0]?.id }),
    ];
    const run = async (store: Store) => {
      const first = await applyEvents(store, batch);
      const writer = eventWriter(store);
      const rest = await Promise.allSettled(singles.map((e) => writer.write(e)));
      return [
        ...answers(first),
        ...rest.map((r) => (r.status === 'fulfilled' ? { applied: r.value.applied, loanId: r.value.loanId, memberId: r.value.memberId, clock: r.value.clock } : (r.reason as { reason?: string }).reason)),
      ];
    };
    const sqliteAnswers = await run(onSqlite);
    expect(sqliteAnswers.filter((a) => typeof a === 'string')).toEqual(['UNKNOWN_MEMBER', 'EVENT_CONFLICT', 'LOAN_ALREADY_RETURNED']);
    expect(await run(onPostgres)).toEqual(sqliteAnswers);

    expect(await tableHashes(schema.url, SKIPPED_COLUMNS)).toEqual(await tableHashes(sqliteUrl, SKIPPED_COLUMNS));
    const seqs = async (store: Store) => (await store.db.selectFrom('changes').select('seq').orderBy('seq').execute()).map((row) => Number(row.seq));
    expect(await seqs(onPostgres)).toEqual(await seqs(onSqlite));
  }, 120_000);
});
