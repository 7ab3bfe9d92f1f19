/**
 * The one shape every forecaster in Shelfmark reads: loans per period of one thing (a
 * collection, a book), oldest first, with no gaps.
 */
export interface DemandSeries {
  /** Loans per period, oldest first; a period with no loans is 0, never left out. */
  values: ArrayLike<number>;
  /**
   * Seasonal position of `values[0]`, in 0..seasonLength-1: the month (January = 0) for
   * monthly data with seasonLength 12, the week of the year for weekly data with 52.
   */
  firstPhase: number;
}
