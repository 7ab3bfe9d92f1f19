/**
 * Trains the recommendations model: the shelf-taste recommender (src/ml/recommender/taste.ts),
 * which scores every member from their history, as the graph serves them, with similar books
 * from implicit ALS item factors (src/ml/recommender).
 *
 *   settings:   chosen by NDCG@10 on rolling-origin folds before the test cut-off, each fitted on
 *               the histories at its cut-off and scored on the next 90 days' new books.
 *   evaluation: fitted on loans up to asOf - 90 days; held out, per member, the books first
 *               borrowed in the last 90 days that they had never borrowed before. Each member
 *               with such books is ranked over every book they had not borrowed by the cut-off,
 *               from their history, and by popularity (most distinct borrowers before the cut-off).
 *   production: refitted on every loan up to asOf with the chosen settings, so recommendations
 *               use the last 90 days too; the figures are those of the evaluation fit.
 *
 * Both fits share one index (members joined by asOf, books by id): index.json of the version.
 */
import {
  borrowingHistoriesInChunks,
  recommendationQuery,
  recommendationIndex,
  type BorrowingHistory,
  type RecommendationIndex,
  type RecommendationIndexFile,
} from '../features/recommendations';
import {
  ANONYMOUS_USER_INDEX,
  bookContentFeatures,
  buildItemContent,
  checkSimilarItemsParity,
  exportSimilarItemsOnnx,
  flattenSeenItems,
  popularityTopK,
  RECOMMENDER_TENSORS,
  recommendTopK,
  SimilarItemsSession,
  trainRecommender,
  type InteractionColumns,
  type RankedItems,
  type RecommenderModel,
} from '../ml/recommender';
import { meanRankingMetrics, type RankingMetrics } from '../ml/ranking-metrics';
import { buildUserRows, type SparseRows } from '../ml/recommender/sparse-rows';
import {
  AUTHOR_NEIGHBOURS,
  CO_BORROWED_NEIGHBOURS,
  DEFAULT_TASTE_SETTINGS,
  exportTasteOnnx,
  fitTasteModel,
  tasteTopK,
  type ShelfCatalogue,
  type TasteModel,
  type TasteSettings,
} from '../ml/recommender/taste';
import { fitItemKnn, type ItemKnn } from '../ml/recommender/item-knn';
import type { PrecisionRecallAtKChart } from '../model-cards';
import { MAX_RECOMMENDATIONS, type BranchPopularBook, type RecommendationsSettings } from '../models/recommendations';
import type { ParityFile } from '../registry';
import { readAsOf, type Store } from '../store';
import { rollingOriginDays, selectOnFolds } from '../evaluation/backtest';
import { addDays } from '../util/dates';
import { Random } from '../util/random';
import { bookGenres, recommendationReferenceRows } from './references';
import type { TrainedModel, TrainOptions } from './types';

export const HOLDOUT_DAYS = 90;
/** Co-borrowed books kept per book in index.json as evidence for reasons. */
export const REASON_NEIGHBOURS = 10;
/** Books kept per branch for members without history. */
const BRANCH_POPULAR_BOOKS = MAX_RECOMMENDATIONS;
/** Members whose lists are written to parity.json. */
const PARITY_MEMBERS = 300;
/** A parity row is kept only when its reference scores (k + 1 of them) are this far apart: float32 may order closer ones either way. */
const PARITY_TIE_GAP = 1e-4;
const PARITY_K = 10;
const CHART_KS = [1, 3, 5, 10, 20];
const METRIC_K = 10;

/**
 * ALS settings of the fit that similar.onnx (Book.similarBooks) is exported from: the 16 factors
 * and 6 sweeps that rolling-origin folds chose for 2.1.0 (BENCHMARKS.md, 2026-12-07). Member
 * lists no longer read the factors: they come from the shelf-taste model below.
 */
export const SIMILAR_BOOKS_HYPERPARAMETERS = { factors: 16, iterations: 6, neighbours: 0, popularityWeight: 0, neighbourhoodWeight: 0 } as const;

/**
 * The shelf-taste settings the validation folds choose from (src/ml/recommender/taste.ts): how a
 * book's share of its shelf is measured (borrowers, or catalogue ratings^γ), the weight of the
 * member's authors and of co-borrowing. Listed simplest first: a tie goes to the earlier.
 */
export const RECOMMENDATIONS_CANDIDATES: readonly Pick<TasteSettings, 'catalogueExponent' | 'authorWeight' | 'coBorrowingWeight'>[] = [null, 0.4, 0.6, 0.8].flatMap(
  (catalogueExponent) => [0, 0.05, 0.15, 0.3].flatMap((authorWeight) => [0, 0.001, 0.005].map((coBorrowingWeight) => ({ catalogueExponent, authorWeight, coBorrowingWeight }))),
);

/** Rolling-origin folds before the test cut-off that choose the settings: each fits on the histories at its cut-off and ranks the next 90 days' new books. */
export const RECOMMENDATIONS_VALIDATION_FOLDS = 3;

const candidateLabel = (c: (typeof RECOMMENDATIONS_CANDIDATES)[number]): string =>
  `${c.catalogueExponent === null ? 'borrowers' : `ratings^${c.catalogueExponent}`}/author ${c.authorWeight}/co-borrowing ${c.coBorrowingWeight}`;

interface Catalogue {
  bookIds: number[];
  content: ReturnType<typeof buildItemContent>;
  shelves: ShelfCatalogue;
}

async function loadCatalogue(store: Store): Promise<Catalogue> {
  const books = await store.db.selectFrom('books').select(['id', 'authors', 'genre', 'collection', 'publication_year', 'ratings_count']).orderBy('id').execute();
  const maxRatings = books.reduce((max, b) => Math.max(max, b.ratings_count), 0);
  const content = buildItemContent(books.length, (i) => {
    const book = books[i]!;
    return bookContentFeatures({
      authors: JSON.parse(book.authors) as string[],
      genre: book.genre,
      publicationYear: book.publication_year,
      popularity: maxRatings > 0 ? Math.log1p(book.ratings_count) / Math.log1p(maxRatings) : null,
    });
  });
  return { bookIds: books.map((b) => b.id), content, shelves: shelfCatalogue(books) };
}

/** Shelf = collection and genre; an author index for the first author of books outside the DVD and large-print collections. */
export function shelfCatalogue(books: readonly { authors: string; genre: string; collection: string; ratings_count: number }[]): ShelfCatalogue {
  const shelfOf = new Map<string, number>();
  const authorOf = new Map<string, number>();
  const itemShelf = new Int32Array(books.length);
  const itemAuthor = new Int32Array(books.length).fill(-1);
  books.forEach((book, i) => {
    const shelf = `${book.collection}|${book.genre}`;
    if (!shelfOf.has(shelf)) shelfOf.set(shelf, shelfOf.size);
    itemShelf[i] = shelfOf.get(shelf)!;
    const author = (JSON.parse(book.authors) as string[])[0];
    if (author === undefined || book.collection === 'DVD' || book.collection === 'Large Print') return;
    if (!authorOf.has(author)) authorOf.set(author, authorOf.size);
    itemAuthor[i] = authorOf.get(author)!;
  });
  return { itemShelf, shelfCount: shelfOf.size, itemAuthor, ratingsCount: Float64Array.from(books, (b) => b.ratings_count) };
}

function interactionsOf(histories: readonly (BorrowingHistory | undefined)[], itemIndexOf: ReadonlyMap<number, number>): InteractionColumns {
  let n = 0;
  for (const history of histories) {
    for (const bookId of history?.bookIds ?? []) if (itemIndexOf.has(bookId)) n++;
  }
  const interactions = { userIndex: new Int32Array(n), itemIndex: new Int32Array(n), weight: new Float64Array(n) };
  let at = 0;
  histories.forEach((history, userIndex) => {
    history?.bookIds.forEach((bookId, j) => {
      const itemIndex = itemIndexOf.get(bookId);
      if (itemIndex === undefined) return;
      interactions.userIndex[at] = userIndex;
      interactions.itemIndex[at] = itemIndex;
      interactions.weight[at] = history.loanCounts[j]!;
      at++;
    });
  });
  return interactions;
}

function metricsRecord(m: RankingMetrics, k: number): Record<string, number> {
  return { [`ndcg_at_${k}`]: m.ndcg, [`precision_at_${k}`]: m.precision, [`recall_at_${k}`]: m.recall, [`hit_rate_at_${k}`]: m.hitRate };
}

interface Evaluation {
  members: number;
  hybrid: RankingMetrics;
  popularity: RankingMetrics;
  chart: PrecisionRecallAtKChart;
}

/** Members' histories at a cut-off and the books new to them in the days after it, up to `end`. */
interface HeldOutSplit {
  cutoff: string;
  end: string;
  seenAtCutoff: number[][];
  /** Per member, the books first borrowed after the cut-off (empty for most). */
  heldOut: Set<number>[];
  trainInteractions: InteractionColumns;
  borrowersBefore: Float64Array;
}

async function heldOutSplit(store: Store, memberIds: readonly number[], index: RecommendationIndex, cutoff: string, end: string): Promise<HeldOutSplit & { atEnd: (BorrowingHistory | undefined)[] }> {
  const atCutoff = await borrowingHistoriesInChunks(store, memberIds, cutoff);
  const atEnd = await borrowingHistoriesInChunks(store, memberIds, end);
  const seenAtCutoff = atCutoff.map((h) => (h ? recommendationQuery(index, h).seenItems : []));
  const heldOut = atEnd.map((h, u) => {
    const before = new Set(seenAtCutoff[u]);
    return new Set(h ? recommendationQuery(index, h).seenItems.filter((item) => !before.has(item)) : []);
  });
  const trainInteractions = interactionsOf(atCutoff, index.itemIndexOf);
  const borrowersBefore = new Float64Array(index.itemIndexOf.size);
  for (const itemIndex of trainInteractions.itemIndex) borrowersBefore[itemIndex]! += 1;
  return { cutoff, end, seenAtCutoff, heldOut, trainInteractions, borrowersBefore, atEnd };
}

/** A fitted model's top k for member u whose history at the cut-off is `seen`. */
type Ranker = (u: number, seen: readonly number[], k: number) => RankedItems;

/** NDCG@10 of a model fitted on a split's histories at its cut-off, over the members with a new book after it. */
function splitNdcg(rank: Ranker, split: HeldOutSplit): number {
  const cases: { ranked: number[]; relevant: Set<number> }[] = [];
  split.heldOut.forEach((relevant, u) => {
    if (relevant.size > 0) cases.push({ ranked: rank(u, split.seenAtCutoff[u]!, METRIC_K).items, relevant });
  });
  return meanRankingMetrics(cases, METRIC_K).ndcg;
}

/** Ranks every held-out member's unborrowed books by the hybrid and by popularity; scores both at 1..20. */
function evaluate(rank: Ranker, seenAtCutoff: number[][], heldOut: Set<number>[], borrowersBefore: Float64Array): Evaluation {
  const depth = Math.max(...CHART_KS);
  const hybridLists: RankedItems[] = [];
  const popularityLists: RankedItems[] = [];
  const relevant: Set<number>[] = [];
  heldOut.forEach((items, u) => {
    if (items.size === 0) return;
    hybridLists.push(rank(u, seenAtCutoff[u]!, depth));
    popularityLists.push(popularityTopK(borrowersBefore, seenAtCutoff[u]!, depth));
    relevant.push(items);
  });
  const at = (lists: RankedItems[], k: number) => meanRankingMetrics(lists.map((l, i) => ({ ranked: l.items, relevant: relevant[i]! })), k);
  const curve = (lists: RankedItems[]) => CHART_KS.map((k) => {
    const m = at(lists, k);
    return { k, precision: m.precision, recall: m.recall };
  });
  return {
    members: relevant.length,
    hybrid: at(hybridLists, METRIC_K),
    popularity: at(popularityLists, METRIC_K),
    chart: { kind: 'precision-recall-at-k', points: curve(hybridLists), baseline: { name: 'most borrowed books', points: curve(popularityLists) } },
  };
}

/** Popular books per branch over the year before `asOf` (one query on loans). */
async function branchPopularity(store: Store, asOf: string): Promise<Pick<RecommendationsSettings, 'branchPopular' | 'branchBorrowers'>> {
  const from = addDays(asOf, -365);
  const [books, borrowers] = await Promise.all([
    store.db
      .selectFrom('loans')
      .select((eb) => ['branch_id', 'book_id', eb.fn.count<number>('member_id').distinct().as('borrowers')])
      .where('checked_out_at', '>', from)
      .where('checked_out_at', '<=', asOf)
      .groupBy(['branch_id', 'book_id'])
      .execute(),
    store.db
      .selectFrom('loans')
      .select((eb) => ['branch_id', eb.fn.count<number>('member_id').distinct().as('borrowers')])
      .where('checked_out_at', '>', from)
      .where('checked_out_at', '<=', asOf)
      .groupBy('branch_id')
      .execute(),
  ]);
  const byBranch = new Map<number, BranchPopularBook[]>();
  for (const row of books) {
    const list = byBranch.get(row.branch_id) ?? [];
    list.push({ bookId: row.book_id, borrowers: Number(row.borrowers) });
    byBranch.set(row.branch_id, list);
  }
  const branchPopular: Record<string, BranchPopularBook[]> = {};
  for (const [branch, list] of [...byBranch].sort((a, b) => a[0] - b[0])) {
    branchPopular[String(branch)] = list.sort((a, b) => b.borrowers - a.borrowers || a.bookId - b.bookId).slice(0, BRANCH_POPULAR_BOOKS);
  }
  const branchBorrowers = Object.fromEntries(borrowers.sort((a, b) => a.branch_id - b.branch_id).map((r) => [String(r.branch_id), Number(r.borrowers)]));
  return { branchPopular, branchBorrowers };
}

/** Rows whose reference top-k has no near-tie (see PARITY_TIE_GAP), and the trainer's answers for them. */
export function recommenderParityRows(model: RecommenderModel, queries: { userIndex: number; seenItems: number[] }[]): ParityFile {
  return parityRows((u, seen, k) => recommendTopK(model, u, seen, k), queries);
}

/** Parity rows of any ranker with the recommendations graph's inputs. */
function parityRows(rank: Ranker, queries: { userIndex: number; seenItems: number[] }[]): ParityFile {
  const kept: { userIndex: number; seenItems: number[]; ranked: RankedItems }[] = [];
  for (const query of queries) {
    const ranked = rank(query.userIndex, query.seenItems, PARITY_K + 1);
    if (ranked.items.length < PARITY_K + 1) continue;
    const tied = ranked.scores.some((s, r) => r > 0 && ranked.scores[r - 1]! - s < PARITY_TIE_GAP);
    if (tied) continue;
    kept.push({ ...query, ranked: { items: ranked.items.slice(0, PARITY_K), scores: ranked.scores.slice(0, PARITY_K) } });
  }
  const { seenItems, seenRows } = flattenSeenItems(kept.map((q) => q.seenItems));
  const { inputs, outputs } = RECOMMENDER_TENSORS;
  return {
    inputs: [
      { name: inputs.userIndex, type: 'int64', dims: [kept.length], data: kept.map((q) => q.userIndex) },
      { name: inputs.seenItems, type: 'int64', dims: [seenItems.length], data: seenItems },
      { name: inputs.seenRows, type: 'int64', dims: [seenRows.length], data: seenRows },
      { name: inputs.k, type: 'int64', dims: [1], data: [PARITY_K] },
    ],
    expected: [
      { name: outputs.items, data: kept.flatMap((q) => q.ranked.items), match: 'exact' },
      { name: outputs.scores, data: kept.flatMap((q) => q.ranked.scores), match: 'tolerance' },
    ],
    tolerance: 1e-4,
  };
}

export async function trainRecommendations(store: Store, options: TrainOptions): Promise<TrainedModel> {
  const { seed, progress, threads } = options;
  const asOf = await readAsOf(store);
  const cutoff = addDays(asOf, -HOLDOUT_DAYS);
  const memberIds = (await store.db.selectFrom('members').select('id').where('joined_at', '<=', asOf).orderBy('id').execute()).map((r) => r.id);
  const catalogue = await loadCatalogue(store);
  const indexFile: RecommendationIndexFile = { memberIds, bookIds: catalogue.bookIds, coBorrowed: [] };
  const index = recommendationIndex({ ...indexFile, coBorrowed: catalogue.bookIds.map(() => []) });
  const userCount = memberIds.length;
  const itemCount = catalogue.bookIds.length;
  const rowsOf = (interactions: InteractionColumns) => buildUserRows({ userCount, itemCount, interactions });
  const tasteOf = (rows: SparseRows, candidate: (typeof RECOMMENDATIONS_CANDIDATES)[number], knn?: ItemKnn) =>
    fitTasteModel(rows, catalogue.shelves, { ...DEFAULT_TASTE_SETTINGS, ...candidate }, knn);
  const rankerOf = (model: TasteModel): Ranker => (_u, seen, k) => tasteTopK(model, seen, k);

  // The settings are chosen on folds before the test cut-off; the test window is scored once, below.
  const first = (await store.db.selectFrom('loans').select((eb) => eb.fn.min('checked_out_at').as('first')).executeTakeFirstOrThrow()).first as string | null;
  if (first === null) throw new Error('the library has no loans to train recommendations on');
  const layout = rollingOriginDays({ windowStart: first, windowEnd: cutoff, folds: RECOMMENDATIONS_VALIDATION_FOLDS, validationLength: HOLDOUT_DAYS, minTrainLength: HOLDOUT_DAYS });
  // Fold by fold, every candidate on one fold's split before the next is read: one split's
  // histories are held at a time, and the fold's item-kNN is fitted once for all candidates.
  const ndcgs = new Map<string, number>();
  for (const fold of layout) {
    const split = await heldOutSplit(store, memberIds, index, addDays(fold.validationEnd, -HOLDOUT_DAYS), fold.validationEnd);
    const rows = rowsOf(split.trainInteractions);
    const knn = fitItemKnn(rows, { neighbours: CO_BORROWED_NEIGHBOURS, shrinkage: DEFAULT_TASTE_SETTINGS.shrinkage });
    for (const [c, candidate] of RECOMMENDATIONS_CANDIDATES.entries()) ndcgs.set(`${c}:${fold.index}`, splitNdcg(rankerOf(tasteOf(rows, candidate, knn)), split));
    const best = RECOMMENDATIONS_CANDIDATES.reduce((a, _, c) => (ndcgs.get(`${c}:${fold.index}`)! > ndcgs.get(`${a}:${fold.index}`)! ? c : a), 0);
    progress('recommendations: validation fold', { fold: fold.index, cutoff: split.cutoff, to: split.end, best: candidateLabel(RECOMMENDATIONS_CANDIDATES[best]!), ndcgAt10: ndcgs.get(`${best}:${fold.index}`) });
  }
  const selection = selectOnFolds(RECOMMENDATIONS_CANDIDATES, layout, (candidate, fold) => ndcgs.get(`${RECOMMENDATIONS_CANDIDATES.indexOf(candidate)}:${fold.index}`)!, { lowerIsBetter: false });
  const chosenRow = selection.table.find((row) => row.candidate === selection.best);
  if (!chosenRow) throw new Error('recommendations: the folds chose a setting that is not among the candidates');
  const settings: TasteSettings = { ...DEFAULT_TASTE_SETTINGS, ...selection.best };

  progress('recommendations: borrowing histories', { members: userCount, books: itemCount, cutoff, asOf });
  const { seenAtCutoff, heldOut, trainInteractions, borrowersBefore, atEnd: atAsOf } = await heldOutSplit(store, memberIds, index, cutoff, asOf);
  const allInteractions = interactionsOf(atAsOf, index.itemIndexOf);

  const evaluationModel = fitTasteModel(rowsOf(trainInteractions), catalogue.shelves, settings);
  const evaluation = evaluate(rankerOf(evaluationModel), seenAtCutoff, heldOut, borrowersBefore);
  progress('recommendations: held-out ranking', { members: evaluation.members, ndcgAt10: evaluation.hybrid.ndcg, popularityNdcgAt10: evaluation.popularity.ndcg });

  progress('recommendations: production fit on every loan', { interactions: allInteractions.userIndex.length, settings: candidateLabel(selection.best) });
  const allRows = rowsOf(allInteractions);
  const model = fitTasteModel(allRows, catalogue.shelves, settings);
  indexFile.coBorrowed = model.coBorrowed.map((row) => row.slice(0, REASON_NEIGHBOURS));

  const onProgress = ({ phase, iteration, iterations }: { phase: string; iteration: number; iterations: number }) =>
    progress(`recommendations: ALS for similar books (${phase}) ${iteration}/${iterations}`);
  const similarModel = trainRecommender({ userCount, itemCount, interactions: allInteractions, content: catalogue.content }, { ...SIMILAR_BOOKS_HYPERPARAMETERS, seed }, { onProgress, threads });

  const metadataProps = { model: 'recommendations' };
  const onnxBytes = exportTasteOnnx(model, { metadata: metadataProps });
  const similarBytes = exportSimilarItemsOnnx(similarModel, { metadata: { model: 'recommendations-similar' } });
  const similarSession = await SimilarItemsSession.create(similarBytes);
  const random = new Random(seed ^ 0x5bd1e995);
  let similarParity;
  try {
    const sampleItems = random.shuffle([...Array(itemCount).keys()]).slice(0, 200);
    similarParity = await checkSimilarItemsParity(similarModel, similarSession, sampleItems, PARITY_K);
  } finally {
    await similarSession.release();
  }
  if (!similarParity.agreed) {
    throw new Error(`similar.onnx disagrees with the trainer for ${similarParity.checked - similarParity.agreeing} of ${similarParity.checked} books`);
  }

  // Members as the subgraph sends them (their whole history; user_index does not change the
  // list), members unknown to the version (user_index -1), and cold members with none.
  const sampled = random.shuffle(atAsOf.map((_, u) => u)).slice(0, PARITY_MEMBERS);
  const parityQueries = sampled.map((u) => ({ userIndex: u, seenItems: atAsOf[u] ? recommendationQuery(index, atAsOf[u]).seenItems : [] }));
  parityQueries.push(...sampled.slice(0, 20).map((u) => ({ userIndex: ANONYMOUS_USER_INDEX, seenItems: parityQueries[sampled.indexOf(u)]!.seenItems })));
  const parity = parityRows(rankerOf(model), parityQueries);

  const serving: RecommendationsSettings = { maxFirst: MAX_RECOMMENDATIONS, ...(await branchPopularity(store, asOf)) };
  const heldOutMetrics = metricsRecord(evaluation.hybrid, METRIC_K);
  const baselineMetrics = metricsRecord(evaluation.popularity, METRIC_K);
  const { inputs, outputs } = RECOMMENDER_TENSORS;
  const label = candidateLabel(selection.best);

  return {
    onnxBytes,
    parity,
    extraFiles: { 'similar.onnx': similarBytes, 'index.json': JSON.stringify(indexFile) },
    charts: [evaluation.chart],
    referenceRows: recommendationReferenceRows(atAsOf, await bookGenres(store)),
    metadata: {
      name: 'recommendations',
      task: 'recommendation',
      predicts: 'The books a member is most likely to borrow next among those they have not borrowed yet, best first; and, per book, the books most like it.',
      algorithm:
        'shelf-taste recommender scored from the member\'s history: their smoothed mix of shelves (collection and genre) times each book\'s share of its shelf, ' +
        'plus the books of the authors they borrowed and, weighted by validation, shrunk-cosine co-borrowing neighbours; ScatterElements + Gather + TopK in ONNX. ' +
        'Similar books: cosine of implicit-ALS item factors with a content prior',
      trainingData: {
        window: { from: 'first loan', to: asOf },
        rows: { train: trainInteractions.userIndex.length, test: evaluation.members },
        asOf,
        seed,
        source: `simulated library (${userCount} members, ${itemCount} books, ${allInteractions.userIndex.length} member-book pairs)`,
      },
      featureSpec: [
        { name: 'user_index', type: 'id', description: 'Member index in index.json (-1: a member the version does not know); read for the batch size only: every member is scored from their history' },
        { name: 'seen_items', type: 'id', description: "Book indices of every member's history, each once, in one flat list: never recommended, and what the member's shelf mix, authors and neighbours are read from" },
        { name: 'seen_rows', type: 'id', description: 'The batch row (member) each entry of seen_items belongs to' },
      ],
      inputs: [
        { name: inputs.userIndex, elementType: 'int64', shape: ['batch'] },
        { name: inputs.seenItems, elementType: 'int64', shape: ['seen'] },
        { name: inputs.seenRows, elementType: 'int64', shape: ['seen'] },
        { name: inputs.k, elementType: 'int64', shape: [1] },
      ],
      outputs: [
        { name: outputs.scores, elementType: 'float32', shape: ['batch', 'k'] },
        { name: outputs.items, elementType: 'int64', shape: ['batch', 'k'] },
      ],
      metrics: {
        heldOut: heldOutMetrics,
        baseline: { name: 'most borrowed books (distinct borrowers before the cut-off)', metrics: baselineMetrics },
      },
      headlineMetric: { name: `ndcg_at_${METRIC_K}`, value: heldOutMetrics[`ndcg_at_${METRIC_K}`]!, higherIsBetter: true },
      hyperparameters: {
        catalogueExponent: settings.catalogueExponent === null ? 'borrowers' : settings.catalogueExponent,
        priorStrength: settings.priorStrength,
        authorWeight: settings.authorWeight,
        coBorrowingWeight: settings.coBorrowingWeight,
        shrinkage: settings.shrinkage,
        neighbours: model.neighbours,
        authorNeighbours: AUTHOR_NEIGHBOURS,
        coBorrowedNeighbours: CO_BORROWED_NEIGHBOURS,
        similarFactors: similarModel.hyperparameters.factors,
        similarIterations: similarModel.hyperparameters.iterations,
        holdoutDays: HOLDOUT_DAYS,
        seed,
        validationFolds: RECOMMENDATIONS_VALIDATION_FOLDS,
        validationMeanNdcgAt10: chosenRow.mean,
        validationSdNdcgAt10: chosenRow.sd,
        candidates: JSON.stringify(selection.table.map((row) => ({ ...row.candidate, meanNdcgAt10: row.mean, sdNdcgAt10: row.sd, folds: row.folds }))),
      },
      serving: { ...serving, similarItemsParity: { checked: similarParity.checked, maxScoreDifference: similarParity.maxScoreDifference } },
      notes:
        `Settings (${label}) chosen from ${RECOMMENDATIONS_CANDIDATES.length} candidates by NDCG@10 on ${RECOMMENDATIONS_VALIDATION_FOLDS} rolling-origin folds before ${cutoff} ` +
        `(each fitted on the histories at its cut-off, scored on the next ${HOLDOUT_DAYS} days): ${chosenRow.mean.toFixed(4)} ± ${chosenRow.sd.toFixed(4)} (mean ± sd over folds). ` +
        `Evaluated once on a fit to loans up to ${cutoff}: ${evaluation.members} members who borrowed a book new to them in the following ` +
        `${HOLDOUT_DAYS} days, each ranked from their history over every book they had not borrowed by ${cutoff}, as the graph serves every member. NDCG@10 ${evaluation.hybrid.ndcg.toFixed(4)} against ` +
        `${evaluation.popularity.ndcg.toFixed(4)} for the most borrowed books (${(evaluation.hybrid.ndcg / Math.max(evaluation.popularity.ndcg, 1e-12)).toFixed(2)}x); ` +
        '`npm run evaluate -- --model recommendations` scores it against item-kNN and EASE. ' +
        `The served model is refitted on every loan up to ${asOf} with those settings. ` +
        `Parity: ${parity.inputs[0]!.dims[0]} member lists (rows with a near-tie in the reference top ${PARITY_K + 1} are skipped); similar.onnx agrees with the trainer on ${similarParity.checked} books.`,
    },
  };
}
