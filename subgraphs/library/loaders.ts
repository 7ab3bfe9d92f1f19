/**
 * Per-request DataLoaders of the library subgraph.
 *
 * Contract of every batch function here: given N keys it issues exactly one SQL statement
 * against its table and returns N values in key order, `null` where no row has that id.
 * However many representations one `_entities` call carries, each table is read once.
 */
import DataLoader from 'dataloader';
import type { Selectable } from 'kysely';
import { byKeys, IDS_PER_QUERY, type Store } from '../../src/store';
import type { BookTable, BranchTable, LoanTable, MemberTable } from '../../src/store/schema';
import { dayToMs } from '../../src/util/dates';
import { parseId } from '../../src/util/ids';
import { Book, Branch, Loan, Member } from './types';

export function toMember(row: Selectable<MemberTable>): Member {
  return Object.assign(new Member(), {
    id: String(row.id),
    name: row.name,
    email: row.email,
    joinedAt: new Date(dayToMs(row.joined_at)),
    branchId: String(row.branch_id),
  });
}

export function toBook(row: Selectable<BookTable>): Book {
  return Object.assign(new Book(), {
    id: String(row.id),
    title: row.title,
    authors: JSON.parse(row.authors) as string[],
    genre: row.genre,
    collection: row.collection,
    publicationYear: row.publication_year,
    ratingsCount: row.ratings_count,
  });
}

export function toLoan(row: Selectable<LoanTable>): Loan {
  return Object.assign(new Loan(), {
    id: String(row.id),
    checkedOutAt: new Date(dayToMs(row.checked_out_at)),
    dueAt: new Date(dayToMs(row.due_at)),
    returnedAt: row.returned_at ? new Date(dayToMs(row.returned_at)) : null,
    renewals: row.renewals,
    memberId: String(row.member_id),
    bookId: String(row.book_id),
  });
}

function toBranch(row: Selectable<BranchTable>): Branch {
  return Object.assign(new Branch(), { id: String(row.id), name: row.name });
}

function byId<T extends { id: string }>(keys: readonly string[], rows: T[]): (T | null)[] {
  const found = new Map(rows.map((row) => [row.id, row]));
  return keys.map((key) => found.get(key) ?? null);
}

function numericIds(keys: readonly string[]): number[] {
  return [...new Set(keys.map(parseId).filter((id): id is number => id !== undefined))];
}

export interface LibraryLoaders {
  member: DataLoader<string, Member | null>;
  book: DataLoader<string, Book | null>;
  loan: DataLoader<string, Loan | null>;
  branch: DataLoader<string, Branch | null>;
  /** All loans of each member, newest first. */
  loansOfMember: DataLoader<string, Loan[]>;
}

/** One batch is one `IN (...)` statement: a batch of keys (an `_entities` call for a whole watchlist, say) is bounded like every id list. */
const BATCH = { maxBatchSize: IDS_PER_QUERY };

// Compiled once per list length (see store/reusable-query): one entity's page reads these on every request.
const membersById = byKeys((db, ids: readonly number[]) => db.selectFrom('members').selectAll().where('id', 'in', ids));
const booksById = byKeys((db, ids: readonly number[]) => db.selectFrom('books').selectAll().where('id', 'in', ids));
const loansById = byKeys((db, ids: readonly number[]) => db.selectFrom('loans').selectAll().where('id', 'in', ids));
const branchesById = byKeys((db, ids: readonly number[]) => db.selectFrom('branches').selectAll().where('id', 'in', ids));

export function createLibraryLoaders(store: Store): LibraryLoaders {
  const { db } = store;
  return {
    member: new DataLoader(async (keys) => {
      const ids = numericIds(keys);
      const rows = ids.length ? await membersById.execute(db, ids) : [];
      return byId(keys, rows.map(toMember));
    }, BATCH),
    book: new DataLoader(async (keys) => {
      const ids = numericIds(keys);
      const rows = ids.length ? await booksById.execute(db, ids) : [];
      return byId(keys, rows.map(toBook));
    }, BATCH),
    loan: new DataLoader(async (keys) => {
      const ids = numericIds(keys);
      const rows = ids.length ? await loansById.execute(db, ids) : [];
      return byId(keys, rows.map(toLoan));
    }, BATCH),
    branch: new DataLoader(async (keys) => {
      const ids = numericIds(keys);
      const rows = ids.length ? await branchesById.execute(db, ids) : [];
      return byId(keys, rows.map(toBranch));
    }, BATCH),
    loansOfMember: new DataLoader(async (keys) => {
      const ids = numericIds(keys);
      const rows = ids.length
        ? await db.selectFrom('loans').selectAll().where('member_id', 'in', ids).orderBy('checked_out_at', 'desc').orderBy('id', 'desc').execute()
        : [];
      const grouped = new Map<string, Loan[]>();
      for (const row of rows) {
        const loan = toLoan(row);
        const list = grouped.get(loan.memberId);
        if (list) list.push(loan);
        else grouped.set(loan.memberId, [loan]);
      }
      return keys.map((key) => grouped.get(key) ?? []);
    }, BATCH),
  };
}
