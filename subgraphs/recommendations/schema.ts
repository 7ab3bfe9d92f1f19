/**
 * Member.recommendations and Book.similarBooks: books to borrow next, each with the score it
 * was ranked by and the evidence behind it.
 */
import { Arg, Ctx, Directive, Field, FieldResolver, Float, ID, Int, ObjectType, Resolver, Root } from 'type-graphql';
import { badUserInput } from '../../src/errors';
import { ModelRef } from '../../src/graphql/prediction-types';
import { MAX_RECOMMENDATIONS } from '../../src/models/recommendations';
import type { RecommendationsContext } from './context';

@ObjectType()
@Directive('@key(fields: "id")')
export class Member {
  @Field(() => ID)
  id!: string;
}

/**
 * The library subgraph owns Book. This subgraph holds the catalogue's titles and authors (its
 * reasons quote them), so a recommended book arrives with them (`@provides` on
 * Recommendation.book) and the gateway needs no further round to the library for them.
 */
@ObjectType()
@Directive('@key(fields: "id")')
export class Book {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  @Directive('@external')
  title!: string;

  @Field(() => [String])
  @Directive('@external')
  authors!: string[];
}

@ObjectType({ description: 'One recommended book, the score it was ranked by, and why it was chosen.' })
export class Recommendation {
  @Field(() => Book)
  @Directive('@provides(fields: "title authors")')
  book!: Book;

  @Field(() => Float, {
    description:
      "The ranking score. Member.recommendations: the hybrid model's score (latent taste + popularity + co-borrowing), or for a member " +
      'without history the share of the branch\'s borrowers who took the book in the last year. Book.similarBooks: cosine similarity of ' +
      'the two books\' latent factors. Comparable within one list only.',
  })
  score!: number;

  @Field(() => String, {
    description:
      'How the book was found, in a few words: "readers of <title> also borrowed it" (co-borrowing with a book of your history), ' +
      '"same author as <title>", "readers with tastes like yours borrowed it" (latent factors), "popular at your branch" (no history yet) ' +
      'or "popular across the library".',
  })
  reason!: string;

  @Field(() => ModelRef)
  model!: ModelRef;
}

/** `first` as asked (null means the default); anything outside 0..MAX_RECOMMENDATIONS is refused. */
function checkFirst(first: number | null, defaultValue: number): number {
  if (first === null) return defaultValue;
  if (!Number.isInteger(first) || first < 0 || first > MAX_RECOMMENDATIONS) {
    throw badUserInput(`first must be between 0 and ${MAX_RECOMMENDATIONS}, got ${first}`, { argument: 'first', maximum: MAX_RECOMMENDATIONS });
  }
  return first;
}

@Resolver(() => Member)
export class MemberRecommendationsResolver {
  @FieldResolver(() => [Recommendation], {
    nullable: true,
    description:
      `Books the member has never borrowed, best first (at most ${MAX_RECOMMENDATIONS}). A member without history gets the most borrowed ` +
      'books of their branch and the reason says so. Null for an unknown member. All members of a request share one inference run.',
  })
  async recommendations(
    @Root() member: Member,
    @Ctx() ctx: RecommendationsContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 10 }) first: number | null,
  ): Promise<Recommendation[] | null> {
    const length = checkFirst(first, 10);
    const list = await ctx.recommendations.load(member.id, length);
    return list && list.slice(0, length);
  }
}

@Resolver(() => Book)
export class BookSimilarResolver {
  @FieldResolver(() => [Recommendation], {
    nullable: true,
    description:
      `Books most like this one (cosine similarity of latent factors learnt from who borrows what, at most ${MAX_RECOMMENDATIONS}), never ` +
      'the book itself. Null for a book the model does not know. All books of a request share one inference run.',
  })
  async similarBooks(
    @Root() book: Book,
    @Ctx() ctx: RecommendationsContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 5 }) first: number | null,
  ): Promise<Recommendation[] | null> {
    const length = checkFirst(first, 5);
    const list = await ctx.similarBooks.load(book.id, length);
    return list && list.slice(0, length);
  }
}
