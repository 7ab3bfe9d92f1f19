/**
 * The store's tables, as Kysely types and as portable DDL (SQLite and PostgreSQL alike).
 * Dates are ISO calendar days ('YYYY-MM-DD') in TEXT columns, so both dialects compare them
 * the same way. Tables prefixed `sim_` hold what only the simulator knows (hidden traits and
 * the true probabilities behind outcomes); models are scored against them, never fed them.
 */

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

/** One circulation event as applied: the client-chosen id is the key that makes writes idempotent. */
export interface EventTable {
  id: string;
  /** checkOut, returnLoan, renewLoan, registerMember or advanceClock. */
  type: string;
  /** The event's canonical JSON (sorted keys, normalised times): what "the same content" means. */
  content: string;
  /** sha256 of `content`, hex. */
  content_hash: string;
  /** The library day the event happened on. */
  at: string;
  /** The loan and member the event created or touched, so a repeat answers the same. */
  loan_id: number | null;
  member_id: number | null;
}

/**
 * The outbox: one row per entity an event changed, written in the event's transaction. `seq` is
 * gapless and follows commit order (writers hold one lock), so a follower that has read up to
 * `seq` N has seen every change up to N.
 */
export interface ChangeTable {
  seq: number;
  /** 'member' | 'book' | 'loan' | 'clock'. */
  entity: string;
  entity_id: string;
  event_id: string;
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
  events: EventTable;
  changes: ChangeTable;
}

export type TableName = keyof Database;

