/** Queries and fields of the library subgraph. Every entity read goes through the request's loaders. */
import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { GraphQLError } from 'graphql';
import { badUserInput, ErrorCode } from '../../src/errors';
import { canSeePii } from '../../src/identity';
import { daysBetween } from '../../src/util/dates';
import type { LibraryContext } from './context';
import { parseId } from '../../src/util/ids';
import { toBook, toMember } from './loaders';
import { Book, BookConnection, Branch, Loan, LoanStatus, Member, MemberConnection } from './types';

/** The largest page a client may ask for in one list field. */
export const MAX_PAGE_SIZE = 500;

function checkPageSize(first: number, field: string): void {
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badUserInput(`${field}: first must be between 0 and ${MAX_PAGE_SIZE}, got ${first}`, { argumentName: 'first', maximum: MAX_PAGE_SIZE });
  }
}

export function encodeCursor(id: number): string {
  return Buffer.from(`id:${id}`).toString('base64url');
}

function decodeCursor(cursor: string | undefined | null): number {
  if (cursor === undefined || cursor === null) return 0;
  const match = /^id:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badUserInput(`after: "${cursor}" is not a cursor this API issued`, { argumentName: 'after' });
  return Number(match[1]);
}

function forbiddenPii(field: string): GraphQLError {
  return new GraphQLError(`Member.${field} is personal data and only staff may read it`, {
    extensions: { code: ErrorCode.FORBIDDEN, field: `Member.${field}` },
  });
}

@Resolver(() => Member)
export class MemberResolver {
  @Query(() => Member, { nullable: true })
  member(@Arg('id', () => ID) id: string, @Ctx() ctx: LibraryContext): Promise<Member | null> {
    return ctx.loaders.member.load(id);
  }

  @Query(() => MemberConnection, { description: `Members in id order. first: at most ${MAX_PAGE_SIZE}.` })
  async members(
    @Ctx() ctx: LibraryContext,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ): Promise<MemberConnection> {
    checkPageSize(first, 'members');
    const afterId = decodeCursor(after);
    const { db } = ctx.store;
    const [rows, total] = await Promise.all([
      db.selectFrom('members').selectAll().where('id', '>', afterId).orderBy('id').limit(first + 1).execute(),
      db.selectFrom('members').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ]);
    const page = rows.slice(0, first);
    const nodes = page.map(toMember);
    for (const node of nodes) ctx.loaders.member.prime(node.id, node);
    return {
      nodes,
      totalCount: Number(total.n),
      pageInfo: { hasNextPage: rows.length > first, endCursor: page.length ? encodeCursor(page[page.length - 1]!.id) : null },
    };
  }

  @FieldResolver(() => String, { nullable: true })
  name(@Root() member: Member, @Ctx() ctx: LibraryContext): string | null | undefined {
    if (!canSeePii(ctx.identity)) throw forbiddenPii('name');
    return member.name;
  }

  @FieldResolver(() => String, { nullable: true })
  email(@Root() member: Member, @Ctx() ctx: LibraryContext): string | null | undefined {
    if (!canSeePii(ctx.identity)) throw forbiddenPii('email');
    return member.email;
  }

  @FieldResolver(() => Branch)
  async branch(@Root() member: Member, @Ctx() ctx: LibraryContext): Promise<Branch> {
    const branch = await ctx.loaders.branch.load(member.branchId);
    if (!branch) throw new Error(`member ${member.id} refers to missing branch ${member.branchId}`);
    return branch;
  }

  @FieldResolver(() => [Loan], { description: `The member's loans, newest first. first: at most ${MAX_PAGE_SIZE}.` })
  async loans(
    @Root() member: Member,
    @Ctx() ctx: LibraryContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('status', () => LoanStatus, { nullable: true }) status?: LoanStatus,
  ): Promise<Loan[]> {
    if (first !== undefined && first !== null) checkPageSize(first, 'Member.loans');
    const asOf = await ctx.clock();
    const loans = (await ctx.loaders.loansOfMember.load(member.id)).filter((loan) => loanHasStatus(loan, status, asOf));
    return first === undefined || first === null ? loans : loans.slice(0, first);
  }
}

export function loanHasStatus(loan: Loan, status: LoanStatus | undefined, asOf: string): boolean {
  switch (status) {
    case undefined:
    case null:
      return true;
    case LoanStatus.OPEN:
      return !loan.returnedAt;
    case LoanStatus.RETURNED:
      return Boolean(loan.returnedAt);
    case LoanStatus.OVERDUE:
      return !loan.returnedAt && daysBetween(loan.dueAt.toISOString().slice(0, 10), asOf) > 0;
    default: {
      const unhandled: never = status;
      throw new Error(`unknown loan status ${String(unhandled)}`);
    }
  }
}

@Resolver(() => Book)
export class BookResolver {
  @Query(() => Book, { nullable: true })
  book(@Arg('id', () => ID) id: string, @Ctx() ctx: LibraryContext): Promise<Book | null> {
    return ctx.loaders.book.load(id);
  }

  @Query(() => BookConnection, { description: `Books in id order, optionally of one genre. first: at most ${MAX_PAGE_SIZE}.` })
  async books(
    @Ctx() ctx: LibraryContext,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('genre', () => String, { nullable: true }) genre?: string,
  ): Promise<BookConnection> {
    checkPageSize(first, 'books');
    const afterId = decodeCursor(after);
    const { db } = ctx.store;
    let pageQuery = db.selectFrom('books').selectAll().where('id', '>', afterId);
    let countQuery = db.selectFrom('books').select((eb) => eb.fn.countAll<number>().as('n'));
    if (genre) {
      pageQuery = pageQuery.where('genre', '=', genre);
      countQuery = countQuery.where('genre', '=', genre);
    }
    const [rows, total] = await Promise.all([pageQuery.orderBy('id').limit(first + 1).execute(), countQuery.executeTakeFirstOrThrow()]);
    const page = rows.slice(0, first);
    const nodes = page.map(toBook);
    for (const node of nodes) ctx.loaders.book.prime(node.id, node);
    return {
      nodes,
      totalCount: Number(total.n),
      pageInfo: { hasNextPage: rows.length > first, endCursor: page.length ? encodeCursor(page[page.length - 1]!.id) : null },
    };
  }
}

@Resolver(() => Loan)
export class LoanResolver {
  @Query(() => Loan, { nullable: true })
  loan(@Arg('id', () => ID) id: string, @Ctx() ctx: LibraryContext): Promise<Loan | null> {
    return parseId(id) === undefined ? Promise.resolve(null) : ctx.loaders.loan.load(id);
  }

  @FieldResolver(() => Member)
  async member(@Root() loan: Loan, @Ctx() ctx: LibraryContext): Promise<Member> {
    const member = await ctx.loaders.member.load(loan.memberId);
    if (!member) throw new Error(`loan ${loan.id} refers to missing member ${loan.memberId}`);
    return member;
  }

  @FieldResolver(() => Book)
  async book(@Root() loan: Loan, @Ctx() ctx: LibraryContext): Promise<Book> {
    const book = await ctx.loaders.book.load(loan.bookId);
    if (!book) throw new Error(`loan ${loan.id} refers to missing book ${loan.bookId}`);
    return book;
  }
}
