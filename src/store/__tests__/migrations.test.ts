/**
 * The versioned schema on SQLite and on the real PostgreSQL (a schema of its own, dropped
 * afterwards): every migration applies from empty, a second run is a no-op, and a database
 * built before migrations existed is adopted without losing rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql, type Kysely } from 'kysely';
import { LATEST_MIGRATION, migrateStore, migrationStates, MIGRATIONS, openStore, TABLES_MIGRATION, type Store } from '..';
import { Client } from 'pg';
import { applyEvent, CHANGES_CHANNEL, parseEvent, readChanges } from '../../circulation';
import { ownSchema, postgresUnreachableReason } from '../../../test/fixtures/postgres';
import { createStorePredictionSink, recordsOf, type PredictionLogDatabase, type StoreDb } from '../../monitoring/prediction-log-store';

const ALL = Object.keys(MIGRATIONS).sort();

async function tableNames(store: Store): Promise<string[]> {
  const query = store.dialect === 'sqlite'
    ? sql<{ name: string }>`select name from sqlite_master where type = 'table' order by name`
    : sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() order by table_name`;
  return (await query.execute(store.db)).rows.map((r) => r.name);
}

async function checkMigrations(store: Store): Promise<void> {
  expect((await migrationStates(store)).every((m) => m.executedAt === null)).toBe(true);
  expect((await migrateStore(store, TABLES_MIGRATION)).map((s) => s.name)).toEqual([TABLES_MIGRATION]);
  expect(await tableNames(store)).not.toContain('events');
  expect((await migrateStore(store)).map((s) => s.name)).toEqual(ALL.slice(1));
  expect(await tableNames(store)).toEqual(expect.arrayContaining(['books', 'changes', 'events', 'loans', 'members', 'meta', 'prediction_log']));
  expect(await migrateStore(store)).toEqual([]);
  const states = await migrationStates(store);
  expect(states.map((m) => m.name)).toEqual(ALL);
  expect(states.every((m) => m.executedAt !== null)).toBe(true);
  expect(ALL.at(-1)).toBe(LATEST_MIGRATION);
  await checkPredictionLogRows(store);
  await checkMemberHistoryIndex(store);
}

/** The columns of each index on `loans`, in key order. */
async function loanIndexes(store: Store): Promise<Record<string, string[]>> {
  const query = store.dialect === 'sqlite'
    ? sql<{ index: string; column: string }>`select il.name as "index", ii.name as "column" from pragma_index_list('loans') il, pragma_index_info(il.name) ii where il.origin = 'c' order by il.name, ii.seqno`
    : sql<{ index: string; column: string }>`select i.relname as "index", a.attname as "column" from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid join pg_namespace n on n.oid = t.relnamespace join lateral unnest(x.indkey) with ordinality k(attnum, position) on true join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum where t.relname = 'loans' and n.nspname = current_schema() and not x.indisprimary order by i.relname, k.position`;
  const indexes: Record<string, string[]> = {};
  for (const row of (await query.execute(store.db)).rows) (indexes[row.index] ??= []).push(row.column);
  return indexes;
}

/**
 * 0008 replaces the (member_id, checked_out_at) index with one that also carries what the
 * feature reads select, so a member's loans are read from the index alone; its `down` restores
 * the previous one.
 */
async function checkMemberHistoryIndex(store: Store): Promise<void> {
  const history = ['member_id', 'checked_out_at', 'book_id', 'due_at', 'returned_at', 'renewals'];
  expect(await loanIndexes(store)).toMatchObject({ loans_member_history_idx: history });
  expect(await loanIndexes(store)).not.toHaveProperty('loans_member_idx');
  if (store.dialect === 'sqlite') {
    const plan = await sql<{ detail: string }>`explain query plan select member_id, book_id, checked_out_at, due_at, returned_at, renewals from loans where member_id in (1, 2) and checked_out_at <= '2026-01-01'`.execute(store.db);
    expect(plan.rows.map((r) => r.detail).join('\n')).toContain('COVERING INDEX loans_member_history_idx');
  }
  expect((await migrateStore(store, '0007-prediction-log-rows')).map((s) => `${s.direction} ${s.name}`)).toEqual(['Down 0008-loans-member-history-index']);
  expect(await loanIndexes(store)).toMatchObject({ loans_member_idx: ['member_id', 'checked_out_at'] });
  expect(await loanIndexes(store)).not.toHaveProperty('loans_member_history_idx');
  await migrateStore(store);
}

/**
 * 0007 keeps the prediction log's earlier rows (one record each) readable, and its `down`
 * deletes only the rows with entries, which the earlier schema cannot read.
 */
async function checkPredictionLogRows(store: Store): Promise<void> {
  const log = store.db as StoreDb as Kysely<PredictionLogDatabase>;
  await log
    .insertInto('prediction_log')
    .values({ process_id: 'first-format', sequence: 1, accepted_through: 1, request_id: 'r', predicted_at: '2026-12-01T00:00:00.000Z', as_of: null, model: 'churn', version: '1.2.0', arm: null, entity_kind: 'member', entity_id: '7', score: 0.5, items: null, label: null, factors: '[]', features: null, feature_ref: 'as-of:2026-12-01', records: 1, entries: null })
    .execute();
  const page = [1, 2, 3].map((n) => ({ requestId: 'page', at: '2026-12-02T00:00:00.000Z', asOf: null, model: 'churn', version: '1.2.0', arm: null, entityKind: 'member', entityId: String(n), score: n / 10, items: null, label: null, factors: [], features: null, featureRef: 'as-of:2026-12-02', processId: 'rows', sequence: 1, acceptedThrough: 1 }));
  await createStorePredictionSink(log).write(page);
  const read = async () => (await log.selectFrom('prediction_log').selectAll().orderBy('process_id').execute()).flatMap(recordsOf).map((r) => [r.processId, r.entityId, r.score]);
  expect(await read()).toEqual([['first-format', '7', 0.5], ['rows', '1', 0.1], ['rows', '2', 0.2], ['rows', '3', 0.3]]);
  expect((await migrateStore(store, '0006-prediction-log-indexes')).map((s) => `${s.direction} ${s.name}`)).toEqual(['Down 0008-loans-member-history-index', 'Down 0007-prediction-log-rows']);
  expect((await log.selectFrom('prediction_log').select(['process_id', 'entity_id']).execute()).map((r) => [r.process_id, r.entity_id])).toEqual([['first-format', '7']]);
  await migrateStore(store);
  expect(await read()).toEqual([['first-format', '7', 0.5]]);
  await log.deleteFrom('prediction_log').execute();
}

describe('migrations on SQLite', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-migrations-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('apply in order, up to a named one or the latest, once', async () => {
    const store = openStore(`sqlite:${path.join(dir, 'fresh.db')}`);
    try {
      await checkMigrations(store);
    } finally {
      await store.close();
    }
  });

  it('adopt a database built before migrations existed, keeping its rows', async () => {
    const store = openStore(`sqlite:${path.join(dir, 'old.db')}`);
    try {
      await sql`create table meta (key text primary key, value text not null)`.execute(store.db);
      await sql`insert into meta values ('as_of', '2024-12-31')`.execute(store.db);
      await migrateStore(store);
      expect(await store.db.selectFrom('meta').selectAll().execute()).toEqual([{ key: 'as_of', value: '2024-12-31' }]);
      expect(await tableNames(store)).toContain('changes');
    } finally {
      await store.close();
    }
  });
});

const unreachable = postgresUnreachableReason('the PostgreSQL migration tests');

(unreachable ? describe.skip : describe)('migrations on PostgreSQL', () => {
  let schema: Awaited<ReturnType<typeof ownSchema>>;
  beforeAll(async () => {
    schema = await ownSchema('shelfmark_migrations_test');
  });
  afterAll(() => schema.drop());

  it('apply in order, up to a named one or the latest, once', async () => {
    const store = openStore(schema.url);
    try {
      await checkMigrations(store);
    } finally {
      await store.close();
    }
  });

  it('carries the write path: an event, its effect and its change records in one transaction, then a NOTIFY', async () => {
    const store = openStore(schema.url);
    try {
      await migrateStore(store);
      await store.db.insertInto('meta').values({ key: 'as_of', value: '2025-06-30' }).execute();
      await store.db.insertInto('branches').values({ id: 1, name: 'Central', size: 1 }).execute();
      await store.db.insertInto('members').values({ id: 1, name: 'Ada', email: 'ada@example.org', joined_at: '2020-01-01', branch_id: 1 }).execute();
      await store.db.insertInto('books').values({ id: 1, title: 'T', authors: '[]', genre: 'Fantasy', collection: 'Adult Fiction', publication_year: null, isbn: null, average_rating: 4, ratings_count: 1 }).execute();
      const listener = new Client({ connectionString: schema.url });
      await listener.connect();
      const notified = new Promise<string | undefined>((resolve) => listener.on('notification', (message) => resolve(message.payload)));
      await listener.query(`LISTEN ${CHANGES_CHANNEL}`);
      const event = parseEvent({ id: 'pg-1', type: 'checkOut', at: '2025-07-01', memberId: 1, bookId: 1, branchId: 1 });
      expect(await applyEvent(store, event)).toMatchObject({ applied: true, loanId: 1, clock: '2025-07-01' });
      expect(await notified).toBe('4');
      await listener.end();
      expect(await applyEvent(store, event)).toMatchObject({ applied: false, loanId: 1 });
      expect((await readChanges(store, 0)).map((c) => [c.seq, c.entity])).toEqual([[1, 'loan'], [2, 'member'], [3, 'book'], [4, 'clock']]);
    } finally {
      await store.close();
    }
  });
});
