/**
 * Forecast accuracy in the units the library plans with: loans. Summed absolute error
 * weighs every loan the same, so large collections count in proportion to their size, and
 * the ratio to seasonal naive says how much a model improves on "same as last year"
 * (below 1 is better).
 */

/** Sum over series and periods of |actual - forecast|; `actual` and `forecast` align row by row. */
export function summedAbsoluteError(actual: ArrayLike<number>[], forecast: ArrayLike<number>[]): number {
  if (actual.length !== forecast.length) {
    throw new Error(`expected one forecast per actual series, got ${forecast.length} for ${actual.length}`);
  }
  let total = 0;
  actual.forEach((a, s) => {
    const f = forecast[s]!;
    if (a.length !== f.length) throw new Error(`series ${s}: expected ${a.length} forecast periods, got ${f.length}`);
    for (let h = 0; h < a.length; h++) total += Math.abs(a[h]! - f[h]!);
  });
  return total;
}

/** A model's error over seasonal naive's on the same periods (NaN when seasonal naive is perfect). */
export function ratioToSeasonalNaive(modelError: number, seasonalNaiveError: number): number {
  return seasonalNaiveError > 0 ? modelError / seasonalNaiveError : NaN;
}
