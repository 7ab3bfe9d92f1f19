/**
 * Trains the recommendations model: the hybrid recommender (implicit ALS with a content prior,
 * blended with popularity and co-borrowing; src/ml/recommender) on members' loans.
 *
 *   evaluation: fitted on loans up to asOf - 90 days; held out, per member, the books first
 *               borrowed in the last 90 days that they had never borrowed before. Each member
 *               with such books is ranked over every book they had not borrowed by the cut-off,
 *               by the hybrid and by popularity (most distinct borrowers before the cut-off).
 *   production: refitted on every loan up to asOf with the blend weights the evaluation fit
 *               chose on its validation split (one ALS fit), so recommendations use the last
 *               90 days too; the figures are those of the evaluation fit.
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
  exportRecommenderOnnx,
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
 * The trainer's settings besides the recommender's defaults (src/ml/recommender/model.ts). Six
 * ALS sweeps instead of ten: as good on the default library in two thirds of the time, over
 * three fits (blend validation, evaluation, production); figures in BENCHMARKS.md.
 */
export const RECOMMENDATIONS_HYPERPARAMETERS = { factors: 32, iterations: 6, neighbours: 50 } as const;

/** The ALS settings the validation folds choose from, cheapest first (a tie goes to the earlier). */
export const RECOMMENDATIONS_CANDIDATES: readonly { factors: number; iterations: number }[] = [
  { factors: 16, iterations: 6 },
  { factors: 32, iterations: 6 },
  { factors: 32, iterations: 10 },
];

/** Rolling-origin folds before the test cut-off that choose the ALS settings: each fits on the histories at its cut-off and ranks the next 90 days' new books. */
export const RECOMMENDATIONS_VALIDATION_FOLDS = 3;

interface Catalogue {
  bookIds: number[];
  content: ReturnType<typeof buildItemContent>;
}

async function loadCatalogue(store: Store): Promise<Catalogue> {
  const books = await store.db.selectFrom('books').select(['id', 'authors', 'genre', 'publication_year', 'ratings_count']).orderBy('id').execute();
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
  return { bookIds: books.map((b) => b.id), content };
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

/** NDCG@10 of a model fitted on a split's histories at its cut-off, over the members with a new book after it. */
function splitNdcg(model: RecommenderModel, split: HeldOutSplit): number {
  const cases: { ranked: number[]; relevant: Set<number> }[] = [];
  split.heldOut.forEach((relevant, u) => {
    if (relevant.size > 0) cases.push({ ranked: recommendTopK(model, u, split.seenAtCutoff[u]!, METRIC_K).items, relevant });
  });
  return meanRankingMetrics(cases, METRIC_K).ndcg;
}

/** Ranks every held-out member's unborrowed books by the hybrid and by popularity; scores both at 1..20. */
function evaluate(model: RecommenderModel, seenAtCutoff: number[][], heldOut: Set<number>[], borrowersBefore: Float64Array): Evaluation {
  const depth = Math.max(...CHART_KS);
  const hybridLists: RankedItems[] = [];
  const popularityLists: RankedItems[] = [];
  const relevant: Set<number>[] = [];
  heldOut.forEach((items, u) => {
    if (items.size === 0) return;
    hybridLists.push(recommendTopK(model, u, seenAtCutoff[u]!, depth));
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
  const kept: { userIndex: number; seenItems: number[]; ranked: RankedItems }[] = [];
  for (const query of queries) {
    const ranked = recommendTopK(model, query.userIndex, query.seenItems, PARITY_K + 1);
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

  const onProgress = ({ phase, iteration, iterations }: { phase: string; iteration: number; iterations: number }) =>
    progress(`recommendations: ALS (${phase}) ${iteration}/${iterations}`);

  // The ALS settings are chosen on folds before the test cut-off; the test window is scored once, below.
  const first = (await store.db.selectFrom('loans').select((eb) => eb.fn.min('checked_out_at').as('first')).executeTakeFirstOrThrow()).first as string | null;
  if (first === null) throw new Error('the library has no loans to train recommendations on');
  const layout = rollingOriginDays({ windowStart: first, windowEnd: cutoff, folds: RECOMMENDATIONS_VALIDATION_FOLDS, validationLength: HOLDOUT_DAYS, minTrainLength: HOLDOUT_DAYS });
  // Fold by fold, every candidate on one fold's split before the next is read: one split's
  // histories and interactions are held at a time, not every fold's (the scores are the same).
  const ndcgs = new Map<string, number>();
  for (const fold of layout) {
    const split = await heldOutSplit(store, memberIds, index, addDays(fold.validationEnd, -HOLDOUT_DAYS), fold.validationEnd);
    for (const candidate of RECOMMENDATIONS_CANDIDATES) {
      const fitted = trainRecommender({ userCount, itemCount, interactions: split.trainInteractions, content: catalogue.content }, { ...RECOMMENDATIONS_HYPERPARAMETERS, ...candidate, seed }, { threads });
      const ndcg = splitNdcg(fitted, split);
      progress('recommendations: validation fold', { fold: fold.index, cutoff: split.cutoff, to: split.end, ...candidate, ndcgAt10: ndcg });
      ndcgs.set(`${RECOMMENDATIONS_CANDIDATES.indexOf(candidate)}:${fold.index}`, ndcg);
    }
  }
  const selection = selectOnFolds(RECOMMENDATIONS_CANDIDATES, layout, (candidate, fold) => ndcgs.get(`${RECOMMENDATIONS_CANDIDATES.indexOf(candidate)}:${fold.index}`)!, { lowerIsBetter: false });
  const chosenRow = selection.table.find((row) => row.candidate === selection.best);
  if (!chosenRow) throw new Error('recommendations: the folds chose a setting that is not among the candidates');

  progress('recommendations: borrowing histories', { members: userCount, books: itemCount, cutoff, asOf });
  const { seenAtCutoff, heldOut, trainInteractions, borrowersBefore, atEnd: atAsOf } = await heldOutSplit(store, memberIds, index, cutoff, asOf);
  const allInteractions = interactionsOf(atAsOf, index.itemIndexOf);

  const hyperparameters = { ...RECOMMENDATIONS_HYPERPARAMETERS, ...selection.best, seed };
  progress('recommendations: evaluation fit', { interactions: trainInteractions.userIndex.length });
  const evaluationModel = trainRecommender({ userCount, itemCount, interactions: trainInteractions, content: catalogue.content }, hyperparameters, { onProgress, threads });
  const evaluation = evaluate(evaluationModel, seenAtCutoff, heldOut, borrowersBefore);
  progress('recommendations: held-out ranking', {
    members: evaluation.members,
    ndcgAt10: evaluation.hybrid.ndcg,
    popularityNdcgAt10: evaluation.popularity.ndcg,
  });

  const blend = { popularityWeight: evaluationModel.popularityWeight, neighbourhoodWeight: evaluationModel.neighbourhoodWeight };
  progress('recommendations: production fit on every loan', { interactions: allInteractions.userIndex.length, ...blend });
  const model = trainRecommender({ userCount, itemCount, interactions: allInteractions, content: catalogue.content }, { ...hyperparameters, ...blend }, { onProgress, threads });

  indexFile.coBorrowed = catalogue.bookIds.map((_, item) => {
    const row: number[] = [];
    for (let m = 0; m < Math.min(REASON_NEIGHBOURS, model.neighbours); m++) {
      const neighbour = model.neighbourItems[item * model.neighbours + m]!;
      if (neighbour < 0) break;
      row.push(neighbour);
    }
    return row;
  });

  const metadataProps = { model: 'recommendations' };
  const onnxBytes = exportRecommenderOnnx(model, { metadata: metadataProps });
  const similarBytes = exportSimilarItemsOnnx(model, { metadata: { model: 'recommendations-similar' } });
  const similarSession = await SimilarItemsSession.create(similarBytes);
  const random = new Random(seed ^ 0x5bd1e995);
  let similarParity;
  try {
    const sampleItems = random.shuffle([...Array(itemCount).keys()]).slice(0, 200);
    similarParity = await checkSimilarItemsParity(model, similarSession, sampleItems, PARITY_K);
  } finally {
    await similarSession.release();
  }
  if (!similarParity.agreed) {
    throw new Error(`similar.onnx disagrees with the trainer for ${similarParity.checked - similarParity.agreeing} of ${similarParity.checked} books`);
  }

  // Members as the subgraph sends them (their whole history), plus members unknown to the
  // version (user_index -1) with a history, and cold members with none.
  const sampled = random.shuffle(atAsOf.map((_, u) => u)).slice(0, PARITY_MEMBERS);
  const parityQueries = sampled.map((u) => ({ userIndex: u, seenItems: atAsOf[u] ? recommendationQuery(index, atAsOf[u]).seenItems : [] }));
  parityQueries.push(...sampled.slice(0, 20).map((u) => ({ userIndex: ANONYMOUS_USER_INDEX, seenItems: parityQueries[sampled.indexOf(u)]!.seenItems })));
  const parity = recommenderParityRows(model, parityQueries);

  const serving: RecommendationsSettings = { maxFirst: MAX_RECOMMENDATIONS, ...(await branchPopularity(store, asOf)) };
  const heldOutMetrics = metricsRecord(evaluation.hybrid, METRIC_K);
  const baselineMetrics = metricsRecord(evaluation.popularity, METRIC_K);
  const { inputs, outputs } = RECOMMENDER_TENSORS;
  const h = model.hyperparameters;

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
        'hybrid recommender: implicit-feedback ALS with a content prior (authors, genre, era, catalogue popularity), blended with popularity and ' +
        'co-borrowing neighbourhoods; embedding MatMul + ScatterElements exclusion + TopK in ONNX',
      trainingData: {
        window: { from: 'first loan', to: asOf },
        rows: { train: trainInteractions.userIndex.length, test: evaluation.members },
        asOf,
        seed,
        source: `simulated library (${userCount} members, ${itemCount} books, ${allInteractions.userIndex.length} member-book pairs)`,
      },
      featureSpec: [
        { name: 'user_index', type: 'id', description: 'Member index in index.json (-1: a member the version does not know)' },
        { name: 'seen_items', type: 'id', description: "Book indices of every member's history, each once, in one flat list: never recommended, and the co-borrowing evidence" },
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
        factors: h.factors,
        iterations: h.iterations,
        alpha: h.alpha,
        unobservedWeight: h.unobservedWeight,
        regularization: h.regularization,
        contentRegularization: h.contentRegularization,
        neighbours: h.neighbours,
        popularityWeight: model.popularityWeight,
        neighbourhoodWeight: model.neighbourhoodWeight,
        holdoutDays: HOLDOUT_DAYS,
        seed,
        validationFolds: RECOMMENDATIONS_VALIDATION_FOLDS,
        validationMeanNdcgAt10: chosenRow.mean,
        validationSdNdcgAt10: chosenRow.sd,
        candidates: JSON.stringify(selection.table.map((row) => ({ ...row.candidate, meanNdcgAt10: row.mean, sdNdcgAt10: row.sd, folds: row.folds }))),
      },
      serving: { ...serving, similarItemsParity: { checked: similarParity.checked, maxScoreDifference: similarParity.maxScoreDifference } },
      notes:
        `ALS factors and sweeps (${h.factors}, ${h.iterations}) chosen from ${RECOMMENDATIONS_CANDIDATES.map((c) => `${c.factors}/${c.iterations}`).join(', ')} ` +
        `by NDCG@10 on ${RECOMMENDATIONS_VALIDATION_FOLDS} rolling-origin folds before ${cutoff} (each fitted on the histories at its cut-off, ` +
        `scored on the next ${HOLDOUT_DAYS} days): ${chosenRow.mean.toFixed(4)} ± ${chosenRow.sd.toFixed(4)} (mean ± sd over folds). ` +
        `Evaluated once on a fit to loans up to ${cutoff}: ${evaluation.members} members who borrowed a book new to them in the following ` +
        `${HOLDOUT_DAYS} days, each ranked over every book they had not borrowed by ${cutoff}. NDCG@10 ${evaluation.hybrid.ndcg.toFixed(4)} against ` +
        `${evaluation.popularity.ndcg.toFixed(4)} for the most borrowed books (${(evaluation.hybrid.ndcg / Math.max(evaluation.popularity.ndcg, 1e-12)).toFixed(2)}x). ` +
        `The served model is refitted on every loan up to ${asOf} with the blend weights that fit chose on validation ` +
        `(popularity ${model.popularityWeight}, co-borrowing ${model.neighbourhoodWeight}); its figures are those of the evaluation fit. ` +
        `Parity: ${parity.inputs[0]!.dims[0]} member lists (rows with a near-tie in the reference top ${PARITY_K + 1} are skipped); similar.onnx agrees with the trainer on ${similarParity.checked} books.`,
    },
  };
}
