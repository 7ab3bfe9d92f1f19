/**
 * The demand subgraph (:4006). Every Book.demandForecast of a request, whatever horizons it
 * asks for, costs one feature extraction (weekly loans of those books) and one inference run
 * over the longest horizon, sliced per field; the collection forecasts of a request share one
 * run of the version's collection graph. How to read the model's inputs travels in the
 * version's metadata.serving, so a promoted or rolled-back version swaps it with the graphs.
 */
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../../src/config';
import { badUserInput } from '../../src/errors';
import {
  allCollectionKeys,
  bookWeeklyLoans,
  collectionDimensions,
  demandCalendars,
  demandForecasts,
  demandModelInputs,
  demandTensors,
  monthAt,
  weekAt,
  type CollectionKey,
  type DemandGraphSpec,
  type DemandModelInputs,
  type MonthlyCalendar,
  type WeeklyCalendar,
} from '../../src/features/demand';
import { collectionMonthlyLoansOffThread } from '../../src/features/demand-counts-thread';
import type { ModelRef } from '../../src/graphql/prediction-types';
import { buildFederatedSchema } from '../../src/graphql/subgraph-schema';
import type { Identity } from '../../src/identity';
import type { DemandSeries } from '../../src/ml/forecasting/series';
import { DEMAND_TENSORS } from '../../src/ml/lstm';
import type { ForecastMethod } from '../../src/ml/lstm';
import type { DemandMethod } from '../../src/evaluation/demand-baselines';
import type { ModelSlot } from '../../src/model-runtime/model-slot';
import { recorded, type PredictionLogging } from '../../src/model-runtime/prediction-logging';
import { entityLoader, openAsOfValue, slotOf, startModelSubgraph, type ModelSubgraphDeps, type SubgraphServices } from '../../src/model-runtime/model-subgraph';
import {
  COLLECTION_GRAPH,
  DEMAND_MODEL,
  DEMAND_SLOT,
  levelChoice,
  simpleMethodForecasts,
  type DemandLevel,
  type DemandServing,
  type ServedForecast,
} from '../../src/models/demand';
import { parseId } from '../../src/util/ids';
import type { DemandContext } from './context';
import {
  Book,
  BookDemandResolver,
  Branch,
  CollectionForecastResolver,
  DemandForecastMethod,
  type CollectionForecast,
  type DemandForecast,
} from './schema';
import { inSpan } from '../../src/tracing';

export type { DemandContext } from './context';

export function buildDemandSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [BookDemandResolver, CollectionForecastResolver], orphanedTypes: [Book, Branch] },
    { Book: { __resolveReference: (ref) => Object.assign(new Book(), { id: ref.id }) } },
  );
}

/** What the graph calls the method that made a forecast. */
export function methodOf(method: ForecastMethod | DemandMethod): DemandForecastMethod {
  switch (method) {
    case 'lstm':
      return DemandForecastMethod.LSTM;
    case 'seasonal-naive':
    case 'seasonalNaive':
      return DemandForecastMethod.SEASONAL_NAIVE;
    case 'last-value':
      return DemandForecastMethod.LAST_VALUE;
    case 'seasonalMean':
      return DemandForecastMethod.SEASONAL_MEAN;
    case 'seasonalMeanTimesSeason':
      return DemandForecastMethod.MEAN_TIMES_SEASON;
    case 'sesDeseasonalised':
      return DemandForecastMethod.SES;
    case 'thetaDeseasonalised':
      return DemandForecastMethod.THETA;
    case 'croston':
      return DemandForecastMethod.CROSTON;
    case 'tsb':
      return DemandForecastMethod.TSB;
    default: {
      const unhandled: never = method;
      throw new Error(`unknown forecast method ${String(unhandled)}`);
    }
  }
}

/**
 * Forecasts `horizon` periods of every series by the method the version serves for `level`:
 * a simple method from the series alone, without a run, or one run of `graph`, read with the
 * description of the version that runs. Series too short for the model get their fallback
 * without a run when none needs the model.
 */
async function forecastSeries(
  slot: ModelSlot<DemandServing>,
  level: DemandLevel,
  graph: string,
  series: DemandSeries[],
  horizon: number,
): Promise<{ forecasts: ServedForecast[]; coverage: number | null; model: ModelRef }> {
  const pick = (serving: DemandServing): DemandGraphSpec => serving[level];
  const coverageOf = (spec: DemandGraphSpec): number | null => spec.description.intervals?.coverage ?? null;
  const current = slot.current();
  const choice = levelChoice(current.serving, level);
  if (choice.method !== 'lstm') return { forecasts: simpleMethodForecasts(choice, level, series, horizon), coverage: null, model: current.ref };
  const currentSpec = pick(current.serving);
  if (series.every((s) => s.values.length < currentSpec.description.minHistory)) {
    const inputs = demandModelInputs(currentSpec, series, horizon);
    return { forecasts: demandForecasts(currentSpec, series, inputs, undefined), coverage: coverageOf(currentSpec), model: current.ref };
  }
  let inputs: DemandModelInputs | undefined;
  const { result, model } = await slot.run(
    series.length,
    (m) => {
      inputs = demandModelInputs(pick(m.serving), series, horizon);
      return demandTensors(inputs);
    },
    (outputs, m) => {
      const forecast = outputs[DEMAND_TENSORS.forecast];
      if (!forecast || !inputs) throw new Error(`${slot.name} ${m.version}: the ${graph} graph answered without "${DEMAND_TENSORS.forecast}"`);
      return demandForecasts(pick(m.serving), series, inputs, forecast.data as Float32Array, { intervals: true });
    },
    graph,
  );
  return { forecasts: result, coverage: coverageOf(pick(model.serving)), model: model.ref };
}

export interface DemandService extends SubgraphServices {
  /** Book.demandForecast for keys `<horizonWeeks>:<book id>`, in key order; null for unknown books. */
  bookForecasts: (keys: readonly string[]) => Promise<(DemandForecast | null)[]>;
  /** Collection forecasts for keys from `collectionRequestKey`, in key order. */
  collectionForecasts: (keys: readonly string[]) => Promise<CollectionForecast[]>;
  /** Where the forecasts served are recorded. */
  predictionLog: PredictionLogging;
  /** The genres and branch ids a collection may name. */
  dimensions: () => Promise<{ genres: string[]; branchIds: number[] }>;
  /**
   * Reads the calendars and the collection series ahead of the first request: one grouped scan
   * of every loan, seconds on a large library. Failures are logged, and the next request tries again.
   */
  warm: () => Promise<void>;
}

interface CollectionRequest {
  key: CollectionKey;
  horizon: number;
}

export function collectionRequestKey({ key, horizon }: CollectionRequest): string {
  return JSON.stringify([key.genre, key.branchId, horizon]);
}

function parseCollectionRequest(text: string): CollectionRequest {
  const [genre, branchId, horizon] = JSON.parse(text) as [string | null, number | null, number];
  return { key: { genre, branchId }, horizon };
}

/** Computes `load` once and keeps it; a failure is forgotten so the next call tries again. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= load().catch((error: unknown) => {
      value = undefined;
      throw error;
    });
    return value;
  };
}

/**
 * The demand forecasts of one process. What depends only on the store at the library clock is
 * read once per date: the calendars and every collection series (grouped a few days of loans per
 * query, on a worker thread on SQLite so that the serving thread keeps answering), rolled
 * forward with the clock by the change follower while the previous date's keep answering.
 * Loans arrive on the clock's day, which a complete month holds only on its last day: checkouts
 * of that day join the month's series when the clock moves on. The collections' dimensions are read once; books are read per request. No model
 * output is kept, so a new version never meets a stale answer.
 */
export function createDemandService(deps: ModelSubgraphDeps): DemandService {
  const slot = slotOf(deps, DEMAND_SLOT);
  const calendars = openAsOfValue(deps, (asOf) => demandCalendars(deps.store, asOf));
  const dimensions = once(() => collectionDimensions(deps.store));
  // The last series read: a roll forward reads only the months completed since (none within a month).
  let known: { calendar: MonthlyCalendar; series: DemandSeries[] } | undefined;
  const collectionSeries = openAsOfValue(deps, async (asOf) => {
    const [{ monthly }, dims] = await Promise.all([demandCalendars(deps.store, asOf), dimensions()]);
    const keys = allCollectionKeys(dims);
    deps.metrics.featureQueries.inc({ model: DEMAND_MODEL });
    const series = await inSpan('features.read', { 'shelfmark.features': 'collectionMonthlyLoans', 'shelfmark.entities': keys.length }, () => collectionMonthlyLoansOffThread(deps.store, keys, monthly, known));
    if (!known || monthly.months >= known.calendar.months) known = { calendar: monthly, series };
    return { monthly, series: new Map(keys.map((key, i) => [JSON.stringify([key.genre, key.branchId]), series[i]!])) };
  });

  const bookForecasts = async (keys: readonly string[]): Promise<(DemandForecast | null)[]> => {
    const requests = keys.map((key) => {
      const at = key.indexOf(':');
      return { horizon: Number(key.slice(0, at)), id: parseId(key.slice(at + 1)) };
    });
    const ids = requests.flatMap((r) => (r.id === undefined ? [] : [r.id]));
    const { weekly } = await calendars.get();
    deps.metrics.featureQueries.inc({ model: DEMAND_MODEL });
    const loans = await inSpan('features.read', { 'shelfmark.features': 'bookWeeklyLoans', 'shelfmark.entities': ids.length }, () => bookWeeklyLoans(deps.store, ids, weekly));
    // Nobody to forecast: answer null without touching the model, so unknown ids never cost a run.
    if (loans.bookIds.length === 0) return keys.map(() => null);
    const horizon = Math.max(...requests.map((r) => r.horizon));
    const { forecasts, coverage, model } = await forecastSeries(slot, 'book', 'model', loans.series, horizon);
    const row = new Map(loans.bookIds.map((id, i) => [id, i]));
    return requests.map(({ id, horizon: h }) => {
      const i = id === undefined ? undefined : row.get(id);
      const forecast = i === undefined ? undefined : forecasts[i];
      return forecast ? bookForecast(forecast, h, weekly, coverage, model) : null;
    });
  };

  const collectionForecasts = async (keys: readonly string[]): Promise<CollectionForecast[]> => {
    const requests = keys.map(parseCollectionRequest);
    // The months and the series of one date: a roll forward may swap the calendars between two reads.
    const { monthly, series: all } = await collectionSeries.get();
    const series = requests.map(({ key }) => {
      const found = all.get(JSON.stringify([key.genre, key.branchId]));
      // The context checks genre and branch against the same dimensions the series were read for.
      if (!found) throw new Error(`no monthly series for genre ${key.genre} at branch ${key.branchId}`);
      return found;
    });
    const horizon = Math.max(...requests.map((r) => r.horizon));
    const { forecasts, coverage, model } = await forecastSeries(slot, 'collection', COLLECTION_GRAPH, series, horizon);
    return requests.map(({ key, horizon: h }, i) => {
      const forecast = forecasts[i];
      if (!forecast) throw new Error(`the collection graph answered ${forecasts.length} forecasts for ${requests.length} collections`);
      return collectionForecast(key, forecast, h, monthly, coverage, model);
    });
  };

  const warm = async (): Promise<void> => {
    try {
      await Promise.all([calendars.get(), collectionSeries.get()]);
    } catch (error) {
      deps.logger.warn({ model: DEMAND_MODEL, err: (error as Error).message }, 'could not read the collection series ahead of the first request');
    }
  };

  return { bookForecasts, collectionForecasts, predictionLog: deps.predictionLog, dimensions, warm };
}

/** Period k of a forecast: expected loans and the band around them. */
function pointAt(f: ServedForecast, k: number) {
  return { expectedLoans: f.values[k]!, low: f.low?.[k] ?? null, high: f.high?.[k] ?? null };
}

/** How a forecast was made: method, the band's coverage (null without a band) and the model version. */
function provenance(f: ServedForecast, coverage: number | null, model: ModelRef) {
  return { method: methodOf(f.method), coverage: f.low ? coverage : null, model };
}

function bookForecast(f: ServedForecast, horizon: number, weekly: WeeklyCalendar, coverage: number | null, model: ModelRef): DemandForecast {
  return {
    points: Array.from({ length: horizon }, (_, k) => ({ weekStart: weekAt(weekly, weekly.weeks + k), ...pointAt(f, k) })),
    ...provenance(f, coverage, model),
  };
}

function collectionForecast(key: CollectionKey, f: ServedForecast, horizon: number, monthly: MonthlyCalendar, coverage: number | null, model: ModelRef): CollectionForecast {
  return {
    genre: key.genre,
    branch: key.branchId === null ? null : Object.assign(new Branch(), { id: String(key.branchId) }),
    points: Array.from({ length: horizon }, (_, k) => ({ month: monthAt(monthly, monthly.months + k), ...pointAt(f, k) })),
    ...provenance(f, coverage, model),
  };
}

export function createDemandContext(identity: Identity, service: DemandService, requestId: string): DemandContext {
  const log = service.predictionLog;
  const collections = entityLoader<string, CollectionForecast>(async (keys) =>
    recorded(log, requestId, await service.collectionForecasts(keys), (f, i) => ({
      model: f.model,
      entityKind: 'collection',
      entityId: keys[i] ?? '',
      items: f.points.map((p) => ({ id: p.month, score: p.expectedLoans })),
    })),
  );
  return {
    identity,
    demandForecast: entityLoader(async (keys: readonly string[]) =>
      recorded(log, requestId, await service.bookForecasts(keys), (f, i) => ({
        model: f.model,
        entityKind: 'book',
        // Keys are `<horizonWeeks>:<book id>`; the horizon shows in the number of points.
        entityId: keys[i]?.split(':')[1] ?? '',
        items: f.points.map((p) => ({ id: p.weekStart, score: p.expectedLoans })),
      })),
    ),
    collectionForecast: async (genre, branchId, horizonMonths) => {
      const { genres, branchIds } = await service.dimensions();
      if (genre !== null && !genres.includes(genre)) {
        throw badUserInput(`unknown genre "${genre}"; the catalogue's genres are: ${genres.join(', ')}`, { argument: 'genre' });
      }
      let branch: number | null = null;
      if (branchId !== null) {
        const id = parseId(branchId);
        if (id === undefined || !branchIds.includes(id)) {
          throw badUserInput(`unknown branch "${branchId}"; the branch ids are: ${branchIds.join(', ')}`, { argument: 'branchId' });
        }
        branch = id;
      }
      return collections.load(collectionRequestKey({ key: { genre, branchId: branch }, horizon: horizonMonths }));
    },
  };
}

export async function startDemandSubgraph(config: Config, port?: number) {
  return startModelSubgraph(
    config,
    { name: 'demand', schema: await buildDemandSchema(), slots: [DEMAND_SLOT], services: createDemandService, createContext: createDemandContext },
    port,
  );
}
