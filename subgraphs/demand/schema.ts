/** Book.demandForecast and collectionForecast: how many loans to expect, week by week or month by month. */
import { Arg, Ctx, Directive, Field, FieldResolver, Float, ID, Int, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import { badUserInput } from '../../src/errors';
import { ModelRef } from '../../src/graphql/prediction-types';
import { MAX_HORIZON_MONTHS, MAX_HORIZON_WEEKS } from '../../src/models/demand';
import type { DemandContext } from './context';

export enum DemandForecastMethod {
  LSTM = 'LSTM',
  SEASONAL_NAIVE = 'SEASONAL_NAIVE',
  LAST_VALUE = 'LAST_VALUE',
  SEASONAL_MEAN = 'SEASONAL_MEAN',
  MEAN_TIMES_SEASON = 'MEAN_TIMES_SEASON',
  SES = 'SES',
  THETA = 'THETA',
  CROSTON = 'CROSTON',
  TSB = 'TSB',
}
registerEnumType(DemandForecastMethod, {
  name: 'DemandForecastMethod',
  description: 'What produced a forecast.',
  valuesConfig: {
    LSTM: { description: 'The demand model (an LSTM over season, same period last year, level and trend).' },
    SEASONAL_NAIVE: { description: 'Each period repeats the same period a year earlier: the method chosen for the level, or too little history for the model.' },
    LAST_VALUE: { description: 'Less than a year of history: each period repeats the last one.' },
    SEASONAL_MEAN: { description: 'The mean of the last year (52 weeks, 12 months), flat: the method chosen for the level by backtest.' },
    MEAN_TIMES_SEASON: { description: "The mean of the last year times the library's season for each period: the method chosen for the level by backtest." },
    SES: { description: "Simple exponential smoothing of the series without the library's season, times that season: the method chosen for the level by backtest." },
    THETA: { description: "The Theta method on the series without the library's season, times that season: the method chosen for the level by backtest." },
    CROSTON: { description: "Croston's method for series with many empty periods: the method chosen for the level by backtest." },
    TSB: { description: 'Teunter-Syntetos-Babai for series with many empty periods: the method chosen for the level by backtest.' },
  },
});

@ObjectType()
@Directive('@key(fields: "id")')
export class Book {
  @Field(() => ID)
  id!: string;
}

@ObjectType()
@Directive('@key(fields: "id", resolvable: false)')
export class Branch {
  @Field(() => ID)
  id!: string;
}

@ObjectType({ description: 'Expected loans of one week.' })
export class DemandForecastPoint {
  @Field(() => String, { description: 'Monday the week starts on, YYYY-MM-DD.' })
  weekStart!: string;

  @Field(() => Float, { description: 'Expected loans that week: a typical week, so for a book borrowed a few times a year often below 1.' })
  expectedLoans!: number;

  @Field(() => Float, { nullable: true, description: 'Lower end of the range the loans should fall in (see coverage); null for a fallback or simple-method forecast.' })
  low!: number | null;

  @Field(() => Float, { nullable: true, description: 'Upper end of that range; null for a fallback or simple-method forecast.' })
  high!: number | null;
}

@ObjectType({ description: "A book's expected loans in each of the coming weeks." })
export class DemandForecast {
  @Field(() => [DemandForecastPoint], {
    description:
      'One point per week, starting with the week that contains the system date (forecast whole: loans already made in it are not counted ' +
      'in its history), or the next week when the system date is a Sunday.',
  })
  points!: DemandForecastPoint[];

  @Field(() => DemandForecastMethod)
  method!: DemandForecastMethod;

  @Field(() => Float, {
    nullable: true,
    description: "Share of held-out weeks the model's low..high ranges were built to contain (0.8), from its errors on weeks it did not train on; null without ranges.",
  })
  coverage!: number | null;

  @Field(() => ModelRef)
  model!: ModelRef;
}

@ObjectType({ description: 'Expected loans of one month.' })
export class CollectionForecastPoint {
  @Field(() => String, { description: 'The month, YYYY-MM.' })
  month!: string;

  @Field(() => Float)
  expectedLoans!: number;

  @Field(() => Float, { nullable: true, description: 'Lower end of the range the loans should fall in (see coverage); null for a fallback or simple-method forecast.' })
  low!: number | null;

  @Field(() => Float, { nullable: true })
  high!: number | null;
}

@ObjectType({ description: 'Expected loans of a collection (a genre, a branch, a genre at a branch, or the whole library) in each of the coming months.' })
export class CollectionForecast {
  @Field(() => String, { nullable: true, description: 'The genre forecast; null for every genre.' })
  genre!: string | null;

  @Field(() => Branch, { nullable: true, description: 'The branch whose loans are forecast; null for every branch.' })
  branch!: Branch | null;

  @Field(() => [CollectionForecastPoint], { description: 'One point per month, starting with the first month not complete on the system date.' })
  points!: CollectionForecastPoint[];

  @Field(() => DemandForecastMethod)
  method!: DemandForecastMethod;

  @Field(() => Float, { nullable: true, description: 'Share of held-out months the low..high ranges were built to contain; null without ranges.' })
  coverage!: number | null;

  @Field(() => ModelRef)
  model!: ModelRef;
}

/** Horizons when a request gives none (or null). */
export const DEFAULT_HORIZON_WEEKS = 8;
export const DEFAULT_HORIZON_MONTHS = 6;

/** Refuses a horizon outside 1..max with BAD_USER_INPUT, naming the argument and the limit. */
export function checkHorizon(argument: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw badUserInput(`${argument} must be between 1 and ${max}, got ${value}`, { argument, max });
  }
}

@Resolver(() => Book)
export class BookDemandResolver {
  @FieldResolver(() => DemandForecast, {
    nullable: true,
    description:
      `Expected loans of this book in each of the next horizonWeeks weeks (1 to ${MAX_HORIZON_WEEKS}), from its weekly loans up to the system date, ` +
      'with an 80% range. Every book of a request is forecast in one batched inference run. Null for an unknown book.',
  })
  demandForecast(
    @Root() book: Book,
    @Ctx() ctx: DemandContext,
    @Arg('horizonWeeks', () => Int, { nullable: true, defaultValue: DEFAULT_HORIZON_WEEKS }) horizonWeeks: number | null,
  ): Promise<DemandForecast | null> {
    const weeks = horizonWeeks ?? DEFAULT_HORIZON_WEEKS;
    checkHorizon('horizonWeeks', weeks, MAX_HORIZON_WEEKS);
    return ctx.demandForecast.load(`${weeks}:${book.id}`);
  }
}

@Resolver()
export class CollectionForecastResolver {
  @Query(() => CollectionForecast, {
    nullable: true,
    description:
      `Expected loans per month of a collection over the next horizonMonths months (1 to ${MAX_HORIZON_MONTHS}): books of \`genre\` lent at branch \`branchId\`; ` +
      'leave either out for all of them (both out: the whole library). Forecast by the monthly collection model of the demand version in production. ' +
      'An unknown genre or branch is refused with BAD_USER_INPUT.',
  })
  collectionForecast(
    @Ctx() ctx: DemandContext,
    @Arg('genre', () => String, { nullable: true }) genre: string | null,
    @Arg('branchId', () => ID, { nullable: true }) branchId: string | null,
    @Arg('horizonMonths', () => Int, { nullable: true, defaultValue: DEFAULT_HORIZON_MONTHS }) horizonMonths: number | null,
  ): Promise<CollectionForecast | null> {
    const months = horizonMonths ?? DEFAULT_HORIZON_MONTHS;
    checkHorizon('horizonMonths', months, MAX_HORIZON_MONTHS);
    return ctx.collectionForecast(genre ?? null, branchId ?? null, months);
  }
}
