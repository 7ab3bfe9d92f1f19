/**
 * The recommendations model, as its trainer and its subgraph both read it: the serving settings
 * a version carries (index.json, branch lists for members without history) and how they are
 * parsed, the limits of its fields and the memos its subgraph serves from.
 */
import { borrowingHistoriesById, carryBorrowingHistory, recommendationIndex, type RecommendationIndex } from '../../features/recommendations';
import type { MemoSources } from '../../model-runtime/as-of-memo';
import type { ServingMetadata, SlotSpec } from '../../model-runtime/model-slot';

export const RECOMMENDATIONS_MODEL = 'recommendations';
/** The extra graph of a version that ranks the books most like a book. */
export const SIMILAR_GRAPH = 'similar';
/** The JSON artefact of a version that maps member and book ids to the graph's indices. */
export const INDEX_ARTEFACT = 'index';

/** The largest `first` the subgraph accepts, and the longest list a version must support. */
export const MAX_RECOMMENDATIONS = 50;

export interface BranchPopularBook {
  bookId: number;
  /** Distinct members who borrowed it at the branch in the year before the system date. */
  borrowers: number;
}

/** What the trainer writes to metadata.serving; it travels with the version. */
export interface RecommendationsSettings {
  maxFirst: number;
  /** By branch id: its most borrowed books, for members without history. */
  branchPopular: Record<string, BranchPopularBook[]>;
  /** By branch id: distinct members who borrowed anything there in that year. */
  branchBorrowers: Record<string, number>;
}

/** A loaded version's settings as the subgraph serves from them. */
export interface RecommendationsServing {
  settings: RecommendationsSettings;
  index: RecommendationIndex;
  /** Each item's co-borrowed list (index.coBorrowed) as a set: what a reason's evidence is looked up in. */
  coBorrowedSets: Set<number>[];
}

/** Reads and checks metadata.serving of a recommendations version (throws on a malformed one). */
export function recommendationsSettings(serving: Record<string, unknown> | undefined): RecommendationsSettings {
  const candidate = serving as Partial<RecommendationsSettings> | undefined;
  if (!candidate || typeof candidate.maxFirst !== 'number' || typeof candidate.branchPopular !== 'object' || typeof candidate.branchBorrowers !== 'object') {
    throw new Error('recommendations metadata.serving needs maxFirst, branchPopular and branchBorrowers');
  }
  return { maxFirst: candidate.maxFirst, branchPopular: candidate.branchPopular, branchBorrowers: candidate.branchBorrowers };
}

/** A version's index maps and serving settings, read once when it loads. */
export function parseRecommendationsServing(metadata: ServingMetadata, artefacts: Readonly<Record<string, unknown>>): RecommendationsServing {
  const index = recommendationIndex(artefacts[INDEX_ARTEFACT]);
  return { settings: recommendationsSettings(metadata.serving), index, coBorrowedSets: index.coBorrowed.map((row) => new Set(row)) };
}

export const RECOMMENDATIONS_SLOT: SlotSpec<RecommendationsServing> = {
  model: RECOMMENDATIONS_MODEL,
  extraGraphs: [SIMILAR_GRAPH],
  artefacts: [INDEX_ARTEFACT],
  serving: parseRecommendationsServing,
};

/** Member.recommendations reads each member's borrowing history. */
export const RECOMMENDATIONS_MEMOS = { borrowingHistory: { compute: borrowingHistoriesById, carry: carryBorrowingHistory } } satisfies MemoSources;
