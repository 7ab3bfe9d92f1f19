/**
 * The rows a version's drift references are built from, rebuilt for a registered version: the
 * training entities as of its training date (metadata.trainingData.asOf), through the same
 * feature functions its trainer and its subgraph use, scored by its own model.onnx. This is
 * what `models reference` adds to versions registered before references existed; a freshly
 * trained version gets the same rows from its trainer.
 */
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { Tensor } from 'onnxruntime-node';
import type { ModelName } from '../config';
import { bookWeeklyLoans, demandCalendars } from '../features/demand';
import { overdueTrainingSet } from '../features/overdue';
import { CHURN_FEATURE_NAMES } from '../features/churn';
import { borrowingHistoriesInChunks, type BorrowingHistory } from '../features/recommendations';
import { segmentationFeaturesInChunks } from '../features/segmentation';
import { activeChurnRows, churnCutoffs, overdueWindows } from '../evaluation/classifier-holdout';
import { SEGMENTATION_OUTPUTS } from '../ml/kmeans';
import { openServingSession } from '../ml/onnx/session';
import { levelChoice, parseDemandServing } from '../models/demand';
import { parseSegmentationServing } from '../models/segmentation';
import { featureColumns, pickColumns } from '../model-runtime/risk';
import type { ReferenceRows } from '../monitoring/references';
import type { HeldOutWeeks } from '../monitoring/quality';
import type { OutcomeSeasons } from '../monitoring/seasons';
import type { ModelMetadata } from '../registry';
import type { Store } from '../store';
import { churnPanelCutoffs, stack } from './churn';
import { overdueHeldOutWeeks, overdueOutcomeSeasons, overdueTrainingSample } from './overdue';
import { demandReferenceRows, forecastThroughOnnx, HOLDOUT_WEEKS, servedForecasts, truncate } from './demand';

/** Rows per ONNX run, so a large library never becomes one tensor. */
const BATCH_ROWS = 8192;

/** Every book's genre, for the recommender's `borrowed_genre` reference and live windows. */
export async function bookGenres(store: Store): Promise<Map<number, string>> {
  const rows = await store.db.selectFrom('books').select(['id', 'genre']).execute();
  return new Map(rows.map((b) => [b.id, b.genre ?? 'unknown']));
}

/**
 * The recommender's reference rows: books in each member's history (what the graph is asked
 * with) and the genre of every member-book pair (the content prior reads genre). Lists have no
 * single score, so none is kept.
 */
export function recommendationReferenceRows(histories: readonly (BorrowingHistory | undefined)[], genres: ReadonlyMap<number, string>): ReferenceRows {
  const known = histories.filter((h): h is BorrowingHistory => h !== undefined);
  return {
    names: ['history_books'],
    values: known.map((h) => h.bookIds.length),
    rowCount: known.length,
    extra: { borrowed_genre: known.flatMap((h) => h.bookIds.map((id) => genres.get(id) ?? 'unknown')) },
  };
}

/** The first output (or `output`) of a one-input graph over row-major float rows, batch by batch. */
export async function scoreRows(modelFile: string, metadata: Pick<ModelMetadata, 'inputs' | 'outputs'>, values: Float32Array, rowCount: number, output = metadata.outputs[0]?.name): Promise<number[]> {
  const input = metadata.inputs[0]?.name;
  if (!input || !output) throw new Error(`${modelFile}: metadata names no input or output tensor`);
  const d = rowCount > 0 ? values.length / rowCount : 0;
  const session = await openServingSession(modelFile);
  try {
    const scores: number[] = [];
    for (let start = 0; start < rowCount; start += BATCH_ROWS) {
      const end = Math.min(rowCount, start + BATCH_ROWS);
      const result = await session.run({ [input]: new Tensor('float32', values.subarray(start * d, end * d), [end - start, d]) });
      const data = result[output]?.data;
      if (!data || data.length !== end - start) throw new Error(`${modelFile}: output "${output}" has ${data?.length ?? 0} values for ${end - start} rows`);
      for (const value of Array.from(data as ArrayLike<number | bigint>)) scores.push(Number(value));
    }
    return scores;
  } finally {
    await session.release();
  }
}

async function memberIdsJoinedBy(store: Store, day: string): Promise<number[]> {
  return (await store.db.selectFrom('members').select('id').where('joined_at', '<=', day).orderBy('id').execute()).map((r) => r.id);
}

/**
 * What `models reference` rebuilds for a registered version: its reference rows and, for
 * overdue, the outcome seasons its trainer derives from the same rows and scores, and its
 * held-out AUC week by week (its held-out rows scored by its model.onnx, as its trainer does).
 */
export interface VersionReferenceRows extends ReferenceRows {
  outcomeSeasons?: OutcomeSeasons;
  heldOutWeeks?: Record<string, HeldOutWeeks>;
}

/** The reference rows of the version in `dir` (its metadata already read), rebuilt from `store`. */
export async function versionReferenceRows(store: Store, metadata: ModelMetadata, dir: string): Promise<VersionReferenceRows> {
  const asOf = metadata.trainingData.asOf;
  const modelFile = path.join(dir, 'model.onnx');
  const names = metadata.featureSpec.map((f) => f.name);
  const name = metadata.name as ModelName;
  switch (name) {
    case 'overdue': {
      const w = await overdueWindows(store, asOf);
      const train = await overdueTrainingSet(store, w.trainStart, w.testStart, w.testStart, overdueTrainingSample(metadata.hyperparameters, metadata.trainingData.seed));
      const rowCount = train.labels.length;
      const score = await scoreRows(modelFile, metadata, train.features.values, rowCount);
      const test = await overdueTrainingSet(store, w.testStart, w.testEnd, asOf);
      const heldOutWeeks = overdueHeldOutWeeks(test, await scoreRows(modelFile, metadata, test.features.values, test.labels.length));
      return { names, values: train.features.values, rowCount, score, outcomeSeasons: overdueOutcomeSeasons(train, score, w.testStart), heldOutWeeks };
    }
    case 'churn': {
      // The trainer's rows: members active at each monthly cut-off of its panel.
      const { trainCutoff } = await churnCutoffs(store, asOf);
      const allIds = (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
      const cuts = [];
      for (const cutoff of churnPanelCutoffs(trainCutoff)) {
        const cut = await activeChurnRows(store, allIds, cutoff);
        // The version's own columns of the served ones (earlier versions take fewer).
        const columns = featureColumns(metadata, CHURN_FEATURE_NAMES);
        const values = columns ? pickColumns(cut.values, CHURN_FEATURE_NAMES.length, columns) : cut.values;
        cuts.push({ cutoff, values, labels: cut.labels, rows: cut.memberIds.length });
      }
      const train = stack(cuts, names.length);
      return { names, values: train.values, rowCount: train.rows, score: await scoreRows(modelFile, metadata, train.values, train.rows) };
    }
    case 'segmentation': {
      const serving = parseSegmentationServing(metadata);
      const allIds = (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
      const current = await segmentationFeaturesInChunks(store, allIds, asOf);
      const rowCount = current.memberIds.length;
      const ids = await scoreRows(modelFile, metadata, current.values, rowCount, SEGMENTATION_OUTPUTS.segment);
      return { names, values: current.values, rowCount, score: ids.map((id) => serving.segments[id]?.name ?? `segment ${id}`) };
    }
    case 'recommendations':
      return recommendationReferenceRows(await borrowingHistoriesInChunks(store, await memberIdsJoinedBy(store, asOf), asOf), await bookGenres(store));
    case 'demand': {
      const serving = parseDemandServing(metadata);
      const { weekly } = await demandCalendars(store, asOf);
      const bookIds = (await store.db.selectFrom('books').select('id').orderBy('id').execute()).map((r) => r.id);
      const books = await bookWeeklyLoans(store, bookIds, weekly);
      const history = truncate(books.series, weekly.weeks - HOLDOUT_WEEKS);
      // The score is what the version serves for books: its LSTM, or the simple method it chose.
      const lstm = await forecastThroughOnnx(await readFile(modelFile), serving.book, history, HOLDOUT_WEEKS);
      return demandReferenceRows(history, servedForecasts(levelChoice(serving, 'book'), 'book', lstm, history, HOLDOUT_WEEKS));
    }
    default: {
      const unknown: never = name;
      throw new Error(`no drift references for model "${String(unknown)}"`);
    }
  }
}
