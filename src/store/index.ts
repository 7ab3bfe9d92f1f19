/**
 * The data-access layer: every SQL statement in Shelfmark goes through the Kysely instance
 * made here, so the same code runs on the embedded SQLite file and on PostgreSQL.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type LogEvent } from 'kysely';
import { migrateStore } from './migrations';
import { Pool } from 'pg';
import type { Database } from './schema';
import { withStatementCache } from './statement-cache';
import { startCheckpointer } from './checkpointer';

export type { BookTable, ChangeTable, Database, EventTable, LoanTable, TableName } from './schema';
export { exclusiveTransaction } from './transaction';
export { chunks, inChunks, IDS_PER_QUERY } from './in-chunks';
export { byKeys, reusableQuery, type ReusableQuery } from './reusable-query';
export { LATEST_MIGRATION, migrateStore, migrateWithin, migrationStates, MigrationError, MIGRATIONS, TABLES_MIGRATION, type MigrationState, type MigrationStep } from './migrations';

export type Dialect = 'sqlite' | 'postgres';

export interface StoreOptions {
  /** Called after every statement, e.g. to count queries per table in tests and metrics. */
  onQuery?: (sqlText: string, durationMs: number) => void;
  readonly?: boolean;
  /** SQLite page cache of this connection, in KiB (default 64 MiB: training scans whole tables). */
  cacheSizeKb?: number;
  /** SQLite: how long a statement waits for another connection's lock, blocking the thread (default 5 s). */
  busyTimeoutMs?: number;
  /**
   * SQLite writer: WAL checkpoints from a worker thread rather than inside the commit that
   * fills the WAL (see checkpointer.ts). For a long-lived writer that answers requests.
   */
  backgroundCheckpoints?: boolean;
}

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  url: string;
  /** SQLite: the connection itself, for prepared statements Kysely does not keep. */
  sqlite?: SqliteDatabase.Database;
  close(): Promise<void>;
}

export function sqlitePath(databaseUrl: string): string | undefined {
  if (databaseUrl.startsWith('sqlite:')) return databaseUrl.slice('sqlite:'.length);
  if (databaseUrl.endsWith('.db') || databaseUrl === ':memory:') return databaseUrl;
  return undefined;
}

export function openStore(databaseUrl: string, options: StoreOptions = {}): Store {
  const log = options.onQuery
    ? (event: LogEvent) => options.onQuery!(event.query.sql, event.queryDurationMillis)
    : undefined;
  const file = sqlitePath(databaseUrl);
  if (file !== undefined) {
    if (file !== ':memory:') mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const sqlite = new SqliteDatabase(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false, timeout: options.busyTimeoutMs ?? 5000 });
    if (!options.readonly) {
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = NORMAL');
    }
    sqlite.pragma(`cache_size = -${Math.max(1, Math.round(options.cacheSizeKb ?? 65_536))}`);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }), log });
    const checkpointer = options.backgroundCheckpoints && !options.readonly && file !== ':memory:' ? startCheckpointer(sqlite, file) : undefined;
    const close = async () => {
      await checkpointer?.stop();
      await db.destroy();
    };
    return { db, dialect: 'sqlite', url: databaseUrl, sqlite, close };
  }
  if (databaseUrl.startsWith('postgres://') || databaseUrl.startsWith('postgresql://')) {
    const pool = new Pool({ connectionString: databaseUrl, max: 10 });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
    return { db, dialect: 'postgres', url: databaseUrl, close: () => db.destroy() };
  }
  throw new Error(`DATABASE_URL must be sqlite:<path> or postgres://..., got "${databaseUrl}"`);
}

/** The tables a statement reads or writes, for counting queries per table. */
export function tablesOf(sqlText: string): string[] {
  const names = new Set<string>();
  for (const match of sqlText.matchAll(/\b(?:from|join|into|update)\s+"?([a-z_]+)"?/gi)) names.add(match[1]!.toLowerCase());
  return [...names];
}

/** Opens a store for writing and brings its schema up to the latest migration. */
export async function openMigratedStore(databaseUrl: string, options: Omit<StoreOptions, 'readonly'> = {}): Promise<Store> {
  const store = openStore(databaseUrl, options);
  try {
    await migrateStore(store);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** Every table of the store and the migrator's own, dropped in foreign-key order (generate --force). */
export async function dropAll(db: Kysely<Database>): Promise<void> {
  const tables = ['prediction_outcomes', 'prediction_log', 'changes', 'events', 'sim_churn_truth', 'sim_member_truth', 'sim_loan_truth', 'loans', 'books', 'members', 'branches', 'meta', 'kysely_migration', 'kysely_migration_lock'];
  for (const table of tables) await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
}

/** The library clock as stored: the day of the last event or end-of-day tick (see src/circulation). */
export async function readAsOf(store: Store): Promise<string> {
  const row = await store.db.selectFrom('meta').select('value').where('key', '=', 'as_of').executeTakeFirst();
  if (!row) throw new Error(`the store at ${store.url} has no as_of date: run \`npm run generate\` first`);
  return row.value;
}

/** Whether the store holds a library: its `meta` table exists and has the library clock. */
export async function libraryLoaded(store: Store): Promise<boolean> {
  try {
    return (await store.db.selectFrom('meta').select('value').where('key', '=', 'as_of').executeTakeFirst()) !== undefined;
  } catch (error) {
    if (/no such table|does not exist/.test((error as Error).message)) return false;
    throw error;
  }
}

/** Refuses, in one line naming the store, to serve a store with no library loaded. */
export async function requireLibrary(databaseUrl: string): Promise<void> {
  const file = sqlitePath(databaseUrl);
  let loaded = false;
  if (file === undefined || existsSync(file)) {
    const store = openStore(databaseUrl, { readonly: true });
    try {
      loaded = await libraryLoaded(store);
    } finally {
      await store.close();
    }
  }
  if (!loaded) throw new Error(`${databaseUrl.replace(/\/\/[^@/]*@/, '//')} holds no library yet: load it first (npm run generate; in docker compose the one-shot load service does)`);
}

export async function readMeta(store: Store): Promise<Record<string, string>> {
  const rows = await store.db.selectFrom('meta').selectAll().execute();
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}
