import type { SubgraphContext } from '../../src/subgraph-server';
import type { Recommendation } from './schema';

/**
 * Batches every request of one kind (all Member.recommendations, or all Book.similarBooks) of a
 * GraphQL request into one feature query and one inference run; the run asks for the longest
 * `first` requested, and each field keeps its own prefix.
 */
export interface ListLoader {
  load(id: string, first: number): Promise<Recommendation[] | null>;
}

export interface RecommendationsContext extends SubgraphContext {
  recommendations: ListLoader;
  similarBooks: ListLoader;
}
