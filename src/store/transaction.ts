/**
 * The one way to write to the store: a transaction that holds the database's write lock from
 * its first statement. SQLite: BEGIN IMMEDIATE, so a transaction that reads before it writes
 * never fails to upgrade its lock when another process wrote in between. PostgreSQL: an
 * advisory lock taken at BEGIN, so writers commit one at a time, in the order they were given
 * sequence numbers (what makes the outbox's `seq` safe to follow).
 */
import { sql, type Kysely } from 'kysely';
import type { Store } from '.';
import type { Database } from './schema';

const WRITE_LOCK = 'shelfmark-write';

export async function exclusiveTransaction<T>(store: Store, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  return store.db.connection().execute(async (db) => {
    await sql.raw(store.dialect === 'sqlite' ? 'begin immediate' : 'begin').execute(db);
    try {
      if (store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${WRITE_LOCK}))`.execute(db);
      const result = await work(db);
      await sql.raw('commit').execute(db);
      return result;
    } catch (error) {
      await sql.raw('rollback').execute(db).catch(() => undefined);
      throw error;
    }
  });
}
