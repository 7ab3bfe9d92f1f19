/**
 * Loads generated rows into a store in large multi-row INSERTs inside one transaction, then
 * builds the indexes. An interrupted run never leaves a half-built database where the product
 * looks for one:
 *  - SQLite: everything goes into a temporary file beside the target, renamed over it at the end;
 *  - PostgreSQL: drop, create, load and index run in one transaction (PostgreSQL's DDL is
 *    transactional), so the previous tables stay until the commit.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { sql, type Insertable, type Kysely } from 'kysely';
import { dropAll, exclusiveTransaction, migrateStore, migrateWithin, openStore, sqlitePath, TABLES_MIGRATION, type Database, type TableName } from '../store';

/** SQLite's limit on bound variables per statement; PostgreSQL's (65,535) is higher. */
const MAX_VARIABLES_PER_STATEMENT = 32_766;
/** Rows per statement beyond which bigger batches stop paying off. */
const MAX_ROWS_PER_STATEMENT = 5_000;

export const TABLE_ORDER: readonly TableName[] = [
  'meta', 'branches', 'members', 'books', 'loans', 'sim_loan_truth', 'sim_member_truth', 'sim_churn_truth', 'events', 'changes',
];

/** One table's rows, produced on demand so the whole table never sits in memory as objects. */
export interface TableRows<T extends TableName> {
  table: T;
  count: number;
  row(index: number): Insertable<Database[T]>;
}
export type AnyTableRows = { [T in TableName]: TableRows<T> }[TableName];

export type WriteTarget = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

/** A target `generate` will not write to, for a reason a one-line message says in full. */
export class TargetError extends Error {}

export class TargetExistsError extends TargetError {
  constructor(where: string) {
    super(`${where} already holds a Shelfmark database; pass --force to replace it`);
    this.name = 'TargetExistsError';
  }
}

/** Errors of a PostgreSQL server that cannot be reached or refuses the connection. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', '28P01', '28000', '3D000']);

function isUnreachable(error: unknown): error is Error & { code?: string } {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: string }).code;
  if (code && UNREACHABLE_CODES.has(code)) return true;
  // node-postgres reports a refused connection to several addresses as an AggregateError.
  return error instanceof AggregateError && error.errors.some(isUnreachable);
}

/** `--db` accepts a file path, a `sqlite:` URL or a `postgres://` URL. */
export function resolveTarget(db: string): WriteTarget {
  if (db.startsWith('postgres://') || db.startsWith('postgresql://')) return { kind: 'postgres', url: db };
  if (db === ':memory:') throw new Error('--db :memory: would be thrown away at the end; give a file path');
  return { kind: 'sqlite', file: path.resolve(sqlitePath(db) ?? db) };
}

/**
 * libpq, and so psql, connect as the operating-system user when a URL names none; node-postgres
 * reads only PGUSER or USER, which a service or container may not set.
 */
export function withDefaultPostgresUser(url: string, env: NodeJS.ProcessEnv): string {
  if (!/^postgres(ql)?:\/\//.test(url) || env.PGUSER || env.USER) return url;
  const parsed = new URL(url);
  if (parsed.username) return url;
  parsed.username = userInfo().username;
  return parsed.toString();
}

/** The target for messages: PostgreSQL URLs without their password. */
export function describeTarget(target: WriteTarget): string {
  if (target.kind === 'sqlite') return target.file;
  const url = new URL(target.url);
  if (url.password) url.password = '***';
  return url.toString();
}

const TEMPORARY_INFIX = '-tmp-';

/** The temporary file an SQLite target is built in (beside it, so the final rename is atomic). */
export function temporaryFileFor(file: string, pid: number = process.pid): string {
  return `${file}${TEMPORARY_INFIX}${pid}`;
}

function removeSqliteFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An interrupted run (Ctrl-C kills the process at once, mid-simulation or mid-load) leaves its
 * temporary file behind; the next run for the same target removes those of dead processes.
 */
function removeAbandonedTemporaryFiles(file: string): void {
  const directory = path.dirname(file);
  if (!existsSync(directory)) return;
  const prefix = `${path.basename(file)}${TEMPORARY_INFIX}`;
  for (const entry of readdirSync(directory)) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)/.exec(entry.slice(prefix.length))?.[1]);
    // recursive: the generator's folder of spilled loans (<db>-tmp-<pid>-loans) goes too.
    if (Number.isInteger(pid) && pid !== process.pid && !processIsAlive(pid)) rmSync(path.join(directory, entry), { force: true, recursive: true });
  }
}

async function existingTables(db: Kysely<Database>): Promise<string[]> {
  const result = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = current_schema() and table_name in (${sql.join([...TABLE_ORDER])})`.execute(db);
  return result.rows.map((r) => r.table_name);
}

/** Refuses early, before any simulation work, when the target exists and `force` is not set. */
export async function checkTarget(target: WriteTarget, force: boolean): Promise<void> {
  if (target.kind === 'sqlite') {
    // A mistyped folder is refused rather than created.
    const folder = path.dirname(target.file);
    if (!existsSync(folder)) throw new TargetError(`folder ${folder} does not exist; create it first, or give --db a path in an existing folder`);
    removeAbandonedTemporaryFiles(target.file);
    if (!force && existsSync(target.file)) throw new TargetExistsError(target.file);
    return;
  }
  const store = openStore(target.url);
  try {
    const tables = await existingTables(store.db);
    if (!force && tables.length > 0) throw new TargetExistsError(describeTarget(target));
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    const reason = error instanceof AggregateError ? error.errors.map((e: Error) => e.message).join('; ') : error.message;
    throw new TargetError(`cannot reach PostgreSQL at ${describeTarget(target)}: ${reason || error.code}`);
  } finally {
    await store.close();
  }
}

export interface WriteProgress {
  table: TableName | 'indexes';
  rows: number;
  of: number;
}

async function insertTable<T extends TableName>(
  db: Kysely<Database>,
  rows: TableRows<T>,
  onProgress: (progress: WriteProgress) => void,
): Promise<void> {
  if (rows.count === 0) return;
  const batch = rowsPerStatement(Object.keys(rows.row(0)).length);
  for (let start = 0; start < rows.count; start += batch) {
    const end = Math.min(rows.count, start + batch);
    const values: Insertable<Database[T]>[] = [];
    for (let i = start; i < end; i++) values.push(rows.row(i));
    // Kysely cannot relate a generic table name to its row type; `values` was typed against T above.
    await db.insertInto(rows.table).values(values).execute();
    onProgress({ table: rows.table, rows: end, of: rows.count });
  }
}

async function loadAll(db: Kysely<Database>, tables: readonly AnyTableRows[], onProgress: (progress: WriteProgress) => void): Promise<void> {
  for (const rows of tables) await insertTable(db, rows as TableRows<TableName>, onProgress);
}

interface ForeignKey {
  table: string;
  name: string;
  definition: string;
}

/**
 * PostgreSQL checks a foreign key with a trigger per inserted row, which makes a bulk load
 * several times slower; as its manual advises for populating a database, the keys are dropped
 * for the load and added back afterwards, which checks every row in one pass.
 */
async function dropForeignKeys(db: Kysely<Database>): Promise<ForeignKey[]> {
  const result = await sql<ForeignKey>`
    select conrelid::regclass::text as table, conname as name, pg_get_constraintdef(oid) as definition
    from pg_constraint
    where contype = 'f' and connamespace = current_schema()::regnamespace
      and conrelid::regclass::text in (${sql.join([...TABLE_ORDER])})
    order by conrelid::regclass::text, conname`.execute(db);
  for (const key of result.rows) await sql`alter table ${sql.table(key.table)} drop constraint ${sql.ref(key.name)}`.execute(db);
  return result.rows;
}

async function restoreForeignKeys(db: Kysely<Database>, keys: readonly ForeignKey[]): Promise<void> {
  for (const key of keys) {
    await sql`alter table ${sql.table(key.table)} add constraint ${sql.ref(key.name)} ${sql.raw(key.definition)}`.execute(db);
  }
}

/** SQLite's equivalent of restoring the keys: check every row once after the load. */
async function checkSqliteForeignKeys(db: Kysely<Database>): Promise<void> {
  const violations = await sql<{ table: string; rowid: number; parent: string }>`PRAGMA foreign_key_check`.execute(db);
  if (violations.rows.length > 0) {
    const first = violations.rows[0]!;
    throw new Error(`${violations.rows.length} rows break a foreign key, e.g. ${first.table} rowid ${first.rowid} -> ${first.parent}`);
  }
}

async function countRows(db: Kysely<Database>): Promise<Record<TableName, number>> {
  const counts = {} as Record<TableName, number>;
  for (const table of TABLE_ORDER) {
    const result = await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(db);
    counts[table] = Number(result.rows[0]!.n);
  }
  return counts;
}

/** Writes the tables (in foreign-key order) and returns the row count of each table as stored. */
export async function writeTables(
  target: WriteTarget,
  force: boolean,
  tables: readonly AnyTableRows[],
  onProgress: (progress: WriteProgress) => void = () => {},
): Promise<Record<TableName, number>> {
  const ordered = [...tables].sort((a, b) => TABLE_ORDER.indexOf(a.table) - TABLE_ORDER.indexOf(b.table));
  return writeLibrary(target, force, (out) => loadAll(out.db, ordered, onProgress), onProgress);
}

/** What fills the tables, inside the load's transaction, with foreign keys checked after it. */
export type LibraryLoad = (out: TableInserter) => Promise<void>;

/**
 * Writes whatever `load` inserts, with the guarantees of `writeTables` (a temporary SQLite file
 * renamed into place, or one PostgreSQL transaction; keys checked and indexes built after the
 * load), and returns each table's row count as stored. Rows may be inserted in any order across
 * tables: a generator that produces the library a chunk of members at a time writes each
 * chunk's members, loans and truths before simulating the next.
 */
export async function writeLibrary(
  target: WriteTarget,
  force: boolean,
  load: LibraryLoad,
  onProgress: (progress: WriteProgress) => void = () => {},
): Promise<Record<TableName, number>> {
  return target.kind === 'sqlite' ? writeSqlite(target.file, force, load, onProgress) : writePostgres(target.url, force, load, onProgress);
}

/**
 * Buffers rows per table and inserts them in statements as large as `insertTable`'s, so that
 * a caller producing rows one at a time never holds more than one statement's rows per table.
 * `flush` must be called at the end (it is by nothing else). Progress reports the rows
 * inserted so far, of `expected[table]` when the caller knows the total, else of the rows so far.
 */
export class TableInserter {
  private readonly pending = new Map<TableName, Insertable<Database[TableName]>[]>();
  private readonly written = new Map<TableName, number>();
  readonly expected: Partial<Record<TableName, number>> = {};

  constructor(
    readonly db: Kysely<Database>,
    private readonly onProgress: (progress: WriteProgress) => void,
  ) {}

  async add<T extends TableName>(table: T, row: Insertable<Database[T]>): Promise<void> {
    let rows = this.pending.get(table);
    if (!rows) this.pending.set(table, (rows = []));
    rows.push(row);
    if (rows.length >= rowsPerStatement(Object.keys(row).length)) await this.flushTable(table);
  }

  async flush(): Promise<void> {
    for (const table of TABLE_ORDER) await this.flushTable(table);
  }

  private async flushTable(table: TableName): Promise<void> {
    const rows = this.pending.get(table);
    if (!rows || rows.length === 0) return;
    this.pending.set(table, []);
    await this.db.insertInto(table).values(rows).execute();
    const written = (this.written.get(table) ?? 0) + rows.length;
    this.written.set(table, written);
    this.onProgress({ table, rows: written, of: Math.max(written, this.expected[table] ?? written) });
  }
}

function rowsPerStatement(columns: number): number {
  return Math.max(1, Math.min(MAX_ROWS_PER_STATEMENT, Math.floor(MAX_VARIABLES_PER_STATEMENT / columns)));
}

async function writeSqlite(
  file: string,
  force: boolean,
  load: LibraryLoad,
  onProgress: (progress: WriteProgress) => void,
): Promise<Record<TableName, number>> {
  if (!force && existsSync(file)) throw new TargetExistsError(file);
  const temporary = temporaryFileFor(file);
  removeAbandonedTemporaryFiles(file);
  removeSqliteFiles(temporary);
  const store = openStore(`sqlite:${temporary}`);
  let counts: Record<TableName, number>;
  try {
    // A crash mid-load only loses the temporary file, so durability is not worth paying for here.
    await sql`PRAGMA journal_mode = MEMORY`.execute(store.db);
    await sql`PRAGMA synchronous = OFF`.execute(store.db);
    await migrateStore(store, TABLES_MIGRATION);
    // Checking keys row by row during the load costs more than one check of all rows after it.
    await sql`PRAGMA foreign_keys = OFF`.execute(store.db);
    await store.db.transaction().execute((trx) => load(new TableInserter(trx, onProgress)));
    await checkSqliteForeignKeys(store.db);
    await sql`PRAGMA foreign_keys = ON`.execute(store.db);
    onProgress({ table: 'indexes', rows: 0, of: 1 });
    await migrateStore(store);
    await sql`ANALYZE`.execute(store.db);
    onProgress({ table: 'indexes', rows: 1, of: 1 });
    counts = await countRows(store.db);
    // Leave no sidecar files behind; openStore switches the file to WAL when it opens it for writing.
    await sql`PRAGMA journal_mode = DELETE`.execute(store.db);
  } catch (error) {
    await store.close();
    removeSqliteFiles(temporary);
    throw error;
  }
  await store.close();
  if (!force && existsSync(file)) {
    removeSqliteFiles(temporary);
    throw new TargetExistsError(file);
  }
  // Stale -wal/-shm files of the replaced database would be replayed into the new one.
  for (const suffix of ['-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
  renameSync(temporary, file);
  return counts;
}

async function writePostgres(
  url: string,
  force: boolean,
  load: LibraryLoad,
  onProgress: (progress: WriteProgress) => void,
): Promise<Record<TableName, number>> {
  const store = openStore(url);
  try {
    // The write lock also serialises concurrent generators on the same database.
    await exclusiveTransaction(store, async (trx) => {
      if (!force && (await existingTables(trx)).length > 0) throw new TargetExistsError(describeTarget({ kind: 'postgres', url }));
      await dropAll(trx);
      await migrateWithin(trx, TABLES_MIGRATION);
      const foreignKeys = await dropForeignKeys(trx);
      await load(new TableInserter(trx, onProgress));
      await restoreForeignKeys(trx, foreignKeys);
      onProgress({ table: 'indexes', rows: 0, of: 1 });
      await migrateWithin(trx);
      onProgress({ table: 'indexes', rows: 1, of: 1 });
    });
    await sql`ANALYZE ${sql.join(TABLE_ORDER.map((table) => sql.table(table)))}`.execute(store.db);
    return await countRows(store.db);
  } finally {
    await store.close();
  }
}
