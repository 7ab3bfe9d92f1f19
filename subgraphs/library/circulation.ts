/**
 * The circulation mutations and `Query.clock`: the GraphQL face of src/circulation, the one
 * write path. Only staff and the circulation system may write; every write carries the
 * client's event id, so a retried mutation applies once and answers the same.
 */
import { DateResolver, DateTimeResolver } from 'graphql-scalars';
import { GraphQLError } from 'graphql';
import { Arg, Ctx, Field, FieldResolver, ID, InputType, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { CirculationError, parseEvent, type AppliedEvent, type CirculationEvent } from '../../src/circulation';
import { ErrorCode, shelfmarkError } from '../../src/errors';
import type { LibraryContext } from './context';
import { Loan, Member } from './types';

const WRITER_ROLES = new Set(['staff', 'circulation']);

@InputType({ description: 'A checkout: the member takes the book home from the branch.' })
export class CheckOutInput {
  @Field(() => ID, { description: 'Chosen by the client; sending the same event again applies it once.' })
  eventId!: string;

  @Field(() => ID)
  memberId!: string;

  @Field(() => ID)
  bookId!: string;

  @Field(() => ID)
  branchId!: string;

  @Field(() => DateTimeResolver, { description: 'When it happened; not before the library clock.' })
  at!: Date;

  @Field(() => DateTimeResolver, { nullable: true, description: "Default: the book's loan period (21 days, DVDs 7) after `at`." })
  dueAt?: Date | null;
}

@InputType({ description: 'A loan comes back.' })
export class ReturnLoanInput {
  @Field(() => ID)
  eventId!: string;

  @Field(() => ID)
  loanId!: string;

  @Field(() => DateTimeResolver)
  at!: Date;
}

@InputType({ description: 'A loan is renewed to a new due date.' })
export class RenewLoanInput extends ReturnLoanInput {
  @Field(() => DateTimeResolver, { nullable: true, description: "Default: the book's loan period after `at`." })
  dueAt?: Date | null;
}

@InputType({ description: 'A new member joins at a branch.' })
export class RegisterMemberInput {
  @Field(() => ID)
  eventId!: string;

  @Field(() => ID, { nullable: true, description: 'The member number to give; default: the next free one.' })
  memberId?: string | null;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  email!: string;

  @Field(() => ID)
  branchId!: string;

  @Field(() => DateTimeResolver)
  at!: Date;
}

@InputType({ description: 'An end-of-day tick: the library clock moves to `to`.' })
export class AdvanceClockInput {
  @Field(() => ID)
  eventId!: string;

  @Field(() => DateResolver, { description: 'The new date; not before the current clock.' })
  to!: Date;
}

@ObjectType({ description: 'What one circulation event did. applied: false means the same event was applied before; nothing changed now.' })
export class CirculationResult {
  @Field(() => ID)
  eventId!: string;

  @Field(() => Boolean)
  applied!: boolean;

  // Resolved by CirculationResolver from loanId and memberId, and read only when asked for.
  @Field(() => Loan, { nullable: true, description: 'The loan the event created or touched.' })
  loan?: Loan | null;

  @Field(() => Member, { nullable: true, description: 'The member the event concerns.' })
  member?: Member | null;

  loanId!: number | null;
  memberId!: number | null;

  @Field(() => DateResolver, { description: 'The library clock after the event.' })
  clock!: Date;
}

function toGraphQLError(error: CirculationError): GraphQLError {
  return shelfmarkError(error.code, error.message, { reason: error.reason, eventId: error.eventId });
}

/** Drops absent optional fields and turns dates into the ISO strings the write path parses. */
function eventInput(type: string, input: object): Record<string, unknown> {
  const raw: Record<string, unknown> = { type };
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined || value === null) continue;
    raw[key === 'eventId' ? 'id' : key] = value instanceof Date ? (key === 'to' ? value.toISOString().slice(0, 10) : value.toISOString()) : value;
  }
  return raw;
}

@Resolver(() => CirculationResult)
export class CirculationResolver {
  @Query(() => DateResolver, { description: "The library's current date: every model field answers as of it." })
  async clock(@Ctx() ctx: LibraryContext): Promise<Date> {
    return new Date(`${await ctx.clock()}T00:00:00Z`);
  }

  @FieldResolver()
  loan(@Root() result: CirculationResult, @Ctx() ctx: LibraryContext): Promise<Loan | null> | null {
    return result.loanId === null ? null : ctx.loaders.loan.load(String(result.loanId));
  }

  @FieldResolver()
  member(@Root() result: CirculationResult, @Ctx() ctx: LibraryContext): Promise<Member | null> | null {
    return result.memberId === null ? null : ctx.loaders.member.load(String(result.memberId));
  }

  @Mutation(() => CirculationResult)
  checkOut(@Arg('input', () => CheckOutInput) input: CheckOutInput, @Ctx() ctx: LibraryContext): Promise<CirculationResult> {
    return write(ctx, eventInput('checkOut', input));
  }

  @Mutation(() => CirculationResult)
  returnLoan(@Arg('input', () => ReturnLoanInput) input: ReturnLoanInput, @Ctx() ctx: LibraryContext): Promise<CirculationResult> {
    return write(ctx, eventInput('returnLoan', input));
  }

  @Mutation(() => CirculationResult)
  renewLoan(@Arg('input', () => RenewLoanInput) input: RenewLoanInput, @Ctx() ctx: LibraryContext): Promise<CirculationResult> {
    return write(ctx, eventInput('renewLoan', input));
  }

  @Mutation(() => CirculationResult)
  registerMember(@Arg('input', () => RegisterMemberInput) input: RegisterMemberInput, @Ctx() ctx: LibraryContext): Promise<CirculationResult> {
    return write(ctx, eventInput('registerMember', input));
  }

  @Mutation(() => CirculationResult)
  advanceClock(@Arg('input', () => AdvanceClockInput) input: AdvanceClockInput, @Ctx() ctx: LibraryContext): Promise<CirculationResult> {
    return write(ctx, eventInput('advanceClock', input));
  }
}

async function write(ctx: LibraryContext, raw: Record<string, unknown>): Promise<CirculationResult> {
  if (!WRITER_ROLES.has(ctx.identity.role)) {
    throw shelfmarkError(ErrorCode.FORBIDDEN, `role ${ctx.identity.role} may not write; circulation mutations are for staff and circulation`);
  }
  let event: CirculationEvent;
  try {
    event = parseEvent(raw);
  } catch (error) {
    if (!(error instanceof CirculationError)) throw error;
    // applyEvent counts the events it sees; one that never parsed is counted here.
    ctx.circulation.onOutcome?.(raw.type as CirculationEvent['type'], 'rejected');
    throw toGraphQLError(error);
  }
  let applied: AppliedEvent;
  try {
    applied = await ctx.writer.write(event);
  } catch (error) {
    throw error instanceof CirculationError ? toGraphQLError(error) : error;
  }
  return Object.assign(new CirculationResult(), {
    eventId: applied.eventId, applied: applied.applied, loanId: applied.loanId, memberId: applied.memberId, clock: new Date(`${applied.clock}T00:00:00Z`),
  });
}
