/**
 * The library's own entities. This subgraph owns Member, Book, Loan and Branch; the model
 * subgraphs extend them with prediction fields through their `@key(fields: "id")`.
 * Member PII (name, email) lives here and nowhere else.
 */
import { DateTimeResolver } from 'graphql-scalars';
import { Directive, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum LoanStatus {
  OPEN = 'OPEN',
  RETURNED = 'RETURNED',
  OVERDUE = 'OVERDUE',
}
registerEnumType(LoanStatus, {
  name: 'LoanStatus',
  description: 'OPEN: not yet returned. RETURNED: back on the shelf. OVERDUE: not returned and past its due date as of the system date.',
});

@ObjectType({ description: 'A branch of the library.' })
@Directive('@key(fields: "id")')
export class Branch {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;
}

@ObjectType({ description: 'A library member.' })
@Directive('@key(fields: "id")')
export class Member {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { nullable: true, description: 'Personal data: staff only; null with a FORBIDDEN error for other roles.' })
  name?: string | null;

  @Field(() => String, { nullable: true, description: 'Personal data: staff only; null with a FORBIDDEN error for other roles.' })
  email?: string | null;

  @Field(() => DateTimeResolver)
  joinedAt!: Date;

  branchId!: string;
}

@ObjectType({ description: 'A title in the catalogue (goodbooks-10k, CC BY-SA 4.0).' })
@Directive('@key(fields: "id")')
export class Book {
  @Field(() => ID)
  id!: string;

  /** Shareable: the recommendations subgraph provides title and authors with the books it recommends. */
  @Field(() => String)
  @Directive('@shareable')
  title!: string;

  @Field(() => [String])
  @Directive('@shareable')
  authors!: string[];

  @Field(() => String, { nullable: true })
  genre?: string | null;

  @Field(() => String, { nullable: true, description: 'Collection class, e.g. Adult Fiction, Child Fiction, Large Print.' })
  collection?: string | null;

  @Field(() => Int, { nullable: true })
  publicationYear?: number | null;

  @Field(() => Int, { description: 'Goodreads ratings count: the popularity of the title beyond this library.' })
  ratingsCount!: number;
}

@ObjectType({ description: 'One checkout of a book by a member.' })
@Directive('@key(fields: "id")')
export class Loan {
  @Field(() => ID)
  id!: string;

  @Field(() => DateTimeResolver)
  checkedOutAt!: Date;

  @Field(() => DateTimeResolver, { description: 'The final due date, after renewals.' })
  dueAt!: Date;

  @Field(() => DateTimeResolver, { nullable: true })
  returnedAt?: Date | null;

  @Field(() => Int)
  renewals!: number;

  memberId!: string;
  bookId!: string;
}

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor?: string | null;
}

@ObjectType()
export class MemberConnection {
  @Field(() => [Member])
  nodes!: Member[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}

@ObjectType()
export class BookConnection {
  @Field(() => [Book])
  nodes!: Book[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;
}
