/**
 * Engineered inputs of the demand model, one row per period of a series, and the targets
 * it learns. One module for training and forecasting, so the two cannot drift apart.
 *
 * Loans are taken as log1p(loans) ("log loans"), which turns a collection's size into an
 * offset and seasonal swings into differences, and keeps zero-loan periods finite. Each
 * series is centred on its own level (mean log loans over its last season), so a branch's
 * DVDs and a city's adult fiction share one model.
 *
 * The row for period t is read once period t is known and describes the period t + 1 the
 * model predicts:
 *   level            log loans at t minus the series level
 *   season_sin/cos   position of t + 1 in the season on the unit circle (December next to January)
 *   last_year        log loans of t + 1 - season (same period last year), centred
 *   year_over_year   log loans at t minus at t - season
 *   trend            log of the year-over-year ratio of the last k periods to t, as the
 *                    trend-scaled seasonal naive baseline computes it
 * The first four carry the season position; with `seasonInputs` false they are 0 (see
 * `seasonInputs` in demand-model.ts for why that is the default).
 * A row is complete, every input known, from t = season on (`firstCompleteRow`); earlier
 * rows hold 0 where an input is unknown, and the model is never trained or run on them:
 * whether an input is known would tell it how far into a history it is, which it would
 * learn as a clock that means nothing at forecast time.
 *
 * What the model predicts is a log ratio to an anchor (see `AnchorKind`); the forecast is
 * expm1(anchor + prediction), and a prediction of 0 reproduces the anchor's baseline.
 */
import { yearOverYearRatio } from './baselines';

export const DEMAND_FEATURE_NAMES = ['level', 'season_sin', 'season_cos', 'last_year', 'year_over_year', 'trend'] as const;

export const DEMAND_FEATURE_COUNT = DEMAND_FEATURE_NAMES.length;
const TREND = DEMAND_FEATURE_NAMES.indexOf('trend');

/**
 * What the model's output is relative to, in log loans:
 * - 'seasonal': the same period one season earlier (seasonal naive);
 * - 'trend-seasonal': that, scaled by the recent year-over-year ratio (the `trend` input),
 *   i.e. the trend-scaled seasonal naive baseline, so the LSTM learns corrections to it.
 */
export type AnchorKind = 'seasonal' | 'trend-seasonal';

export function logLoans(values: ArrayLike<number>): number[] {
  return Array.from(values, (v) => Math.log1p(Math.max(0, v)));
}

/** Index of the first row whose inputs are all known. */
export function firstCompleteRow(seasonLength: number): number {
  return seasonLength;
}

/** The series' level: mean log loans over its last season (or all of it when shorter). */
export function seriesLevel(logValues: ArrayLike<number>, seasonLength: number): number {
  const T = logValues.length;
  const n = Math.min(T, seasonLength);
  let sum = 0;
  for (let t = T - n; t < T; t++) sum += logValues[t]!;
  return n > 0 ? sum / n : 0;
}

/**
 * Feature rows [T x DEMAND_FEATURE_COUNT] for every period of `logValues`; `level` must be
 * the level of the observed history, also while the series is extended by forecasts.
 */
export function demandFeatures(logValues: ArrayLike<number>, firstPhase: number, seasonLength: number, level: number, seasonInputs = true): Float64Array {
  const T = logValues.length;
  const F = DEMAND_FEATURE_COUNT;
  const rows = new Float64Array(T * F);
  const loans = Array.from(logValues, Math.expm1);
  for (let t = 0; t < T; t++) {
    const row = t * F;
    const angle = (2 * Math.PI * ((firstPhase + t + 1) % seasonLength)) / seasonLength;
    const lastYear = t + 1 - seasonLength;
    const hasYearBefore = t - seasonLength >= 0;
    rows[row] = seasonInputs ? logValues[t]! - level : 0;
    rows[row + 1] = seasonInputs ? Math.sin(angle) : 0;
    rows[row + 2] = seasonInputs ? Math.cos(angle) : 0;
    rows[row + 3] = seasonInputs && lastYear >= 0 ? logValues[lastYear]! - level : 0;
    rows[row + 4] = hasYearBefore ? logValues[t]! - logValues[t - seasonLength]! : 0;
    rows[row + 5] = hasYearBefore ? Math.log(yearOverYearRatio(loans.slice(0, t + 1), seasonLength)) : 0;
  }
  return rows;
}

/**
 * The anchor of output k (k periods after the next) at period t, in log loans, or NaN when
 * the period one season before is outside the history. `rows` are `demandFeatures` rows.
 */
export function anchorAt(logValues: ArrayLike<number>, rows: Float64Array, t: number, k: number, seasonLength: number, kind: AnchorKind): number {
  const back = t + 1 + k - seasonLength;
  if (back < 0 || back >= logValues.length) return NaN;
  switch (kind) {
    case 'seasonal':
      return logValues[back]!;
    case 'trend-seasonal':
      return logValues[back]! + rows[t * DEMAND_FEATURE_COUNT + TREND]!;
    default: {
      const unhandled: never = kind;
      throw new Error(`unknown anchor ${String(unhandled)}`);
    }
  }
}

/**
 * Targets [T x outputs]: for period t and output k, log loans at t + 1 + k minus its
 * anchor, or NaN where either is outside the history. outputs = 1 trains the
 * one-period-ahead (recursive) model; more outputs train a direct multi-period model.
 */
export function demandTargets(logValues: ArrayLike<number>, rows: Float64Array, seasonLength: number, outputs: number, kind: AnchorKind): Float64Array {
  const T = logValues.length;
  const targets = new Float64Array(T * outputs).fill(NaN);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < outputs && t + 1 + k < T; k++) {
      const anchor = anchorAt(logValues, rows, t, k, seasonLength, kind);
      if (!Number.isNaN(anchor)) targets[t * outputs + k] = logValues[t + 1 + k]! - anchor;
    }
  }
  return targets;
}

/** Anchors of the `outputs` periods after the end of the history (T >= seasonLength). */
export function forecastAnchors(logValues: ArrayLike<number>, rows: Float64Array, seasonLength: number, outputs: number, kind: AnchorKind): number[] {
  const t = logValues.length - 1;
  // Beyond one season, the anchor repeats the last season, as seasonal naive does.
  return Array.from({ length: outputs }, (_, k) => anchorAt(logValues, rows, t, k % seasonLength, seasonLength, kind));
}
