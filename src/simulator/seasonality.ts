/**
 * The calendar shape of borrowing, fixed as constants so the product never reads ../shared.
 */
import type { Genre } from './genre-rules';

/**
 * Relative loans per day in each calendar month (January first; mean 1).
 *
 * Derived once from LibrariesWest issues 2016-07..2018-12
 * (../shared/data/librarieswest/issues_monthly_2016-07_2018-12.csv, Open Government Licence
 * v3.0): issues summed over the seven authorities per month, divided by the days in the month,
 * then divided by the centred 2x12 moving average (classical multiplicative decomposition, so
 * the consortium's yearly decline does not leak into the shape); the ratios of 2017-01..2018-06
 * were averaged per calendar month and rescaled to mean 1.
 *  - `young`: item types starting "Child", "YA" plus "Large Print - Children" (39% of issues):
 *    the Summer Reading Challenge peak in July/August, a deep December dip.
 *  - `adult`: every other item type: nearly flat, a December dip.
 * Together (`all`) they give the consortium's shape: summer peak 1.13/1.23, December 0.76.
 */
export const MONTH_FACTORS = {
  young: [0.848, 1.031, 0.938, 0.958, 0.887, 0.865, 1.39, 1.537, 1.061, 0.961, 0.877, 0.647],
  adult: [1.015, 1.088, 1.045, 0.996, 0.993, 1.017, 0.967, 1.023, 1.024, 0.991, 1.004, 0.838],
  all: [0.951, 1.066, 1.004, 0.981, 0.951, 0.957, 1.132, 1.225, 1.039, 0.979, 0.954, 0.762],
} as const;

/** Which monthly shape a member's visits follow. */
export type SeasonalShape = 'young' | 'adult';

/**
 * Relative visits per weekday, Monday first (mean 1): Saturday is the family day, and most
 * branches open only briefly, if at all, on Sunday.
 */
export const WEEKDAY_FACTORS: readonly number[] = (() => {
  const raw = [1.05, 1.0, 0.95, 1.05, 1.0, 1.3, 0.4];
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  return raw.map((f) => f / mean);
})();

/**
 * Per-genre demand trend: the log-change per year in the share a genre takes of a member's
 * borrowing (graphic novels and poetry rising, teen fiction and the classics fading), so a
 * demand forecaster has trends to find besides the season.
 */
export const GENRE_TRENDS_PER_YEAR: Readonly<Record<Genre, number>> = {
  Fiction: -0.02,
  Fantasy: 0.04,
  'Science Fiction': -0.03,
  Mystery: 0.02,
  Thriller: 0.03,
  Romance: 0.07,
  Horror: -0.04,
  'Young Adult': -0.09,
  Children: 0.0,
  Classics: -0.06,
  'Non-fiction': 0.05,
  History: 0.0,
  Biography: 0.03,
  Poetry: 0.1,
  'Graphic Novels': 0.16,
};

/**
 * Added to the log-odds of a late return by the month the loan falls due (January first):
 * items due in the summer holidays and over Christmas come back late more often.
 */
export const LATE_LOGIT_BY_DUE_MONTH: readonly number[] = [0.15, 0, 0, 0.05, 0, 0, 0.3, 0.45, 0.1, 0, 0, 0.5];
