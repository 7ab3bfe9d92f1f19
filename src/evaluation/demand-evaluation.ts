/**
 * Scores registered demand versions and the simple demand methods on the same held-out periods
 * of a library, for `npm run evaluate -- --model demand`, and the promotion gate's re-scoring.
 *
 * Contract:
 * - The holdout is the last `weeks` complete weeks (books, model.onnx) and `months` complete
 *   months (collections, collection.onnx) on or before `end` (default the library clock), read
 *   through the serving feature code (src/features/demand.ts) with the calendars the trainer
 *   uses. With `end` = the clock and the trainer's 13 weeks and 6 months, these are the periods
 *   the trainer held out, so a version's figures here reproduce its metadata exactly.
 * - A version forecasts through its own ONNX files and serving settings, in one run per level,
 *   as the subgraph does. Each baseline of src/evaluation/demand-baselines.ts forecasts from the
 *   same histories, with seasonal indices pooled from the histories only.
 * - Every figure has a 95% bootstrap interval over series (a book, a collection), all scorers
 *   drawn from the same resamples; the best baseline is the one with the lowest book-week RMSE
 *   (the headline the trainer and the gate use), and each version is compared with it and with the other versions by a paired
 *   bootstrap of the book-week RMSE on the same books.
 * - Book-level figures are named as in the trainer's metadata (rmse, mae, bias, ...); collection
 *   figures carry the prefix `collection`.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import {
  allCollectionKeys,
  bookWeeklyLoans,
  collectionDimensions,
  collectionMonthlyLoans,
  demandCalendars,
  demandForecasts,
  demandModelInputs,
  demandTensors,
  weekAt,
  monthAt,
  type DemandGraphSpec,
} from '../features/demand';
import type { DemandSeries } from '../ml/forecasting/series';
import { DEMAND_TENSORS } from '../ml/lstm';
import { openServingSession } from '../ml/onnx/session';
import { COLLECTION_GRAPH, levelChoice, parseDemandServing, simpleMethodForecasts, type DemandLevel, type DemandServing } from '../models/demand';
import type { ServingMetadata } from '../model-runtime/model-slot';
import { readAsOf, type Store } from '../store';
import { DEMAND_METHODS, forecastDemand, pooledSeasonalIndices, scaledErrors, type DemandMethod } from './demand-baselines';
import { bootstrapFigures, pairedBootstrap, plainInterval, type BootstrapOptions, type Interval, type PairedComparison } from './intervals';

export const DEFAULT_HOLDOUT_WEEKS = 13;
export const DEFAULT_HOLDOUT_MONTHS = 6;

/** What the baselines are called in reports. */
export const DEMAND_METHOD_LABELS: Record<DemandMethod, string> = {
  seasonalNaive: 'seasonal naive',
  seasonalMean: 'mean of the last season (52 weeks, 12 months)',
  seasonalMeanTimesSeason: "mean × the library's season",
  sesDeseasonalised: 'SES on the deseasonalised series',
  thetaDeseasonalised: 'Theta on the deseasonalised series',
  croston: 'Croston',
  tsb: 'TSB',
};

interface Level {
  /** Metric prefix: '' for books, 'collection' for collections. */
  prefix: string;
  seasonLength: number;
  periods: string[];
  history: DemandSeries[];
  actual: number[][];
}

export interface DemandHoldout {
  end: string;
  description: string;
  book: Level;
  collection: Level;
}

function cut(series: readonly DemandSeries[], trainLength: number): { history: DemandSeries[]; actual: number[][] } {
  return {
    history: series.map((s) => ({ values: Array.from(s.values).slice(0, trainLength), firstPhase: s.firstPhase })),
    actual: series.map((s) => Array.from(s.values).slice(trainLength)),
  };
}

/** The held-out periods of a library, read once and shared by every scorer. */
export async function demandHoldout(store: Store, { end, weeks = DEFAULT_HOLDOUT_WEEKS, months = DEFAULT_HOLDOUT_MONTHS }: { end?: string; weeks?: number; months?: number } = {}): Promise<DemandHoldout> {
  const asOf = end ?? (await readAsOf(store));
  if (!Number.isInteger(weeks) || weeks < 1 || weeks > 52) throw new RangeError(`weeks must be an integer from 1 to 52, got ${weeks}`);
  if (!Number.isInteger(months) || months < 1 || months > 12) throw new RangeError(`months must be an integer from 1 to 12, got ${months}`);
  const { weekly, monthly } = await demandCalendars(store, asOf);
  const trainWeeks = weekly.weeks - weeks;
  const trainMonths = monthly.months - months;
  if (trainWeeks < 53) throw new Error(`the library has ${weekly.weeks} complete weeks of loans by ${asOf}: too few to hold out ${weeks} after a year of history`);
  if (trainMonths < 13) throw new Error(`the library has ${monthly.months} complete months of loans by ${asOf}: too few to hold out ${months} after a year of history`);
  const bookIds = (await store.db.selectFrom('books').select('id').orderBy('id').execute()).map((r) => r.id);
  const books = await bookWeeklyLoans(store, bookIds, weekly);
  const collections = await collectionMonthlyLoans(store, allCollectionKeys(await collectionDimensions(store)), monthly);
  const periods = (n: number, from: number, at: (i: number) => string) => Array.from({ length: n }, (_, i) => at(from + i));
  return {
    end: asOf,
    description: `books: the ${weeks} weeks from ${weekAt(weekly, trainWeeks)}; collections: the ${months} months from ${monthAt(monthly, trainMonths)}; forecast from what came before`,
    book: { prefix: '', seasonLength: 52, periods: periods(weeks, trainWeeks, (i) => weekAt(weekly, i)), ...cut(books.series, trainWeeks) },
    collection: { prefix: 'collection', seasonLength: 12, periods: periods(months, trainMonths, (i) => monthAt(monthly, i)), ...cut(collections, trainMonths) },
  };
}

/** Per-series sums a resample adds up: every figure below is a function of these. */
interface SeriesErrors {
  squared: Float64Array;
  absolute: Float64Array;
  forecast: Float64Array;
  actual: Float64Array;
  mase: Float64Array;
  rmsse: Float64Array;
}

function seriesErrors(level: Level, forecasts: readonly (readonly number[])[]): SeriesErrors {
  const n = level.history.length;
  const out: SeriesErrors = {
    squared: new Float64Array(n),
    absolute: new Float64Array(n),
    forecast: new Float64Array(n),
    actual: new Float64Array(n),
    mase: new Float64Array(n),
    rmsse: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const actual = level.actual[i]!;
    const forecast = forecasts[i]!;
    let squared = 0;
    let absolute = 0;
    let forecastSum = 0;
    let actualSum = 0;
    for (let h = 0; h < actual.length; h++) {
      const e = actual[h]! - forecast[h]!;
      squared += e * e;
      absolute += Math.abs(e);
      forecastSum += forecast[h]!;
      actualSum += actual[h]!;
    }
    out.squared[i] = squared;
    out.absolute[i] = absolute;
    out.forecast[i] = forecastSum;
    out.actual[i] = actualSum;
    const scaled = scaledErrors(level.history[i]!.values, actual, forecast, level.seasonLength);
    out.mase[i] = scaled.mase;
    out.rmsse[i] = scaled.rmsse;
  }
  return out;
}

/** The figures of one scorer on a multiset of series. */
function levelFigures(errors: SeriesErrors, periods: number, prefix: string) {
  const name = (key: string): string => (prefix ? `${prefix}${key[0]!.toUpperCase()}${key.slice(1)}` : key);
  return (rows: ArrayLike<number>): Record<string, number> => {
    let squared = 0;
    let absolute = 0;
    let forecast = 0;
    let actual = 0;
    let mase = 0;
    let rmsse = 0;
    let scaled = 0;
    for (let r = 0; r < rows.length; r++) {
      const i = rows[r]!;
      squared += errors.squared[i]!;
      absolute += errors.absolute[i]!;
      forecast += errors.forecast[i]!;
      actual += errors.actual[i]!;
      if (Number.isFinite(errors.mase[i]!) && Number.isFinite(errors.rmsse[i]!)) {
        mase += errors.mase[i]!;
        rmsse += errors.rmsse[i]!;
        scaled++;
      }
    }
    const cells = rows.length * periods;
    return {
      [name('rmse')]: Math.sqrt(squared / cells),
      [name('mae')]: absolute / cells,
      [name('summedAbsoluteError')]: absolute,
      [name('mase')]: scaled > 0 ? mase / scaled : NaN,
      [name('rmsse')]: scaled > 0 ? rmsse / scaled : NaN,
      [name('bias')]: actual > 0 ? (forecast - actual) / actual : NaN,
    };
  };
}

export interface DemandVersion {
  version: string;
  dir: string;
  metadata: ServingMetadata;
}

/** A version's forecasts of the held-out periods of one level, by the method it serves there (its ONNX graph or a simple method). */
async function versionForecasts(file: string, serving: DemandServing, name: DemandLevel, level: Level): Promise<number[][]> {
  const horizon = level.periods.length;
  const choice = levelChoice(serving, name);
  if (choice.method !== 'lstm') return simpleMethodForecasts(choice, name, level.history, horizon).map((f) => f.values);
  const spec: DemandGraphSpec = serving[name];
  const session = await openServingSession(file);
  try {
    const inputs = demandModelInputs(spec, level.history, horizon);
    const forecast = inputs.rows > 0 ? ((await session.run(demandTensors(inputs)))[DEMAND_TENSORS.forecast]!.data as Float32Array) : undefined;
    return demandForecasts(spec, level.history, inputs, forecast).map((f) => f.values);
  } finally {
    await session.release();
  }
}

export interface ScoredDemandVersion {
  version: string;
  book: number[][];
  collection: number[][];
}

export async function scoreDemandVersion(version: DemandVersion, holdout: DemandHoldout): Promise<ScoredDemandVersion> {
  const serving = parseDemandServing(version.metadata);
  const collectionFile = path.join(version.dir, `${COLLECTION_GRAPH}.onnx`);
  if (!existsSync(collectionFile)) throw new Error(`demand ${version.version}: ${collectionFile} is missing`);
  return {
    version: version.version,
    book: await versionForecasts(path.join(version.dir, 'model.onnx'), serving, 'book', holdout.book),
    collection: await versionForecasts(collectionFile, serving, 'collection', holdout.collection),
  };
}

/** Forecasts of every baseline method, from the histories only. */
export function baselineForecasts(level: Level): Record<DemandMethod, number[][]> {
  const seasonalIndices = pooledSeasonalIndices(level.history, level.seasonLength);
  const horizon = level.periods.length;
  return Object.fromEntries(
    DEMAND_METHODS.map((method) => [method, level.history.map((s) => forecastDemand(method, s, { seasonLength: level.seasonLength, horizon, seasonalIndices }))]),
  ) as Record<DemandMethod, number[][]>;
}

/** Book- and collection-level figures of one scorer, with intervals over each level's series. */
function figuresOf(holdout: DemandHoldout, book: number[][], collection: number[][], options: BootstrapOptions): Record<string, Interval> {
  const out: Record<string, Interval> = {};
  for (const [level, forecasts] of [[holdout.book, book], [holdout.collection, collection]] as const) {
    const figures = bootstrapFigures(level.history.length, levelFigures(seriesErrors(level, forecasts), level.periods.length, level.prefix), options);
    for (const [name, interval] of Object.entries(figures)) out[name] = plainInterval(interval);
  }
  return out;
}

export interface DemandComparison {
  /** What version's book-week RMSE is compared with. */
  against: string;
  metric: 'rmse';
  /** RMSE(version) − RMSE(other) on the same books: below 0 is better. */
  difference: Interval;
  pValue: number;
  verdict: 'better' | 'worse' | 'not distinguishable';
}

export interface DemandReport {
  model: 'demand';
  version: string;
  rows: number;
  window: string;
  metrics: Record<string, Interval>;
  baselines: Record<string, Record<string, Interval>>;
  bestBaseline: DemandMethod;
  oracle: null;
  thresholds: [];
  comparisons: DemandComparison[];
}

/** Paired bootstrap of book-week RMSE, a − b, on the same books. */
export function compareBookRmse(holdout: DemandHoldout, a: number[][], b: number[][], options: BootstrapOptions): PairedComparison {
  return compareLevelRmse(holdout, 'book', a, b, options);
}

/** RMSE of two forecasts of one level (book-weeks or collection-months) on the same series, paired bootstrap (a − b). */
export function compareLevelRmse(holdout: DemandHoldout, name: 'book' | 'collection', a: number[][], b: number[][], options: BootstrapOptions): PairedComparison {
  const level = holdout[name];
  const rmse = (errors: SeriesErrors) => (rows: ArrayLike<number>) => levelFigures(errors, level.periods.length, '')(rows).rmse!;
  return pairedBootstrap(level.history.length, rmse(seriesErrors(level, a)), rmse(seriesErrors(level, b)), options);
}

function comparison(against: string, test: PairedComparison): DemandComparison {
  const d = test.difference;
  return { against, metric: 'rmse', difference: plainInterval(d), pValue: test.pValue, verdict: d.high < 0 ? 'better' : d.low > 0 ? 'worse' : 'not distinguishable' };
}

export interface BaselineReference {
  forecasts: { book: Record<DemandMethod, number[][]>; collection: Record<DemandMethod, number[][]> };
  figures: Record<string, Record<string, Interval>>;
  best: DemandMethod;
}

/** The baselines' forecasts and figures: they do not depend on the version, so they are made once. */
export function demandBaselines(holdout: DemandHoldout, options: BootstrapOptions): BaselineReference {
  const book = baselineForecasts(holdout.book);
  const collection = baselineForecasts(holdout.collection);
  const figures = Object.fromEntries(DEMAND_METHODS.map((m) => [m, figuresOf(holdout, book[m], collection[m], options)]));
  const best = DEMAND_METHODS.reduce((a, b) => ((figures[b]!.rmse?.value ?? Infinity) < (figures[a]!.rmse?.value ?? Infinity) ? b : a));
  return { forecasts: { book, collection }, figures, best };
}

/** The baseline with the lowest book-week RMSE on the holdout (no intervals: the gate's reference). */
export function bestDemandBaseline(holdout: DemandHoldout): { method: DemandMethod; rmse: number; book: number[][] } {
  const level = holdout.book;
  const forecasts = baselineForecasts(level);
  const all = Array.from({ length: level.history.length }, (_, i) => i);
  const rmse = new Map(DEMAND_METHODS.map((m) => [m, levelFigures(seriesErrors(level, forecasts[m]), level.periods.length, '')(all).rmse!]));
  const method = DEMAND_METHODS.reduce((a, b) => (rmse.get(b)! < rmse.get(a)! ? b : a));
  return { method, rmse: rmse.get(method)!, book: forecasts[method] };
}

export async function evaluateDemandVersions(
  holdout: DemandHoldout,
  versions: readonly DemandVersion[],
  options: BootstrapOptions,
  progress: (message: string) => void = () => {},
): Promise<DemandReport[]> {
  progress(`baselines: ${DEMAND_METHODS.join(', ')}`);
  const reference = demandBaselines(holdout, options);
  const scored: ScoredDemandVersion[] = [];
  for (const version of versions) {
    progress(`version ${version.version}`);
    scored.push(await scoreDemandVersion(version, holdout));
  }
  return scored.map((s) => ({
    model: 'demand',
    version: s.version,
    rows: holdout.book.history.length,
    window: holdout.description,
    metrics: figuresOf(holdout, s.book, s.collection, options),
    baselines: reference.figures,
    bestBaseline: reference.best,
    oracle: null,
    thresholds: [],
    comparisons: [
      comparison(`best baseline (${reference.best})`, compareBookRmse(holdout, s.book, reference.forecasts.book[reference.best], options)),
      ...scored.filter((o) => o !== s).map((o) => comparison(`version ${o.version}`, compareBookRmse(holdout, s.book, o.book, options))),
    ],
  }));
}
