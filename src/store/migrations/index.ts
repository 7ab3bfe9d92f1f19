/**
 * The store's versioned schema: Kysely migrations, the same on SQLite and PostgreSQL, applied
 * in name order and recorded in `kysely_migration`. A migration, once released, never changes;
 * a schema change is a new file here.
 *
 * Every run holds the database's write lock for its whole length (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: one transaction and an advisory lock), so processes opening the same store at
 * once migrate it once, and a failed migration leaves the previous version in place.
 */
import { Migrator, PostgresAdapter, sql, type Kysely, type Migration, type MigrationResult } from 'kysely';
import type { Database } from '../schema';
import type { Store } from '..';
import { exclusiveTransaction } from '../transaction';
import * as libraryTables from './0001-library-tables';
import * as libraryIndexes from './0002-library-indexes';
import * as circulationEvents from './0003-circulation-events';
import * as predictionLog from './0004-prediction-log';
import * as predictionOutcomes from './0005-prediction-outcomes';
import * as predictionLogIndexes from './0006-prediction-log-indexes';
import * as predictionLogRows from './0007-prediction-log-rows';
import * as loansMemberHistoryIndex from './0008-loans-member-history-index';

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-library-tables': libraryTables,
  '0002-library-indexes': libraryIndexes,
  '0003-circulation-events': circulationEvents,
  '0004-prediction-log': predictionLog,
  '0005-prediction-outcomes': predictionOutcomes,
  '0006-prediction-log-indexes': predictionLogIndexes,
  '0007-prediction-log-rows': predictionLogRows,
  '0008-loans-member-history-index': loansMemberHistoryIndex,
};
export type MigrationName = keyof typeof MIGRATIONS;
export const LATEST_MIGRATION = Object.keys(MIGRATIONS).sort().at(-1) ?? '';
/** The tables the simulator bulk-loads, before their indexes exist. */
export const TABLES_MIGRATION = '0001-library-tables';

export class MigrationError extends Error {
  constructor(readonly migration: string | undefined, cause: unknown) {
    super(`migration ${migration ?? '(setup)'} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'MigrationError';
  }
}

export interface MigrationStep {
  name: string;
  direction: 'Up' | 'Down';
}

/**
 * On PostgreSQL the migrator's own tables are placed in the current schema by name: Kysely
 * looks for them across every schema of the database, and would take another schema's
 * `kysely_migration` for this one's.
 */
async function migratorOn(db: Kysely<Database>): Promise<Migrator> {
  let migrationTableSchema: string | undefined;
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
    migrationTableSchema = rows[0]?.schema;
  }
  return new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...MIGRATIONS }) },
    migrationTableSchema,
    // The caller's transaction already holds the lock and makes the run all-or-nothing.
    disableTransactions: true,
  });
}

function applied(results: MigrationResult[] | undefined, error: unknown): MigrationStep[] {
  if (error) throw new MigrationError(results?.find((r) => r.status === 'Error')?.migrationName, error);
  return (results ?? []).map((r) => ({ name: r.migrationName, direction: r.direction }));
}

/**
 * Brings the schema on `db` (a connection already inside a transaction) up to `target`, or to
 * the latest version; returns the migrations it ran, in order.
 */
export async function migrateWithin(db: Kysely<Database>, target: string = LATEST_MIGRATION): Promise<MigrationStep[]> {
  if (!(target in MIGRATIONS)) throw new MigrationError(target, new Error(`no migration named ${target}; known: ${Object.keys(MIGRATIONS).join(', ')}`));
  const migrator = await migratorOn(db);
  const { error, results } = target === LATEST_MIGRATION ? await migrator.migrateToLatest() : await migrator.migrateTo(target);
  return applied(results, error);
}

/** Brings the store's schema up to `target` (default: the latest version) in one locked transaction. */
export function migrateStore(store: Store, target: string = LATEST_MIGRATION): Promise<MigrationStep[]> {
  return exclusiveTransaction(store, (db) => migrateWithin(db, target));
}

export interface MigrationState {
  name: string;
  executedAt: Date | null;
}

/** Every known migration and when it ran on this store (null: pending). */
export async function migrationStates(store: Store): Promise<MigrationState[]> {
  const migrations = await (await migratorOn(store.db)).getMigrations();
  return migrations.map((m) => ({ name: m.name, executedAt: m.executedAt ?? null }));
}
