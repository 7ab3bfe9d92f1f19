/** Member.churnRisk: will this member make no checkout in the next 90 days? */
import { Arg, Ctx, Directive, Field, FieldResolver, Float, ID, Int, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { RiskPrediction } from '../../src/graphql/prediction-types';
import { MAX_CHURN_WATCHLIST } from '../../src/models/churn';
import type { ChurnContext } from './context';

@ObjectType()
@Directive('@key(fields: "id")')
export class Member {
  @Field(() => ID)
  id!: string;
}

@Resolver(() => Member)
export class ChurnResolver {
  @FieldResolver(() => RiskPrediction, {
    nullable: true,
    description:
      'Probability that the member makes no checkout in the 90 days after the system date (gradient-boosted trees over ' +
      'recency, frequency, trend, tenure and lateness), for members with a checkout in the 90 days before it; the others have ' +
      'lapsed and answer level LAPSED, unscored. Null for an unknown member. Factors: see Factor.',
  })
  churnRisk(@Root() member: Member, @Ctx() ctx: ChurnContext): Promise<RiskPrediction | null> {
    return ctx.churnRisk.load(member.id);
  }
}

@ObjectType({ description: 'A member and their risk of not borrowing in the next 90 days.' })
export class ChurnWatchEntry {
  @Field(() => Member)
  member!: Member;

  @Field(() => RiskPrediction)
  risk!: RiskPrediction;

  @Field(() => DateTimeResolver, { description: 'When the background job that ranks the whole library finished the ranking this entry comes from.' })
  computedAt!: Date;

  @Field(() => Float, { description: 'Seconds from computedAt to this answer.' })
  ageSeconds!: number;
}

@Resolver()
export class ChurnWatchlistResolver {
  @Query(() => [ChurnWatchEntry], {
    description: `Active members most likely to stop borrowing, riskiest first, with their factors (lapsed members are left out). Ranked by a background job and served from its last ranking, with its age (AGGREGATE_PENDING before the first); the factors are scored at answer time. first: at most ${MAX_CHURN_WATCHLIST}.`,
  })
  churnWatchlist(
    @Ctx() ctx: ChurnContext,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('minProbability', () => Float, { defaultValue: 0 }) minProbability: number,
  ): Promise<ChurnWatchEntry[]> {
    return ctx.watchlist(first, minProbability);
  }
}
