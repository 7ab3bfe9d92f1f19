/**
 * A member's loans read from the index alone. Every feature read of a member (churn and
 * segmentation's activity, recommendations' history, overdue's open loans) selects their loans
 * by (member_id, checked_out_at) and reads the book, due and return dates and renewals; with
 * `loans_member_idx` holding only the key, each of a member's ~50 loans cost a look-up in the
 * table, on a page of its own (loans are stored in checkout order, a member's spread over the
 * whole file). This index carries those columns, so a member's loans are a few adjacent index
 * pages. It has `loans_member_idx`'s key as its prefix, so that index is dropped: every query it
 * served this one serves.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('loans_member_history_idx')
    .ifNotExists()
    .on('loans')
    .columns(['member_id', 'checked_out_at', 'book_id', 'due_at', 'returned_at', 'renewals'])
    .execute();
  await db.schema.dropIndex('loans_member_idx').ifExists().execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('loans_member_idx').ifNotExists().on('loans').columns(['member_id', 'checked_out_at']).execute();
  await db.schema.dropIndex('loans_member_history_idx').ifExists().execute();
}
