/** Loan.overdueRisk, Member.overdueRisk and the loans most at risk of coming back late. */
import { Arg, Ctx, Directive, Field, FieldResolver, Float, ID, Int, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { RiskPrediction } from '../../src/graphql/prediction-types';
import { MAX_OVERDUE_WATCHLIST } from '../../src/models/overdue';
import type { OverdueContext } from './context';

@ObjectType()
@Directive('@key(fields: "id")')
export class Loan {
  @Field(() => ID)
  id!: string;
}

@ObjectType()
@Directive('@key(fields: "id")')
export class Member {
  @Field(() => ID)
  id!: string;
}

@ObjectType({ description: 'An open loan and its risk of coming back late.' })
export class OverdueWatchEntry {
  @Field(() => Loan)
  loan!: Loan;

  @Field(() => Member)
  member!: Member;

  @Field(() => RiskPrediction)
  risk!: RiskPrediction;

  @Field(() => DateTimeResolver, { description: 'When the background job that ranks the whole library finished the ranking this entry comes from.' })
  computedAt!: Date;

  @Field(() => Float, { description: 'Seconds from computedAt to this answer.' })
  ageSeconds!: number;
}

@Resolver(() => Loan)
export class LoanOverdueResolver {
  @FieldResolver(() => RiskPrediction, {
    nullable: true,
    description:
      'Probability that this loan comes back after its final due date (random forest over the borrower\'s history at checkout, ' +
      'loan length, renewals, season and the item). For a loan already returned it is what the model would have said. Null for an unknown loan.',
  })
  overdueRisk(@Root() loan: Loan, @Ctx() ctx: OverdueContext): Promise<RiskPrediction | null> {
    return ctx.overdueRisk.load(`L:${loan.id}`);
  }
}

@Resolver(() => Member)
export class MemberOverdueResolver {
  @FieldResolver(() => RiskPrediction, {
    nullable: true,
    description:
      "Probability that at least one of the member's open loans not yet due comes back late: 1 - prod(1 - p_i) over those loans, each scored " +
      'like Loan.overdueRisk, treating loans as independent given their features. Factors are those of the riskiest open loan. ' +
      'A member with no such loan gets probability 0 and no factors (loans already past due are facts: Member.loans(status: OVERDUE)). Null for an unknown member.',
  })
  overdueRisk(@Root() member: Member, @Ctx() ctx: OverdueContext): Promise<RiskPrediction | null> {
    return ctx.overdueRisk.load(`M:${member.id}`);
  }
}

@Resolver()
export class OverdueWatchlistResolver {
  @Query(() => [OverdueWatchEntry], {
    description: `Open loans not yet due that are most likely to come back late, riskiest first, with their factors. Ranked by a background job and served from its last ranking, with its age (AGGREGATE_PENDING before the first); the factors are scored at answer time. first: at most ${MAX_OVERDUE_WATCHLIST}.`,
  })
  overdueWatchlist(
    @Ctx() ctx: OverdueContext,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('minProbability', () => Float, { defaultValue: 0 }) minProbability: number,
  ): Promise<OverdueWatchEntry[]> {
    return ctx.watchlist(first, minProbability);
  }
}
