/**
 * Forecasts without learning, to judge the LSTM against.
 *
 * - seasonal naive: each future period repeats the same period one season earlier (the
 *   last value when the history is shorter than a season);
 * - trend-scaled seasonal naive: seasonal naive times the recent year-over-year ratio,
 *   (loans in the last k periods + 1) / (loans in the same k periods a year earlier + 1)
 *   with k = min(season, history - season); the +1 keeps sparse series finite.
 */

/** The `horizon` periods after `values` by seasonal naive. */
export function seasonalNaive(values: ArrayLike<number>, seasonLength: number, horizon: number): number[] {
  const T = values.length;
  if (T === 0) throw new Error('seasonal naive needs at least one period of history');
  if (T < seasonLength) return new Array<number>(horizon).fill(values[T - 1]!);
  return Array.from({ length: horizon }, (_, h) => values[T - seasonLength + (h % seasonLength)]!);
}

/** The recent year-over-year ratio, or 1 when there is not a season and one period of history. */
export function yearOverYearRatio(values: ArrayLike<number>, seasonLength: number): number {
  const T = values.length;
  const k = Math.min(seasonLength, T - seasonLength);
  if (k < 1) return 1;
  let recent = 0;
  let yearBefore = 0;
  for (let t = T - k; t < T; t++) {
    recent += values[t]!;
    yearBefore += values[t - seasonLength]!;
  }
  return (recent + 1) / (yearBefore + 1);
}

export function trendScaledSeasonalNaive(values: ArrayLike<number>, seasonLength: number, horizon: number): number[] {
  const ratio = yearOverYearRatio(values, seasonLength);
  return seasonalNaive(values, seasonLength, horizon).map((v) => v * ratio);
}
