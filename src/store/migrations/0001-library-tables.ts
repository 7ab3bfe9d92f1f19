/**
 * The store's tables as they were before versioned migrations: branches, members, books,
 * loans, the simulator's truth and meta. `ifNotExists` lets a database built before migrations
 * existed adopt this version without losing a row. Frozen: later changes are new migrations.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('branches').ifNotExists()
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('size', 'real', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('members').ifNotExists()
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('joined_at', 'text', (c) => c.notNull())
    .addColumn('branch_id', 'integer', (c) => c.notNull().references('branches.id'))
    .execute();
  await db.schema
    .createTable('books').ifNotExists()
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('authors', 'text', (c) => c.notNull())
    .addColumn('genre', 'text', (c) => c.notNull())
    .addColumn('collection', 'text', (c) => c.notNull())
    .addColumn('publication_year', 'integer')
    .addColumn('isbn', 'text')
    .addColumn('average_rating', 'real', (c) => c.notNull())
    .addColumn('ratings_count', 'integer', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('loans').ifNotExists()
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('member_id', 'integer', (c) => c.notNull().references('members.id'))
    .addColumn('book_id', 'integer', (c) => c.notNull().references('books.id'))
    .addColumn('branch_id', 'integer', (c) => c.notNull().references('branches.id'))
    .addColumn('checked_out_at', 'text', (c) => c.notNull())
    .addColumn('due_at', 'text', (c) => c.notNull())
    .addColumn('returned_at', 'text')
    .addColumn('renewals', 'integer', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('sim_loan_truth').ifNotExists()
    .addColumn('loan_id', 'integer', (c) => c.primaryKey())
    .addColumn('late_probability', 'real', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('sim_member_truth').ifNotExists()
    .addColumn('member_id', 'integer', (c) => c.primaryKey())
    .addColumn('reliability', 'real', (c) => c.notNull())
    .addColumn('engagement_trend', 'real', (c) => c.notNull())
    .addColumn('churned_at', 'text')
    .addColumn('taste', 'text', (c) => c.notNull())
    .addColumn('favourite_authors', 'text', (c) => c.notNull())
    .addColumn('intensity', 'real', (c) => c.notNull())
    .addColumn('profile', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('sim_churn_truth').ifNotExists()
    .addColumn('member_id', 'integer', (c) => c.notNull())
    .addColumn('cutoff', 'text', (c) => c.notNull())
    .addColumn('probability', 'real', (c) => c.notNull())
    .addPrimaryKeyConstraint('sim_churn_truth_pk', ['member_id', 'cutoff'])
    .execute();
  await db.schema
    .createTable('meta').ifNotExists()
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['sim_churn_truth', 'sim_member_truth', 'sim_loan_truth', 'loans', 'books', 'members', 'branches', 'meta']) {
    await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
  }
}
