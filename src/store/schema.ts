/**
 * The store's tables, as Kysely types and as portable DDL (SQLite and PostgreSQL alike).
 * Dates are ISO calendar days ('YYYY-MM-DD') in TEXT columns, so both dialects compare them
 * the same way. Tables prefixed `sim_` hold what only the simulator knows (hidden traits and
 * the true probabilities behind outcomes); models are scored against them, never fed them.
 */
import { Kysely, sql } from 'kysely';

export interface BranchTable {
  id: number;
  name: string;
  /** Relative size of the branch's membership, used by the simulator. */
  size: number;
}

export interface MemberTable {
  id: number;
  name: string;
  email: string;
  joined_at: string;
  branch_id: number;
}

export interface BookTable {
  id: number;
  title: string;
  /** JSON array of author names. */
  authors: string;
  genre: string;
  /** The library's collection class: 'Adult Fiction', 'Child Fiction', 'Large Print', 'DVD', ... */
  collection: string;
  publication_year: number | null;
  isbn: string | null;
  average_rating: number;
  ratings_count: number;
}

export interface LoanTable {
  id: number;
  member_id: number;
  book_id: number;
  branch_id: number;
  checked_out_at: string;
  due_at: string;
  returned_at: string | null;
  renewals: number;
}

/** The true probability that a loan comes back after its (final) due date. */
export interface SimLoanTruthTable {
  loan_id: number;
  late_probability: number;
}

/** Hidden traits of a simulated member. */
export interface SimMemberTruthTable {
  member_id: number;
  reliability: number;
  /** Monthly multiplicative drift of borrowing intensity (<1: declining engagement). */
  engagement_trend: number;
  /** The day the member stopped borrowing, or null. */
  churned_at: string | null;
  /** JSON object: genre -> weight of the member's latent taste. */
  taste: string;
  /** JSON array: the authors the member returns to (the author side of their taste). */
  favourite_authors: string;
  /** Borrowing visits per month when the member's simulated history starts (before the trend). */
  intensity: number;
  /** The kind of reader: 'adult', 'senior', 'family' or 'teen'. */
  profile: string;
}

/** The true probability of "no loan in the 90 days after `cutoff`" for a member. */
export interface SimChurnTruthTable {
  member_id: number;
  cutoff: string;
  probability: number;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface Database {
  branches: BranchTable;
  members: MemberTable;
  books: BookTable;
  loans: LoanTable;
  sim_loan_truth: SimLoanTruthTable;
  sim_member_truth: SimMemberTruthTable;
  sim_churn_truth: SimChurnTruthTable;
  meta: MetaTable;
}

export type TableName = keyof Database;

export async function createSchema(db: Kysely<Database>): Promise<void> {
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

/** Indexes are built after bulk loading, which is several times faster than loading into them. */
export async function createIndexes(db: Kysely<Database>): Promise<void> {
  await db.schema.createIndex('loans_member_idx').ifNotExists().on('loans').columns(['member_id', 'checked_out_at']).execute();
  await db.schema.createIndex('loans_book_idx').ifNotExists().on('loans').columns(['book_id', 'checked_out_at']).execute();
  await db.schema.createIndex('loans_checked_out_idx').ifNotExists().on('loans').column('checked_out_at').execute();
  await db.schema.createIndex('loans_open_idx').ifNotExists().on('loans').columns(['returned_at', 'member_id']).execute();
  await db.schema.createIndex('members_branch_idx').ifNotExists().on('members').column('branch_id').execute();
  await db.schema.createIndex('books_genre_idx').ifNotExists().on('books').column('genre').execute();
}

export async function dropAll(db: Kysely<Database>): Promise<void> {
  for (const table of ['sim_churn_truth', 'sim_member_truth', 'sim_loan_truth', 'loans', 'books', 'members', 'branches', 'meta']) {
    await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
  }
}
