/**
 * Simple demand forecasts to hold the learnt model against, the scaled errors to compare them
 * by, and the choice of the served method per level by backtest.
 *
 * Methods (every one forecasts `horizon` periods after a `DemandSeries`, never negative):
 * - seasonalNaive: the same period one season earlier (src/ml/forecasting/baselines.ts);
 * - seasonalMean: the mean of the last season (the 52-week mean for weekly data), flat;
 * - seasonalMeanTimesSeason: that mean times the seasonal index of each future period;
 * - sesDeseasonalised / thetaDeseasonalised: simple exponential smoothing, and the Theta
 *   method (Assimakopoulos and Nikolopoulos 2000, as SES with drift, Hyndman and Billah 2003),
 *   on the series divided by its seasonal indices, multiplied back afterwards; the smoothing
 *   weight minimises the one-step squared error in the history;
 * - croston / tsb: Croston's method and Teunter-Syntetos-Babai for intermittent series (most
 *   book-weeks have no loan), on the raw series, with the customary smoothing weight 0.1.
 *
 * Seasonal indices are multiplicative, one per phase, averaging 1; by default they are the
 * library's season pooled over all series given (`pooledSeasonalIndices`), weighted by volume,
 * because one sparse series cannot estimate 52 weekly indices. They are computed from the
 * histories only, so a backtest fold never sees its own validation periods.
 */
import { seasonalNaive } from '../ml/forecasting/baselines';
import { summedAbsoluteError } from '../ml/forecasting/metrics';
import type { DemandSeries } from '../ml/forecasting/series';
import { rollingOrigins, selectOnFolds, type FoldSelection, type RollingOriginOptions } from './backtest';

export const DEMAND_METHODS = [
  'seasonalNaive',
  'seasonalMean',
  'seasonalMeanTimesSeason',
  'sesDeseasonalised',
  'thetaDeseasonalised',
  'croston',
  'tsb',
] as const;
export type DemandMethod = (typeof DEMAND_METHODS)[number];

/** Smoothing weight of Croston and TSB (size and probability): the value the literature uses. */
export const INTERMITTENT_SMOOTHING = 0.1;
/** Smoothing weights SES and Theta choose from. */
const SMOOTHING_GRID = Array.from({ length: 20 }, (_, i) => (i + 1) / 20);
/** Seasonal indices are floored here so a near-empty phase cannot blow up the deseasonalised series. */
const MIN_SEASONAL_INDEX = 0.05;

export interface DemandForecastContext {
  seasonLength: number;
  horizon: number;
  /** Multiplicative index per phase (length seasonLength, mean 1); the series' own when left out. */
  seasonalIndices?: ArrayLike<number>;
}

function phaseOf(series: DemandSeries, t: number, seasonLength: number): number {
  return (series.firstPhase + t) % seasonLength;
}

/**
 * The trend-cycle of a series at each period: the centred moving average over one season
 * (the 2×L average for even L), NaN within half a season of either end.
 */
function centredMovingAverage(values: ArrayLike<number>, seasonLength: number): Float64Array {
  const n = values.length;
  const half = Math.floor(seasonLength / 2);
  const even = seasonLength % 2 === 0;
  const out = new Float64Array(n).fill(NaN);
  for (let t = half; t + half < n; t++) {
    let sum = 0;
    for (let k = -half; k <= half; k++) {
      const weight = even && Math.abs(k) === half ? 0.5 : 1;
      sum += weight * values[t + k]!;
    }
    out[t] = sum / seasonLength;
  }
  return out;
}

/**
 * Seasonal indices of the summed series (classical multiplicative decomposition, pooled): for
 * each phase, the loans in that phase over their trend-cycle, summed over series, normalised
 * to average 1. The trend-cycle is the centred moving average where a series spans two
 * seasons or more (so a trend is not read as a season, and every phase has a value), and
 * otherwise the mean of the series' last season, whose periods alone count. A phase no series
 * has seen gets 1.
 */
export function pooledSeasonalIndices(series: readonly DemandSeries[], seasonLength: number): number[] {
  const loans = new Float64Array(seasonLength);
  const expected = new Float64Array(seasonLength);
  for (const s of series) {
    const n = s.values.length;
    if (n === 0) continue;
    let trend: Float64Array;
    if (n >= 2 * seasonLength) trend = centredMovingAverage(s.values, seasonLength);
    else {
      // Too short for the moving average to reach every phase: the last season (or what
      // there is) against its own mean, so no phase is counted twice.
      const from = Math.max(0, n - seasonLength);
      let total = 0;
      for (let t = from; t < n; t++) total += s.values[t]!;
      trend = new Float64Array(n).fill(NaN).fill(total / (n - from), from);
    }
    for (let t = 0; t < n; t++) {
      if (Number.isNaN(trend[t]!)) continue;
      const phase = phaseOf(s, t, seasonLength);
      loans[phase]! += s.values[t]!;
      expected[phase]! += trend[t]!;
    }
  }
  const raw = Array.from({ length: seasonLength }, (_, p) => (expected[p]! > 0 ? loans[p]! / expected[p]! : 1));
  const mean = raw.reduce((a, b) => a + b, 0) / seasonLength;
  return raw.map((r) => (mean > 0 ? Math.max(MIN_SEASONAL_INDEX, r / mean) : 1));
}

function lastSeasonMean(values: ArrayLike<number>, seasonLength: number): number {
  const n = values.length;
  const from = Math.max(0, n - seasonLength);
  let sum = 0;
  for (let t = from; t < n; t++) sum += values[t]!;
  return sum / (n - from);
}

/** Level after simple exponential smoothing with weight alpha, and the one-step squared error on the way. */
function smooth(values: ArrayLike<number>, alpha: number): { level: number; squaredError: number } {
  let level = values[0]!;
  let squaredError = 0;
  for (let t = 1; t < values.length; t++) {
    const error = values[t]! - level;
    squaredError += error * error;
    level += alpha * error;
  }
  return { level, squaredError };
}

function fittedSmoothing(values: ArrayLike<number>): { alpha: number; level: number } {
  let best = { alpha: SMOOTHING_GRID[0]!, ...smooth(values, SMOOTHING_GRID[0]!) };
  for (const alpha of SMOOTHING_GRID) {
    const fit = smooth(values, alpha);
    if (fit.squaredError < best.squaredError) best = { alpha, ...fit };
  }
  return best;
}

/** Least-squares slope of values against time. */
function linearSlope(values: ArrayLike<number>): number {
  const n = values.length;
  if (n < 2) return 0;
  const meanT = (n - 1) / 2;
  let meanY = 0;
  for (let t = 0; t < n; t++) meanY += values[t]!;
  meanY /= n;
  let covariance = 0;
  let variance = 0;
  for (let t = 0; t < n; t++) {
    covariance += (t - meanT) * (values[t]! - meanY);
    variance += (t - meanT) ** 2;
  }
  return covariance / variance;
}

/** SES (drift 0) or Theta (drift = half the linear slope) forecasts of a deseasonalised series. */
function smoothedWithDrift(values: ArrayLike<number>, horizon: number, withDrift: boolean): number[] {
  const { alpha, level } = fittedSmoothing(values);
  const halfSlope = withDrift ? linearSlope(values) / 2 : 0;
  const n = values.length;
  const start = 1 / alpha - (1 - alpha) ** n / alpha;
  return Array.from({ length: horizon }, (_, h) => level + halfSlope * (h + start));
}

/** Croston's z / p, or TSB's p · z: the flat forecast of an intermittent series. */
function intermittentRate(values: ArrayLike<number>, method: 'croston' | 'tsb'): number {
  const a = INTERMITTENT_SMOOTHING;
  const n = values.length;
  let first = -1;
  let nonZero = 0;
  let sizeSum = 0;
  for (let t = 0; t < n; t++) {
    if (values[t]! > 0) {
      if (first < 0) first = t;
      nonZero++;
      sizeSum += values[t]!;
    }
  }
  if (first < 0) return 0;
  if (method === 'croston') {
    let size = values[first]!;
    let interval = first + 1;
    let sinceLast = 1;
    for (let t = first + 1; t < n; t++) {
      if (values[t]! > 0) {
        size += a * (values[t]! - size);
        interval += a * (sinceLast - interval);
        sinceLast = 1;
      } else sinceLast++;
    }
    return size / interval;
  }
  let probability = nonZero / n;
  let size = sizeSum / nonZero;
  for (let t = 0; t < n; t++) {
    if (values[t]! > 0) {
      probability += a * (1 - probability);
      size += a * (values[t]! - size);
    } else probability -= a * probability;
  }
  return probability * size;
}

/** The `horizon` periods after `series` by `method`. */
export function forecastDemand(method: DemandMethod, series: DemandSeries, context: DemandForecastContext): number[] {
  const { seasonLength, horizon } = context;
  const values = series.values;
  const n = values.length;
  if (n === 0) throw new Error('a demand forecast needs at least one period of history');
  if (!Number.isInteger(seasonLength) || seasonLength < 1) throw new Error(`seasonLength must be a positive integer, got ${seasonLength}`);
  if (!Number.isInteger(horizon) || horizon < 1) throw new Error(`horizon must be a positive integer, got ${horizon}`);
  const indices = context.seasonalIndices ?? pooledSeasonalIndices([series], seasonLength);
  if (indices.length !== seasonLength) throw new Error(`expected ${seasonLength} seasonal indices, got ${indices.length}`);
  const futureIndex = (h: number) => indices[phaseOf(series, n + h, seasonLength)]!;
  const deseasonalised = () => Float64Array.from({ length: n }, (_, t) => values[t]! / indices[phaseOf(series, t, seasonLength)]!);
  const flat = (level: number) => new Array<number>(horizon).fill(Math.max(0, level));
  switch (method) {
    case 'seasonalNaive':
      return seasonalNaive(values, seasonLength, horizon);
    case 'seasonalMean':
      return flat(lastSeasonMean(values, seasonLength));
    case 'seasonalMeanTimesSeason': {
      const level = lastSeasonMean(deseasonalised(), seasonLength);
      return Array.from({ length: horizon }, (_, h) => Math.max(0, level * futureIndex(h)));
    }
    case 'sesDeseasonalised':
    case 'thetaDeseasonalised':
      return smoothedWithDrift(deseasonalised(), horizon, method === 'thetaDeseasonalised').map((v, h) => Math.max(0, v * futureIndex(h)));
    case 'croston':
    case 'tsb':
      return flat(intermittentRate(values, method));
    default: {
      const unknown: never = method;
      throw new Error(`unknown demand method ${String(unknown)}`);
    }
  }
}

export interface ScaledErrors {
  /** Mean absolute error over the in-sample mean absolute seasonal difference; NaN when that is 0. */
  mase: number;
  /** Root of mean squared error over the in-sample mean squared seasonal difference; NaN when that is 0. */
  rmsse: number;
}

/**
 * MASE and RMSSE of one series' forecast, scaled by the history's differences at lag
 * seasonLength (lag 1 when the history is not longer than a season).
 */
export function scaledErrors(history: ArrayLike<number>, actual: ArrayLike<number>, forecast: ArrayLike<number>, seasonLength: number): ScaledErrors {
  if (actual.length !== forecast.length) throw new Error(`expected ${actual.length} forecast periods, got ${forecast.length}`);
  if (actual.length === 0) throw new Error('no periods to score');
  const lag = history.length > seasonLength ? seasonLength : 1;
  let absoluteScale = 0;
  let squaredScale = 0;
  const differences = history.length - lag;
  for (let t = lag; t < history.length; t++) {
    const d = history[t]! - history[t - lag]!;
    absoluteScale += Math.abs(d);
    squaredScale += d * d;
  }
  let absolute = 0;
  let squared = 0;
  for (let h = 0; h < actual.length; h++) {
    const e = actual[h]! - forecast[h]!;
    absolute += Math.abs(e);
    squared += e * e;
  }
  const meanAbsoluteScale = differences > 0 ? absoluteScale / differences : 0;
  const meanSquaredScale = differences > 0 ? squaredScale / differences : 0;
  return {
    mase: meanAbsoluteScale > 0 ? absolute / actual.length / meanAbsoluteScale : NaN,
    rmsse: meanSquaredScale > 0 ? Math.sqrt(squared / actual.length / meanSquaredScale) : NaN,
  };
}

export interface ScoredForecast {
  history: ArrayLike<number>;
  actual: ArrayLike<number>;
  forecast: ArrayLike<number>;
}

export interface DemandScores {
  /** Σ |actual − forecast| over series and periods, in loans. */
  summedAbsoluteError: number;
  /** Root mean squared error over every series-period, in loans: the error an expected value is judged by. */
  rmse: number;
  /** Mean over series whose scale is defined. */
  mase: number;
  rmsse: number;
  /** (Σ forecast − Σ actual) / Σ actual: −0.18 is 18% too few loans forecast; NaN when no loans happened. */
  bias: number;
  series: number;
  /** Series left out of MASE/RMSSE because their history never changed. */
  seriesWithoutScale: number;
}

export function demandScores(cases: readonly ScoredForecast[], seasonLength: number): DemandScores {
  if (cases.length === 0) throw new Error('no forecasts to score');
  let mase = 0;
  let rmsse = 0;
  let scaled = 0;
  let actualSum = 0;
  let forecastSum = 0;
  let squared = 0;
  let cells = 0;
  for (const c of cases) {
    const errors = scaledErrors(c.history, c.actual, c.forecast, seasonLength);
    if (Number.isFinite(errors.mase) && Number.isFinite(errors.rmsse)) {
      mase += errors.mase;
      rmsse += errors.rmsse;
      scaled++;
    }
    for (let h = 0; h < c.actual.length; h++) {
      actualSum += c.actual[h]!;
      forecastSum += c.forecast[h]!;
      squared += (c.actual[h]! - c.forecast[h]!) ** 2;
    }
    cells += c.actual.length;
  }
  return {
    summedAbsoluteError: summedAbsoluteError(
      cases.map((c) => c.actual),
      cases.map((c) => c.forecast),
    ),
    rmse: cells > 0 ? Math.sqrt(squared / cells) : NaN,
    mase: scaled > 0 ? mase / scaled : NaN,
    rmsse: scaled > 0 ? rmsse / scaled : NaN,
    bias: actualSum > 0 ? (forecastSum - actualSum) / actualSum : NaN,
    series: cases.length,
    seriesWithoutScale: cases.length - scaled,
  };
}

/**
 * Forecasts of every series from a cut-off: `series` end at the same period (a history file's
 * last month), so period `origin` counts from the start of the longest. Each series is cut at
 * `origin`, the seasonal indices are pooled from the cut histories only, and the periods
 * [from, to) are forecast and paired with what happened. Series with no history before the
 * origin cannot be forecast and are left out.
 */
export function forecastsFromOrigin(
  series: readonly DemandSeries[],
  method: DemandMethod,
  window: { origin: number; from: number; to: number },
  seasonLength: number,
): ScoredForecast[] {
  const length = Math.max(...series.map((s) => s.values.length));
  const { origin, from, to } = window;
  if (!(origin <= from && from < to && to <= length)) {
    throw new Error(`forecast window [${from}, ${to}) from origin ${origin} must lie after the origin and within the ${length} periods`);
  }
  const cut = series
    .map((s) => {
      const start = length - s.values.length;
      const history = Array.from(s.values).slice(0, Math.max(0, origin - start));
      const actual = Array.from(s.values).slice(from - start, to - start);
      return { history: { values: history, firstPhase: s.firstPhase }, actual };
    })
    .filter((c) => c.history.values.length > 0);
  if (cut.length === 0) throw new Error(`no series has history before period ${origin}`);
  const seasonalIndices = pooledSeasonalIndices(
    cut.map((c) => c.history),
    seasonLength,
  );
  return cut.map(({ history, actual }) => {
    const forecast = forecastDemand(method, history, { seasonLength, horizon: to - origin, seasonalIndices }).slice(from - origin);
    return { history: history.values, actual, forecast };
  });
}

export const DEMAND_CRITERIA = ['summedAbsoluteError', 'rmse', 'mase', 'rmsse'] as const;
export type DemandCriterion = (typeof DEMAND_CRITERIA)[number];

export interface DemandSelectionOptions extends Omit<RollingOriginOptions, 'windowStart' | 'windowEnd'> {
  seasonLength: number;
  /** Exclusive end of the selection window, counted as in `forecastsFromOrigin`; default every period. */
  windowEnd?: number;
  methods?: readonly DemandMethod[];
  criterion?: DemandCriterion;
}

/**
 * The served method for one level (books, collections): every method scored on rolling
 * origins inside the window by `criterion` (lower is better), the best mean chosen, ties to
 * the method listed first.
 */
export function chooseDemandMethod(series: readonly DemandSeries[], options: DemandSelectionOptions): FoldSelection<DemandMethod> {
  if (series.length === 0) throw new Error('no series to choose a demand method on');
  const { seasonLength, methods = DEMAND_METHODS, criterion = 'summedAbsoluteError', ...foldOptions } = options;
  const windowEnd = options.windowEnd ?? Math.max(...series.map((s) => s.values.length));
  const folds = rollingOrigins({ ...foldOptions, windowStart: 0, windowEnd });
  return selectOnFolds(methods, folds, (method, fold) => {
    const cases = forecastsFromOrigin(series, method, { origin: fold.origin, from: fold.validationStart, to: fold.validationEnd }, seasonLength);
    return demandScores(cases, seasonLength)[criterion];
  });
}
