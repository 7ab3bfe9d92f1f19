/**
 * The demand model, as its trainer and its subgraph both read it: the features it takes, the
 * serving settings a version carries (how each graph reads its inputs) and how they are parsed,
 * and the horizons its fields promise. The subgraph keeps no per-entity memo: what it reads once
 * (calendars, collection series) is its own service.
 */
import { DEMAND_METHODS, forecastDemand, type DemandMethod } from '../../evaluation/demand-baselines';
import { maxHorizon, type DemandGraphSpec } from '../../features/demand';
import type { DemandSeries } from '../../ml/forecasting/series';
import { DEMAND_FEATURE_NAMES, type ForecastMethod, type SeriesForecast } from '../../ml/lstm';
import { checkFeatureSpec, type ServingMetadata, type SlotSpec } from '../../model-runtime/model-slot';
import type { FeatureSpecEntry } from '../../registry';

export const DEMAND_MODEL = 'demand';
/** The extra graph of a demand version that forecasts collections by month. */
export const COLLECTION_GRAPH = 'collection';

/** The largest horizons the fields accept; each graph forecasts up to one season ahead in one run. */
export const MAX_HORIZON_WEEKS = 26;
export const MAX_HORIZON_MONTHS = 12;

/** The columns of the graphs' `features` input, in order. */
export { DEMAND_FEATURE_NAMES };

export const DEMAND_FEATURES: FeatureSpecEntry[] = [
  { name: 'level', type: 'numeric', description: "log1p(loans) of the period minus the series' mean log1p(loans) over its last season" },
  { name: 'season_sin', type: 'numeric', description: 'Position of the predicted period in the year (sine)' },
  { name: 'season_cos', type: 'numeric', description: 'Position of the predicted period in the year (cosine)' },
  { name: 'last_year', type: 'numeric', description: 'log1p(loans) of the predicted period one season earlier, minus the series level' },
  { name: 'year_over_year', type: 'numeric', description: 'log1p(loans) of the period minus that of the same period a season earlier' },
  { name: 'trend', type: 'numeric', description: 'log of (loans in the last season + 1) / (loans in the season before + 1)' },
];

/** The levels the graph serves, each with a graph and a method of its own. */
export const DEMAND_LEVELS = ['book', 'collection'] as const;
export type DemandLevel = (typeof DEMAND_LEVELS)[number];
const SEASON_LENGTH: Record<DemandLevel, number> = { book: 52, collection: 12 };

/** What forecasts a level: the level's LSTM graph, or one of the simple methods. */
export type ServedDemandMethod = 'lstm' | DemandMethod;
export const SERVED_DEMAND_METHODS: readonly ServedDemandMethod[] = ['lstm', ...DEMAND_METHODS];

/**
 * The method a level serves, chosen by backtest in the trainer. A simple method reads the
 * requested series only, so the library's season it multiplies by (the seasonal indices pooled
 * over every series of the level in the training window, one per phase) travels with it.
 */
export interface DemandLevelChoice {
  method: ServedDemandMethod;
  seasonalIndices?: number[];
}

/** A forecast as served: by the LSTM, its fallbacks, or a simple method chosen for the level. */
export interface ServedForecast extends Omit<SeriesForecast, 'method'> {
  method: ForecastMethod | DemandMethod;
}

export interface DemandServing {
  /** How the book graph (model.onnx) and the collection graph read their inputs. */
  book: DemandGraphSpec;
  collection: DemandGraphSpec;
  maxHorizonWeeks: number;
  maxHorizonMonths: number;
  /** The method each level serves; versions without it serve both graphs. */
  methods?: Record<DemandLevel, DemandLevelChoice>;
}

const LSTM_CHOICE: DemandLevelChoice = { method: 'lstm' };

/** The method `level` serves in a version. */
export function levelChoice(serving: DemandServing, level: DemandLevel): DemandLevelChoice {
  return serving.methods?.[level] ?? LSTM_CHOICE;
}

/**
 * Forecasts of a level that serves a simple method, from the series alone (no inference run):
 * the same function the trainer chose it with and the evaluation scores it with.
 */
export function simpleMethodForecasts(choice: DemandLevelChoice, level: DemandLevel, series: readonly DemandSeries[], horizon: number): ServedForecast[] {
  const { method, seasonalIndices } = choice;
  if (method === 'lstm') throw new Error(`the ${level} level serves the LSTM graph, not a simple method`);
  const seasonLength = SEASON_LENGTH[level];
  return series.map((s) => ({ values: forecastDemand(method, s, { seasonLength, horizon, seasonalIndices }), method }));
}

function checkChoice(choice: DemandLevelChoice | undefined, level: DemandLevel): void {
  if (!choice || !SERVED_DEMAND_METHODS.includes(choice.method)) {
    throw new Error(`demand metadata.serving.methods.${level} must name one of ${SERVED_DEMAND_METHODS.join(', ')}, got ${JSON.stringify(choice?.method)}`);
  }
  const indices = choice.seasonalIndices;
  if (choice.method !== 'lstm' && (!Array.isArray(indices) || indices.length !== SEASON_LENGTH[level] || !indices.every((x) => Number.isFinite(x) && x > 0))) {
    throw new Error(`demand metadata.serving.methods.${level} serves ${choice.method} and needs ${SEASON_LENGTH[level]} positive seasonal indices`);
  }
}

/** Reads and checks metadata.serving of a demand version (throws on one this code cannot serve). */
export function demandServing(serving: Record<string, unknown> | undefined): DemandServing {
  const candidate = serving as Partial<DemandServing> | undefined;
  const check = (spec: DemandGraphSpec | undefined, what: string, seasonLength: number, horizon: number | undefined): void => {
    const d = spec?.description;
    if (!spec || !(spec.loansPerUnit > 0)) throw new Error(`demand metadata.serving.${what} needs a positive loansPerUnit`);
    if (!d || typeof d.window !== 'number' || typeof d.minHistory !== 'number' || (d.strategy !== 'recursive' && d.strategy !== 'direct')) {
      throw new Error(`demand metadata.serving.${what} is not a demand model description`);
    }
    if (d.seasonLength !== seasonLength) throw new Error(`demand metadata.serving.${what} has season length ${d.seasonLength}, expected ${seasonLength}`);
    if (typeof horizon !== 'number' || horizon < 1 || horizon > maxHorizon(d)) {
      throw new Error(`demand metadata.serving promises ${what} forecasts ${horizon} periods ahead; the model answers at most ${maxHorizon(d)} in one run`);
    }
  };
  check(candidate?.book, 'book', SEASON_LENGTH.book, candidate?.maxHorizonWeeks);
  check(candidate?.collection, 'collection', SEASON_LENGTH.collection, candidate?.maxHorizonMonths);
  if (candidate?.methods !== undefined) for (const level of DEMAND_LEVELS) checkChoice(candidate.methods[level], level);
  return candidate as DemandServing;
}

/** A version this code can serve: its features, and horizons at least as long as the schema promises. */
export function parseDemandServing(metadata: ServingMetadata): DemandServing {
  checkFeatureSpec(metadata, DEMAND_FEATURE_NAMES);
  const serving = demandServing(metadata.serving);
  if (serving.maxHorizonWeeks < MAX_HORIZON_WEEKS || serving.maxHorizonMonths < MAX_HORIZON_MONTHS) {
    throw new Error(
      `${metadata.name} ${metadata.version} forecasts ${serving.maxHorizonWeeks} weeks and ${serving.maxHorizonMonths} months ahead; the schema promises ${MAX_HORIZON_WEEKS} and ${MAX_HORIZON_MONTHS}`,
    );
  }
  return serving;
}

export const DEMAND_SLOT: SlotSpec<DemandServing> = { model: DEMAND_MODEL, extraGraphs: [COLLECTION_GRAPH], serving: parseDemandServing };
