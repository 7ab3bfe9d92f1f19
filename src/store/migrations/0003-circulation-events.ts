/**
 * Circulation writes: the applied events (keyed by their client-chosen id) and the outbox of
 * change records the model subgraphs follow. `changes.seq` is assigned by the writer under its
 * lock rather than by a sequence, so it is gapless and identical on SQLite and PostgreSQL.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('content_hash', 'text', (c) => c.notNull())
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('loan_id', 'integer')
    .addColumn('member_id', 'integer')
    .execute();
  await db.schema
    .createTable('changes')
    .addColumn('seq', 'bigint', (c) => c.primaryKey())
    .addColumn('entity', 'text', (c) => c.notNull())
    .addColumn('entity_id', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text', (c) => c.notNull().references('events.id'))
    .execute();
  await db.schema.createIndex('changes_event_idx').on('changes').column('event_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('changes').ifExists().execute();
  await db.schema.dropTable('events').ifExists().execute();
}
