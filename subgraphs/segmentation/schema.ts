/** Member.segment and the segment overview: which named group a member's borrowing puts them in. */
import { Ctx, Directive, Field, FieldResolver, Float, ID, Int, ObjectType, Query, Resolver, Root } from 'type-graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { ModelRef } from '../../src/graphql/prediction-types';
import type { SegmentationContext } from './context';

@ObjectType()
@Directive('@key(fields: "id")')
export class Member {
  @Field(() => ID)
  id!: string;
}

@ObjectType({ description: "A member's recency, frequency and monetary value on the system date, in original units." })
export class RfmValues {
  @Field(() => Float, { description: 'Days since the last checkout (days since joining for a member who never borrowed).' })
  recency!: number;

  @Field(() => Float, { description: 'Checkouts in the last 365 days.' })
  frequency!: number;

  @Field(() => Float, { description: 'Loan-days in the last 365 days: the days each book was out (checkout to return, or to the system date), summed.' })
  monetary!: number;
}

@ObjectType({
  description:
    "The segment a member's borrowing puts them in (nearest k-means centroid over standardised recency, frequency, monetary, " +
    'engagement and tenure), with the values it was decided on.',
})
export class Segment {
  @Field(() => String, { description: 'Champions, Loyal, Promising, New, At Risk, Hibernating or Occasional: chosen from the centroids, stable across retrains.' })
  name!: string;

  @Field(() => String, { description: 'What the segment means for the library, and its typical member.' })
  description!: string;

  @Field(() => RfmValues, { description: "This member's own values." })
  rfm!: RfmValues;

  @Field(() => Float, { description: 'Monthly log change of the loan rate, last 90 days against the 90 before: ln((loans + 1) / (earlier loans + 1)) / 3. -0.1 is about 10% fewer loans a month.' })
  engagement!: number;

  @Field(() => Int, { description: 'Days since joining.' })
  tenureDays!: number;

  @Field(() => ModelRef)
  model!: ModelRef;
}

@ObjectType({ description: "The average member of a segment, in the same units as Segment's values." })
export class SegmentProfile {
  @Field(() => Float, { description: 'Mean days since the last checkout.' })
  recency!: number;

  @Field(() => Float, { description: 'Mean checkouts in the last 365 days.' })
  frequency!: number;

  @Field(() => Float, { description: 'Mean loan-days in the last 365 days.' })
  monetary!: number;

  @Field(() => Float, { description: 'Mean monthly log change of the loan rate.' })
  engagement!: number;

  @Field(() => Float, { description: 'Mean days since joining.' })
  tenureDays!: number;
}

@ObjectType({ description: 'One segment over all members on the system date, as the production model assigns them.' })
export class SegmentSummary {
  @Field(() => String)
  name!: string;

  @Field(() => String)
  description!: string;

  @Field(() => Int, { description: 'Members in the segment.' })
  size!: number;

  @Field(() => Float, { description: 'size / all members who had joined by the system date.' })
  share!: number;

  @Field(() => SegmentProfile, { nullable: true, description: 'Mean values of its members; null for a segment no member falls into.' })
  profile!: SegmentProfile | null;

  @Field(() => ModelRef)
  model!: ModelRef;

  @Field(() => DateTimeResolver, { description: 'When the background job that counts every member finished this overview: the answer is its last result.' })
  computedAt!: Date;

  @Field(() => Float, { description: 'Seconds from computedAt to this answer.' })
  ageSeconds!: number;
}

@Resolver(() => Member)
export class MemberSegmentResolver {
  @FieldResolver(() => Segment, { nullable: true, description: 'The named segment of this member on the system date. Null for an unknown member.' })
  segment(@Root() member: Member, @Ctx() ctx: SegmentationContext): Promise<Segment | null> {
    return ctx.segment.load(member.id);
  }
}

@Resolver()
export class SegmentsResolver {
  @Query(() => [SegmentSummary], {
    description:
      'Every segment of the production model, in its order (Champions first), with its size, share and average member. Computed by a ' +
      'background job over all members in one inference run (per model version, and again when members\' data changed) and served from ' +
      'its last result with its age. Before the first result: AGGREGATE_PENDING.',
  })
  segments(@Ctx() ctx: SegmentationContext): Promise<SegmentSummary[]> {
    return ctx.segments();
  }
}
