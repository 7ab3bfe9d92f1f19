/**
 * The indexes of the first tables, a migration of their own so that `generate` can bulk-load
 * into bare tables and index afterwards, which is several times faster than loading into them.
 */
import type { Kysely } from 'kysely';

const INDEXES = ['loans_member_idx', 'loans_book_idx', 'loans_checked_out_idx', 'loans_open_idx', 'members_branch_idx', 'books_genre_idx'];

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('loans_member_idx').ifNotExists().on('loans').columns(['member_id', 'checked_out_at']).execute();
  await db.schema.createIndex('loans_book_idx').ifNotExists().on('loans').columns(['book_id', 'checked_out_at']).execute();
  await db.schema.createIndex('loans_checked_out_idx').ifNotExists().on('loans').column('checked_out_at').execute();
  await db.schema.createIndex('loans_open_idx').ifNotExists().on('loans').columns(['returned_at', 'member_id']).execute();
  await db.schema.createIndex('members_branch_idx').ifNotExists().on('members').column('branch_id').execute();
  await db.schema.createIndex('books_genre_idx').ifNotExists().on('books').column('genre').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const name of INDEXES) await db.schema.dropIndex(name).ifExists().execute();
}
