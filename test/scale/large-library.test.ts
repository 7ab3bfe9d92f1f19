/**
 * No statement grows with the library: every feature extraction the trainers and the watchlists
 * run over a whole library, and the library subgraph's loaders, answer on a store with more
 * members, books and loans than SQLite's 32,766 bound variables (one `IN (...)` over all of them
 * would be refused with "too many SQL variables").
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { churnFeatures, churnLabels } from '../../src/features/churn';
import { bookWeeklyLoans, weeklyCalendar } from '../../src/features/demand';
import { memberActivityById } from '../../src/features/member-activity';
import { memberOpenLoanFeatures, overdueServingFeatures } from '../../src/features/overdue';
import { borrowingHistories } from '../../src/features/recommendations';
import { segmentationFeatures } from '../../src/features/segmentation';
import { chunks, openMigratedStore, type Store } from '../../src/store';
import { createLibraryLoaders } from '../../subgraphs/library/loaders';

const MEMBERS = 40_000;
const BOOKS = 33_000;
const AS_OF = '2025-06-30';
const CUTOFF = '2025-06-01';
const ROWS_PER_INSERT = 500;

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

/** Each member: one returned loan in May, one open loan due after the as-of date. Loan 2m-1 and 2m are member m's. */
async function largeLibrary(): Promise<Store> {
  const store = await openMigratedStore(':memory:');
  await store.db.insertInto('meta').values({ key: 'as_of', value: AS_OF }).execute();
  await store.db.insertInto('branches').values([{ id: 1, name: 'Central', size: 1 }]).execute();
  for (const ids of chunks(range(MEMBERS), ROWS_PER_INSERT)) {
    await store.db.insertInto('members').values(ids.map((id) => ({ id, name: `Member ${id}`, email: `m${id}@example.org`, joined_at: '2023-01-15', branch_id: 1 }))).execute();
  }
  for (const ids of chunks(range(BOOKS), ROWS_PER_INSERT)) {
    await store.db
      .insertInto('books')
      .values(ids.map((id) => ({ id, title: `Book ${id}`, authors: '["A"]', genre: 'Mystery', collection: 'Adult Fiction', publication_year: 2000, isbn: null, average_rating: 4, ratings_count: 10 })))
      .execute();
  }
  for (const ids of chunks(range(MEMBERS * 2), ROWS_PER_INSERT)) {
    await store.db
      .insertInto('loans')
      .values(ids.map((id) => {
        const returned = id % 2 === 1;
        return {
          id, member_id: Math.ceil(id / 2), book_id: (id % BOOKS) + 1, branch_id: 1,
          checked_out_at: returned ? '2025-05-01' : '2025-06-20', due_at: returned ? '2025-05-22' : '2025-07-11',
          returned_at: returned ? '2025-05-20' : null, renewals: 0,
        };
      }))
      .execute();
  }
  return store;
}

describe(`a library of ${MEMBERS} members and ${BOOKS} books`, () => {
  let store: Store;
  const members = range(MEMBERS);
  beforeAll(async () => {
    store = await largeLibrary();
  }, 60_000);
  afterAll(async () => {
    await store.close();
  });

  it('churn and segmentation features of every member (the trainers, the churn watchlist and the segment overview)', async () => {
    const churn = await churnFeatures(store, members, CUTOFF);
    expect(churn.memberIds).toHaveLength(MEMBERS);
    expect(churn.rowOf.every((row) => row >= 0)).toBe(true);
    expect(await churnLabels(store, members, CUTOFF)).toHaveLength(MEMBERS);
    expect((await segmentationFeatures(store, members, CUTOFF)).memberIds).toHaveLength(MEMBERS);
    const activity = await memberActivityById(store, members, AS_OF);
    expect(activity.size).toBe(MEMBERS);
    expect(activity.get(MEMBERS)?.openLoans).toBe(1);
  });

  it('borrowing histories of every member (the recommendations trainer and memo)', async () => {
    const histories = await borrowingHistories(store, members, AS_OF);
    expect(histories).toHaveLength(MEMBERS);
    expect(histories.every((h) => h?.bookIds.length === 2)).toBe(true);
  });

  it('open-loan features of every member (the overdue watchlist) and serving features of every loan', async () => {
    const open = await memberOpenLoanFeatures(store, members, AS_OF);
    expect(open.size).toBe(MEMBERS);
    expect(open.get(1)?.loans.map((l) => l.id)).toEqual([2]);
    const loanIds = range(MEMBERS * 2);
    const batch = await overdueServingFeatures(store, { loanIds }, AS_OF);
    expect(batch.requestedCount).toBe(MEMBERS * 2);
    expect(batch.features.loanIds).toHaveLength(MEMBERS * 2);
  });

  it('weekly loans of every book (the demand trainer)', async () => {
    const weekly = await bookWeeklyLoans(store, range(BOOKS), weeklyCalendar('2025-01-01', AS_OF));
    expect(weekly.bookIds).toHaveLength(BOOKS);
    expect(weekly.series.reduce((sum, s) => sum + Array.from(s.values).reduce((a, b) => a + b, 0), 0)).toBe(MEMBERS * 2);
  });

  it('the library loaders, asked for every member and their loans in one batch', async () => {
    const loaders = createLibraryLoaders(store);
    const keys = members.map(String);
    const found = await Promise.all([loaders.member.loadMany(keys), loaders.loansOfMember.loadMany(keys)]);
    expect(found[0].filter((m) => m && !(m instanceof Error))).toHaveLength(MEMBERS);
    expect(found[1].every((loans) => Array.isArray(loans) && loans.length === 2)).toBe(true);
  });
});
