/**
 * The recommendations subgraph (:4004). All Member.recommendations of a request cost one
 * history query (members + loans) and one run of the recommendations graph; all
 * Book.similarBooks one run of the similar-books graph. The index maps, the co-borrowing
 * evidence behind reasons and the branch lists for members without history come from the
 * version (index.json, metadata.serving), so a hot reload swaps them with the model.
 */
import type { GraphQLSchema } from 'graphql';
import type { InferenceSession } from 'onnxruntime-node';
import type { Config } from '../../src/config';
import { recommendationQuery, type BorrowingHistory, type RecommendationIndex, type RecommendationQueryRow } from '../../src/features/recommendations';
import type { ModelRef } from '../../src/graphql/prediction-types';
import { buildFederatedSchema } from '../../src/graphql/subgraph-schema';
import type { Identity } from '../../src/identity';
import { rankedLists, RECOMMENDER_TENSORS, recommenderFeeds, similarItemsFeeds, SIMILAR_ITEMS_TENSORS, type RankedItems } from '../../src/ml/recommender';
import type { LoadedModel, SlotSpec } from '../../src/model-runtime/model-slot';
import { recorded, type PredictionOf } from '../../src/model-runtime/prediction-logging';
import { entityLoader, openScoring, startModelSubgraph, warmMemos, type ModelScoring, type ModelSubgraphDeps, type SubgraphServices } from '../../src/model-runtime/model-subgraph';
import {
  RECOMMENDATIONS_MEMOS,
  RECOMMENDATIONS_MODEL,
  RECOMMENDATIONS_SLOT,
  SIMILAR_GRAPH,
  type RecommendationsServing,
} from '../../src/models/recommendations';
import type { Store } from '../../src/store';
import { parseId } from '../../src/util/ids';
import type { ListLoader, RecommendationsContext } from './context';
import { Book, BookSimilarResolver, Member, MemberRecommendationsResolver, type Recommendation } from './schema';

export type { RecommendationsContext } from './context';

export const REASONS = {
  branchPopular: 'popular at your branch',
  libraryPopular: 'popular across the library',
  taste: 'readers with tastes like yours borrowed it',
  similarTaste: 'borrowed by readers with similar tastes',
  coBorrowed: (title: string) => `readers of “${title}” also borrowed it`,
  sameAuthor: (title: string) => `same author as “${title}”`,
} as const;

export function buildRecommendationsSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [MemberRecommendationsResolver, BookSimilarResolver], orphanedTypes: [Member, Book] },
    {
      Member: { __resolveReference: (ref) => Object.assign(new Member(), { id: ref.id }) },
      Book: { __resolveReference: (ref) => Object.assign(new Book(), { id: ref.id }) },
    },
  );
}

/**
 * Refuses a version whose graphs take other tensors than the ones this subgraph sends (a version
 * from before 2.0.0 takes padded histories, not flat). Its index and settings are checked by the
 * model's serving parser.
 */
export function validateRecommendationsVersion(model: LoadedModel<RecommendationsServing>): void {
  const main = model.sessions.model;
  if (!main) throw new Error(`${model.name} ${model.version} has no model.onnx`);
  const sent = Object.values(RECOMMENDER_TENSORS.inputs);
  if (main.inputNames.length !== sent.length || !sent.every((name) => main.inputNames.includes(name))) {
    throw new Error(`${model.name} ${model.version}: model.onnx has inputs [${main.inputNames.join(', ')}], this subgraph sends [${sent.join(', ')}]`);
  }
  const similar = model.sessions[SIMILAR_GRAPH];
  if (!similar) throw new Error(`${model.name} ${model.version} has no similar.onnx`);
  const needed = Object.values(SIMILAR_ITEMS_TENSORS.inputs);
  if (!needed.every((name) => similar.inputNames.includes(name))) {
    throw new Error(`${model.name} ${model.version}: similar.onnx has inputs [${similar.inputNames.join(', ')}], expected [${needed.join(', ')}]`);
  }
}

interface CatalogueBook {
  title: string;
  authors: string[];
}

/**
 * Titles and authors of the catalogue, read once per process: reasons quote them. The store
 * does not change under a running subgraph (the system date is fixed at start), and 10,000
 * books are a few hundred kilobytes.
 */
export type Catalogue = () => Promise<ReadonlyMap<number, CatalogueBook>>;

export function createCatalogue(store: Store): Catalogue {
  let loading: Promise<ReadonlyMap<number, CatalogueBook>> | undefined;
  return () => {
    loading ??= store.db
      .selectFrom('books')
      .select(['id', 'title', 'authors'])
      .execute()
      .then((rows) => new Map(rows.map((r) => [r.id, { title: r.title, authors: JSON.parse(r.authors) as string[] }])))
      .catch((error: unknown) => {
        loading = undefined;
        throw error;
      });
    return loading;
  };
}

/** Ranked lists of a top-k run of either graph (both name their outputs scores and items). */
function listsOf(outputs: InferenceSession.ReturnType, rows: number): RankedItems[] {
  const { scores, items } = RECOMMENDER_TENSORS.outputs;
  const [scoreTensor, itemTensor] = [outputs[scores], outputs[items]];
  if (!scoreTensor || !itemTensor) throw new Error(`the recommendations graph answered without "${scores}" and "${items}" outputs`);
  return rankedLists(scoreTensor, itemTensor, rows);
}

/** The recommendations slot as this subgraph opens it: the model's slot plus checks of the graphs' tensors. */
export const RECOMMENDATIONS_SUBGRAPH_SLOT: SlotSpec<RecommendationsServing> = { ...RECOMMENDATIONS_SLOT, validate: validateRecommendationsVersion };

/** What recommending reads: the store, the model's slot, the memos it serves from and the catalogue. */
export interface RecommendationsScoring extends ModelScoring<RecommendationsServing, typeof RECOMMENDATIONS_MEMOS> {
  catalogue: Catalogue;
}

/** The recommendations subgraph's per-process state. */
export type RecommendationsServices = RecommendationsScoring & SubgraphServices;
/**
 * A recommended book with the title and authors this subgraph provides; undefined for a book the
 * catalogue does not hold (a version trained on another store), which is left out of the list.
 */
function bookOf(bookId: number | undefined, books: ReadonlyMap<number, CatalogueBook>): Book | undefined {
  const entry = bookId === undefined ? undefined : books.get(bookId);
  return entry && Object.assign(new Book(), { id: String(bookId), title: entry.title, authors: entry.authors });
}

/** The catalogue's entry for the version's item `item`; undefined for an item or book it does not know. */
function entryAt(item: number, index: RecommendationIndex, books: ReadonlyMap<number, CatalogueBook>): CatalogueBook | undefined {
  const bookId = index.bookIds[item];
  return bookId === undefined ? undefined : books.get(bookId);
}

/** Each item of a ranked list with its score, best first. */
function scoredItems(ranked: RankedItems): { item: number; score: number }[] {
  return ranked.items.flatMap((item, rank) => {
    const score = ranked.scores[rank];
    return score === undefined ? [] : [{ item, score }];
  });
}

/**
 * The evidence a member's history offers for the recommended items (`targets`): for a target
 * co-borrowed with a book of the history, the most recent such book; for a target without one,
 * the most recent book of the history by each of its authors. Each target reads the history
 * from the most recent book and stops at the first match, so the cost is a few set lookups per
 * book read for k targets, not every neighbour and author of every book read. (Looking up from
 * the targets' side instead, through who cites them, was twice as slow: popular books are cited
 * by thousands.)
 */
interface HistoryEvidence {
  coBorrowedWith: Map<number, number>;
  authorOf: Map<string, number>;
}

function historyEvidence(seenItems: readonly number[], targets: readonly number[], version: RecommendationsServing, books: ReadonlyMap<number, CatalogueBook>): HistoryEvidence {
  const { index, coBorrowedSets } = version;
  const coBorrowedWith = new Map<number, number>();
  const authorOf = new Map<string, number>();
  for (const item of targets) {
    for (const j of seenItems) {
      if (coBorrowedSets[j]?.has(item)) {
        coBorrowedWith.set(item, j);
        break;
      }
    }
    if (coBorrowedWith.has(item)) continue;
    for (const author of entryAt(item, index, books)?.authors ?? []) {
      if (authorOf.has(author)) continue;
      for (const j of seenItems) {
        if (entryAt(j, index, books)?.authors.includes(author)) {
          authorOf.set(author, j);
          break;
        }
      }
    }
  }
  return { coBorrowedWith, authorOf };
}

/** Co-borrowing with the most recent book that explains `item`, else a shared author, else what the score rests on. */
function memberReason(item: number, userIndex: number, evidence: HistoryEvidence, index: RecommendationIndex, books: ReadonlyMap<number, CatalogueBook>): string {
  const title = (j: number): string => entryAt(j, index, books)?.title ?? `book ${index.bookIds[j]}`;
  const coBorrowed = evidence.coBorrowedWith.get(item);
  if (coBorrowed !== undefined) return REASONS.coBorrowed(title(coBorrowed));
  for (const author of entryAt(item, index, books)?.authors ?? []) {
    const j = evidence.authorOf.get(author);
    if (j !== undefined) return REASONS.sameAuthor(title(j));
  }
  // A member the version does not know is scored by popularity plus co-borrowing only.
  return userIndex < 0 ? REASONS.libraryPopular : REASONS.taste;
}

/** A member without history: their branch's most borrowed books, then the graph's (popularity) list. */
function coldStartList(
  history: BorrowingHistory,
  ranked: RankedItems,
  version: RecommendationsServing,
  books: ReadonlyMap<number, CatalogueBook>,
  model: ModelRef,
  k: number,
): Recommendation[] {
  const branch = String(history.branchId);
  const borrowers = version.settings.branchBorrowers[branch] ?? 0;
  const list: Recommendation[] = [];
  for (const b of (version.settings.branchPopular[branch] ?? []).slice(0, k)) {
    const book = bookOf(b.bookId, books);
    if (book) list.push({ book, score: borrowers > 0 ? b.borrowers / borrowers : 0, reason: REASONS.branchPopular, model });
  }
  const listed = new Set(list.map((r) => r.book.id));
  for (const { item, score } of scoredItems(ranked)) {
    const book = bookOf(version.index.bookIds[item], books);
    if (list.length >= k || !book || listed.has(book.id)) continue;
    list.push({ book, score, reason: REASONS.libraryPopular, model });
  }
  return list;
}

/** The top `k` books of each requested member id, in key order; null for ids that are not members on the system date. */
export async function recommendForMembers({ deps, slot, memos, catalogue }: RecommendationsScoring, keys: readonly string[], k: number): Promise<(Recommendation[] | null)[]> {
  const ids = keys.map(parseId);
  const known = ids.filter((id): id is number => id !== undefined);
  deps.metrics.featureQueries.inc({ model: RECOMMENDATIONS_MODEL });
  const histories = await memos.borrowingHistory.load(known);
  const byId = new Map(histories.filter((h): h is BorrowingHistory => h !== undefined).map((h) => [h.memberId, h]));
  const found = [...byId.values()];
  // Nobody to recommend for: answer null without touching the model, so unknown ids never cost a run.
  if (found.length === 0) return keys.map(() => null);
  const books = await catalogue();
  let queries: RecommendationQueryRow[] = [];
  const { result: lists, model } = await slot.run(
    found.length,
    (m) => {
      queries = found.map((h) => recommendationQuery(m.serving.index, h));
      return recommenderFeeds(queries, k);
    },
    (outputs) => listsOf(outputs, found.length),
  );
  const version = model.serving;
  const ref = model.ref;
  const answers = new Map<number, Recommendation[]>();
  found.forEach((history, row) => {
    const ranked = lists[row];
    const query = queries[row];
    if (!ranked || !query) return;
    if (history.bookIds.length === 0) {
      answers.set(history.memberId, coldStartList(history, ranked, version, books, ref, k));
      return;
    }
    const evidence = historyEvidence(query.seenItems, ranked.items, version, books);
    const list: Recommendation[] = [];
    for (const { item, score } of scoredItems(ranked)) {
      const book = bookOf(version.index.bookIds[item], books);
      if (book) list.push({ book, score, reason: memberReason(item, query.userIndex, evidence, version.index, books), model: ref });
    }
    answers.set(history.memberId, list);
  });
  return ids.map((id) => (id === undefined ? null : answers.get(id) ?? null));
}

function similarReason(source: number, item: number, index: RecommendationIndex, books: ReadonlyMap<number, CatalogueBook>): string {
  const sourceBook = entryAt(source, index, books);
  const title = sourceBook?.title ?? `book ${index.bookIds[source]}`;
  if (index.coBorrowed[source]?.includes(item) || index.coBorrowed[item]?.includes(source)) return REASONS.coBorrowed(title);
  const authors = new Set(sourceBook?.authors ?? []);
  if ((entryAt(item, index, books)?.authors ?? []).some((a) => authors.has(a))) return REASONS.sameAuthor(title);
  return REASONS.similarTaste;
}

/** The `k` books most like each requested book id, in key order; null for ids the version does not know. */
export async function similarForBooks({ slot, catalogue }: RecommendationsScoring, keys: readonly string[], k: number): Promise<(Recommendation[] | null)[]> {
  const ids = keys.map(parseId);
  const { index: currentIndex } = slot.current().serving;
  const found = [...new Set(ids.filter((id): id is number => id !== undefined && currentIndex.itemIndexOf.has(id)))];
  if (found.length === 0) return keys.map(() => null);
  const books = await catalogue();
  let items: (number | undefined)[] = [];
  const { result: lists, model } = await slot.run(
    found.length,
    (m) => {
      // The version that runs may have been swapped in since `found` was chosen: map with its own index.
      const { index } = m.serving;
      items = found.map((id) => index.itemIndexOf.get(id));
      return similarItemsFeeds(items.map((i) => i ?? 0), k);
    },
    (outputs) => listsOf(outputs, found.length),
    SIMILAR_GRAPH,
  );
  const { index } = model.serving;
  const ref = model.ref;
  const answers = new Map<number, Recommendation[]>();
  found.forEach((bookId, row) => {
    const source = items[row];
    const ranked = lists[row];
    if (source === undefined || !ranked) return;
    const list: Recommendation[] = [];
    for (const { item, score } of scoredItems(ranked)) {
      const book = bookOf(index.bookIds[item], books);
      if (book) list.push({ book, score, reason: similarReason(source, item, index, books), model: ref });
    }
    answers.set(bookId, list);
  });
  return ids.map((id) => (id === undefined ? null : answers.get(id) ?? null));
}

/**
 * A per-request loader of ranked lists: every `load` of one tick joins one batch, which runs
 * with the longest `first` asked for; a later, longer `first` for an id already answered
 * computes it again rather than returning a short list.
 */
function listLoader(batch: (keys: readonly string[], k: number) => Promise<(Recommendation[] | null)[]>): ListLoader {
  let longest = 1;
  const computedWith = new Map<string, number>();
  const loader = entityLoader<string, Recommendation[] | null>(async (keys) => {
    const k = longest;
    const lists = await batch(keys, k);
    for (const key of keys) computedWith.set(key, k);
    return lists;
  });
  return {
    load(id, first) {
      longest = Math.max(longest, first);
      if ((computedWith.get(id) ?? Infinity) < first) {
        loader.clear(id);
        computedWith.delete(id);
      }
      return loader.load(id);
    },
  };
}

/** The recommendations subgraph's memos and catalogue, once per process. */
export function createRecommendationsServices(deps: ModelSubgraphDeps): RecommendationsServices {
  const scoring = openScoring(deps, RECOMMENDATIONS_SUBGRAPH_SLOT, RECOMMENDATIONS_MEMOS);
  const catalogue = createCatalogue(deps.store);
  const warm = async (): Promise<void> => {
    // The first request should not be the one that reads the catalogue.
    const catalogueRead = catalogue().catch((error: unknown) => deps.logger.warn({ model: RECOMMENDATIONS_MODEL, err: (error as Error).message }, 'could not read the catalogue ahead of the first request'));
    await Promise.all([warmMemos(deps, scoring.memos), catalogueRead]);
  };
  return { ...scoring, catalogue, warm };
}

/** A list answer as a record: the ranked book ids and their scores. */
function listPrediction(entityKind: string, entityId: string, list: Recommendation[]): PredictionOf | null {
  const first = list[0];
  if (!first) return null;
  return { model: first.model, entityKind, entityId, items: list.map((r) => ({ id: r.book.id, score: r.score })) };
}

export function createRecommendationsContext(identity: Identity, scoring: RecommendationsScoring, requestId: string): RecommendationsContext {
  const log = scoring.deps.predictionLog;
  return {
    identity,
    recommendations: listLoader(async (keys, k) =>
      recorded(log, requestId, await recommendForMembers(scoring, keys, k), (list, i) => listPrediction('member', keys[i] ?? '', list)),
    ),
    similarBooks: listLoader(async (keys, k) => recorded(log, requestId, await similarForBooks(scoring, keys, k), (list, i) => listPrediction('book', keys[i] ?? '', list))),
  };
}

export async function startRecommendationsSubgraph(config: Config, port?: number) {
  return startModelSubgraph(
    config,
    {
      name: 'recommendations',
      schema: await buildRecommendationsSchema(),
      slots: [RECOMMENDATIONS_SUBGRAPH_SLOT],
      services: createRecommendationsServices,
      createContext: createRecommendationsContext,
    },
    port,
  );
}
