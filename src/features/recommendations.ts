/**
 * Recommendation features: what a member has borrowed, and how the trained version numbers
 * members and books. Used by the trainer (at past cut-offs and at the system date) and by the
 * recommendations subgraph (at the system date), so both see the same histories.
 *
 * Contract: for a batch of member ids, `borrowingHistories` issues one query on `members` and
 * one on `loans`, sees only loans checked out on or before the cut-off, and answers in id
 * order with `undefined` for ids that are not members or had not joined by the cut-off. A
 * history lists each book once, most recently borrowed first (ties: lower book id first), with
 * how many times it was borrowed.
 *
 * The index maps (member id <-> user_index, book id <-> item_index) belong to a trained
 * version: they are written beside its model as index.json and swapped with it on hot reload.
 * A member the version does not know (joined after training) is user_index -1
 * (ANONYMOUS_USER_INDEX): the graph then scores popularity plus co-borrowing from their history.
 */
import { ANONYMOUS_USER_INDEX } from '../ml/recommender';
import { inChunks, type Store } from '../store';

export interface BorrowingHistory {
  memberId: number;
  branchId: number;
  /** Distinct books, most recently borrowed first. */
  bookIds: number[];
  /** Loans of each book in `bookIds`, same order. */
  loanCounts: number[];
}

/** Two SQL statements per IDS_PER_QUERY ids (members, loans). */
export async function borrowingHistories(store: Store, memberIds: readonly number[], cutoff: string): Promise<(BorrowingHistory | undefined)[]> {
  if (memberIds.length === 0) return [];
  const ids = [...new Set(memberIds)];
  const [members, loans] = await Promise.all([
    inChunks(ids, (slice) => store.db.selectFrom('members').select(['id', 'branch_id']).where('id', 'in', slice).where('joined_at', '<=', cutoff).execute()),
    inChunks(ids, (slice) =>
      store.db
        .selectFrom('loans')
        .select((eb) => ['member_id', 'book_id', eb.fn.max('checked_out_at').as('last_borrowed'), eb.fn.countAll<number>().as('loans')])
        .where('member_id', 'in', slice)
        .where('checked_out_at', '<=', cutoff)
        .groupBy(['member_id', 'book_id'])
        .execute(),
    ),
  ]);
  const byMember = new Map<number, { bookId: number; last: string; loans: number }[]>();
  for (const row of loans) {
    const entry = { bookId: row.book_id, last: String(row.last_borrowed), loans: Number(row.loans) };
    const list = byMember.get(row.member_id);
    if (list) list.push(entry);
    else byMember.set(row.member_id, [entry]);
  }
  const found = new Map<number, BorrowingHistory>();
  for (const member of members) {
    const books = (byMember.get(member.id) ?? []).sort((a, b) => (a.last === b.last ? a.bookId - b.bookId : a.last < b.last ? 1 : -1));
    found.set(member.id, { memberId: member.id, branchId: member.branch_id, bookIds: books.map((b) => b.bookId), loanCounts: books.map((b) => b.loans) });
  }
  return memberIds.map((id) => found.get(id));
}

/** `borrowingHistories` by member id, for the ids that are members on the cut-off (what a memo keeps). */
export async function borrowingHistoriesById(store: Store, memberIds: readonly number[], cutoff: string): Promise<Map<number, BorrowingHistory>> {
  const found = new Map<number, BorrowingHistory>();
  for (const history of await borrowingHistories(store, memberIds, cutoff)) if (history) found.set(history.memberId, history);
  return found;
}

/**
 * A member's history at a later day, when none of their loans was checked out after `from` and by
 * `to` (see MemoCarry): the same, since a history lists the loans checked out by its day.
 */
export function carryBorrowingHistory(history: BorrowingHistory): BorrowingHistory {
  return history;
}

/** Histories of many members (a whole library), a slice of ids per batch so no statement grows unbounded. */
export async function borrowingHistoriesInChunks(store: Store, memberIds: readonly number[], cutoff: string, chunk = 2000): Promise<(BorrowingHistory | undefined)[]> {
  const all: (BorrowingHistory | undefined)[] = [];
  for (let from = 0; from < memberIds.length; from += chunk) all.push(...(await borrowingHistories(store, memberIds.slice(from, from + chunk), cutoff)));
  return all;
}

/** index.json of a recommendations version: position = index in the model. */
export interface RecommendationIndexFile {
  memberIds: number[];
  bookIds: number[];
  /**
   * Per item index, the book indices most often co-borrowed with it (strongest first): the
   * evidence a "readers of X also borrowed it" reason may cite. A prefix of the model's own
   * neighbourhood, so a cited reason is always one the score used.
   */
  coBorrowed: number[][];
}

export interface RecommendationIndex {
  memberIds: readonly number[];
  bookIds: readonly number[];
  userIndexOf: ReadonlyMap<number, number>;
  itemIndexOf: ReadonlyMap<number, number>;
  coBorrowed: readonly (readonly number[])[];
}

/** Reads and checks an index.json (throws on a malformed one). */
export function recommendationIndex(file: unknown): RecommendationIndex {
  const candidate = file as Partial<RecommendationIndexFile> | undefined;
  if (!candidate || !Array.isArray(candidate.memberIds) || !Array.isArray(candidate.bookIds) || !Array.isArray(candidate.coBorrowed)) {
    throw new Error('recommendations index.json needs memberIds, bookIds and coBorrowed');
  }
  if (candidate.coBorrowed.length !== candidate.bookIds.length) {
    throw new Error(`recommendations index.json has ${candidate.coBorrowed.length} coBorrowed rows for ${candidate.bookIds.length} books`);
  }
  return {
    memberIds: candidate.memberIds,
    bookIds: candidate.bookIds,
    userIndexOf: new Map(candidate.memberIds.map((id, i) => [id, i])),
    itemIndexOf: new Map(candidate.bookIds.map((id, i) => [id, i])),
    coBorrowed: candidate.coBorrowed,
  };
}

/** One row of the recommendations graph: who asks, and what they have already borrowed. */
export interface RecommendationQueryRow {
  userIndex: number;
  /** Item indices of the member's history, each once, most recent first (books the version does not know are left out). */
  seenItems: number[];
}

/** The graph's inputs for a member's history under a version's index. */
export function recommendationQuery(index: RecommendationIndex, history: BorrowingHistory): RecommendationQueryRow {
  const seenItems: number[] = [];
  for (const bookId of history.bookIds) {
    const item = index.itemIndexOf.get(bookId);
    if (item !== undefined) seenItems.push(item);
  }
  return { userIndex: index.userIndexOf.get(history.memberId) ?? ANONYMOUS_USER_INDEX, seenItems };
}
