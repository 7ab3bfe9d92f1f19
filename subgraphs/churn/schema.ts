/** Member.churnRisk: will this member make no checkout in the next 90 days? */
import { Ctx, Directive, Field, FieldResolver, ID, ObjectType, Resolver, Root } from 'type-graphql';
import { RiskPrediction } from '../../src/graphql/prediction-types';
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
      'recency, frequency, trend, tenure and lateness). Null for an unknown member. Factors: see Factor.',
  })
  churnRisk(@Root() member: Member, @Ctx() ctx: ChurnContext): Promise<RiskPrediction | null> {
    return ctx.churnRisk.load(member.id);
  }
}
