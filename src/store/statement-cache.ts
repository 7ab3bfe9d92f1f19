/**
 * Prepared statements kept for reuse on one SQLite connection. Kysely's SQLite driver prepares
 * every statement it runs afresh, and on the write path (a handful of short statements per
 * event) preparing cost about as much as running. This wrapper hands Kysely the statement it
 * prepared before for the same SQL text, up to `capacity` statements, least recently used
 * dropped first.
 *
 * A statement still being iterated (a streamed query) is busy and cannot run a second time at
 * once; a request for its SQL then gets a new statement, not the cached one.
 */
import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import type { SqliteDatabase as KyselySqliteDatabase, SqliteStatement } from 'kysely';

/** Distinct statements kept: the store's code has a few hundred shapes at most, counting multi-row inserts by row count. */
export const STATEMENTS_KEPT = 256;

export function withStatementCache(database: SqliteDatabase, capacity = STATEMENTS_KEPT): KyselySqliteDatabase {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`statement cache capacity must be a positive integer, got ${capacity}`);
  const kept = new Map<string, Statement>();
  return {
    prepare(sqlText: string): SqliteStatement {
      const cached = kept.get(sqlText);
      if (cached && !cached.busy) {
        kept.delete(sqlText);
        kept.set(sqlText, cached);
        return cached;
      }
      const statement = database.prepare(sqlText);
      if (cached) return statement;
      kept.set(sqlText, statement);
      if (kept.size > capacity) {
        const oldest = kept.keys().next();
        if (!oldest.done) kept.delete(oldest.value);
      }
      return statement;
    },
    close(): void {
      kept.clear();
      database.close();
    },
  };
}
