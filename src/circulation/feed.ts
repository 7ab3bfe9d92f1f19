/**
 * What followers of the write path read: the change records after a sequence number, in
 * order and in bounded batches. Writers commit one at a time in `seq` order (see
 * store/transaction), so a follower that remembers the last `seq` it handled misses nothing.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { sqlitePath, type Database, type Store } from '../store';
import type { ChangedEntity } from './apply';

export interface ChangeRecord {
  seq: number;
  entity: ChangedEntity;
  /** The member, book or loan id; for 'clock', the new date. */
  entityId: string;
  eventId: string;
}

export const MAX_CHANGES_PER_READ = 10_000;

/** Up to `limit` change records with `seq` > `after`, oldest first. */
export async function readChanges(store: Store, after: number, limit = 1000): Promise<ChangeRecord[]> {
  if (!Number.isSafeInteger(after) || after < 0) throw new RangeError(`after must be a non-negative integer, got ${after}`);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_CHANGES_PER_READ) throw new RangeError(`limit must be in 1..${MAX_CHANGES_PER_READ}, got ${limit}`);
  const rows = await store.db.selectFrom('changes').selectAll().where('seq', '>', after).orderBy('seq').limit(limit).execute();
  return rows.map((row) => ({ seq: Number(row.seq), entity: row.entity as ChangedEntity, entityId: row.entity_id, eventId: row.event_id }));
}

/** The newest `seq` written, 0 when none: where a follower that starts from now begins. */
export async function latestChange(db: Kysely<Database>): Promise<number> {
  const row = await db.selectFrom('changes').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/** PostgreSQL channel a writer NOTIFYs after each commit that wrote change records. */
export const CHANGES_CHANNEL = 'shelfmark_changes';

/**
 * SQLite's NOTIFY: the file beside the store whose modification time a writer sets after each
 * commit that wrote change records, and that followers watch (src/model-runtime/commit-watch).
 * Only the change feed's commits touch it: the prediction log's and the monitor's commits, many
 * a second, wake no follower.
 */
export function changeSignalFile(storeFile: string): string {
  return `${path.resolve(storeFile)}-changes`;
}

/**
 * Wakes the followers: PostgreSQL LISTENers on CHANGES_CHANNEL, or on a SQLite file the watchers
 * of its changeSignalFile. On SQLite the signal is one `utimes` call (about 2 µs, where rewriting
 * the file took 125 µs), made before the writer answers. A signal that cannot be given is not an
 * error: followers still poll every FOLLOW_INTERVAL_MS.
 */
export async function notifyChanges(store: Store, lastSeq: number): Promise<void> {
  if (store.dialect === 'postgres') {
    await sql`select pg_notify(${CHANGES_CHANNEL}, ${String(lastSeq)})`.execute(store.db);
    return;
  }
  const file = sqlitePath(store.url);
  if (file === undefined || file === ':memory:') return;
  const signal = changeSignalFile(file);
  const now = new Date();
  try {
    utimesSync(signal, now, now);
  } catch {
    // No follower has created it yet.
    try {
      writeFileSync(signal, '');
    } catch {
      // Polling is the floor.
    }
  }
}
