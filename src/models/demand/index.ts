/**
 * The demand model, as its trainer and its subgraph both read it: the features it takes, the
 * serving settings a version carries (how each graph reads its inputs) and how they are parsed,
 * and the horizons its fields promise. The subgraph keeps no per-entity memo: what it reads once
 * (calendars, collection series) is its own service.
 */
import { maxHorizon, type DemandGraphSpec } from '../../features/demand';
import { DEMAND_FEATURE_NAMES } from '../../ml/lstm';
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

export interface DemandServing {
  /** How the book graph (model.onnx) and the collection graph read their inputs. */
  book: DemandGraphSpec;
  collection: DemandGraphSpec;
  maxHorizonWeeks: number;
  maxHorizonMonths: number;
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
  check(candidate?.book, 'book', 52, candidate?.maxHorizonWeeks);
  check(candidate?.collection, 'collection', 12, candidate?.maxHorizonMonths);
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
