/**
 * Forecast combination: the mean of two forecasts of the same periods, in loans.
 *
 * Why: an equal-weight average of a learnt model and a simple baseline is among the most
 * robust forecasts known (Clemen 1989; the M4 competition, where combinations beat almost
 * every single method). Equal weights, not fitted ones, because fitted weights are noisy
 * and on short histories can only be fitted at horizons shorter than the ones forecast
 * (the "combination puzzle"). The `forecast` command averages its LSTM with seasonal
 * naive; see FORECAST_COMBINATION in ../../cli/forecast.ts for the evidence.
 */
import { seasonalNaive } from './baselines';
import type { DemandSeries } from './series';

/** Period-by-period arithmetic mean of two forecasts of the same length. */
export function meanForecast(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  if (a.length !== b.length) throw new Error(`forecasts to combine must cover the same periods, got ${a.length} and ${b.length}`);
  return Array.from({ length: a.length }, (_, h) => (a[h]! + b[h]!) / 2);
}

/** `forecast` (the periods after `series`) averaged with seasonal naive's forecast of them. */
export function withSeasonalNaive(series: DemandSeries, forecast: ArrayLike<number>, seasonLength: number): number[] {
  return meanForecast(forecast, seasonalNaive(series.values, seasonLength, forecast.length));
}
