/**
 * Seasonal expectation of a classifier's outcome ratio: how many more (or fewer) positives than
 * its probabilities expect the version's own training outcomes showed in each week of the year,
 * so that ModelOutcomeRateShift judges a live week against that week's usual ratio and not
 * against 1.
 *
 * Why: a model can be calibrated over the year and still be off in a season its features do
 * not describe. Overdue's features say nothing about the calendar, and loans that fall due
 * over Christmas, when the branches close, come back late about 1.5 times as often as its
 * probabilities say; the outcome ratio of those weeks then lies above its bound with nothing
 * shifted. The season is in the training years too, so the version can carry it.
 *
 * The rule, fixed before any live day is seen:
 * - A season is the week of the year of the day an outcome is settled (`seasonOf`: days 1–7 of
 *   the year are week 0, …; the last one or two days of the year join week 51, so 52 weeks).
 * - For each week, over the version's training rows whose outcome was settled by the training
 *   labels' as-of date (a later one would be known only if it came early, on-time outcomes),
 *   the factor is (positives + PRIOR) / (Σ p + PRIOR): the observed-over-expected ratio of that
 *   week, shrunk towards 1 by PRIOR expected positives so that a week with few outcomes does
 *   not carry its noise into every later year. PRIOR is 20 (a ratio resting on 20 expected
 *   late loans has a relative error of about 1/√20 ≈ 22%, the size of the rule's band).
 * - Live, each labelled prediction expects p × factor(week settled) positives instead of p; the
 *   ratio, its Wilson interval and OUTCOME_RATIO_BOUNDS are otherwise unchanged, so the rule
 *   reads "outcomes are more frequent than this week of the year usually is".
 *
 * The factors are stored in the version's metadata (`outcomeSeasons`) by its trainer, from the
 * same rows as its drift references, and read by the live monitor; a version without them is
 * judged against 1 as before.
 */
import { dayToMs } from '../util/dates';

/** Weeks of the year a season is counted in. */
export const SEASON_WEEKS = 52;
/** Expected positives of shrinkage towards a factor of 1 (see the module comment). */
export const SEASON_PRIOR = 20;

/** What a version's metadata stores under `outcomeSeasons`. */
export interface OutcomeSeasons {
  /** How `factors` are indexed: the week of the year of the settled day (`seasonOf`). */
  unit: 'week_of_year';
  prior: number;
  /** Per week: (positives + prior) / (expected + prior); SEASON_WEEKS entries. */
  factors: number[];
  /** Per week: training rows, their positives and their Σ p (what the factors rest on). */
  rows: number[];
  positives: number[];
  expected: number[];
  /** The last settled day a row could have (the training labels' as-of date). */
  settledBy: string;
}

/** The week of the year of `day` (0 = 1–7 January; the year's last one or two days join week 51). */
export function seasonOf(day: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`a day must be YYYY-MM-DD, got "${day}"`);
  const ms = dayToMs(day);
  const yearStart = Date.UTC(new Date(ms).getUTCFullYear(), 0, 1);
  const dayOfYear = Math.round((ms - yearStart) / 86_400_000);
  return Math.min(SEASON_WEEKS - 1, Math.floor(dayOfYear / 7));
}

export interface SettledRow {
  /** The day the outcome was settled (for overdue, the day after the final due date). */
  settledOn: string;
  probability: number;
  label: 0 | 1;
}

/**
 * The per-week factors of `rows`, leaving out rows settled after `settledBy`. Throws on a
 * probability outside [0, 1] or a prior that is not positive: a factor must stay finite.
 */
export function calibrateOutcomeSeasons(rows: Iterable<SettledRow>, settledBy: string, prior = SEASON_PRIOR): OutcomeSeasons {
  if (!(prior > 0) || !Number.isFinite(prior)) throw new RangeError(`the seasons' prior must be a positive number, got ${prior}`);
  const counts = new Array<number>(SEASON_WEEKS).fill(0);
  const positives = new Array<number>(SEASON_WEEKS).fill(0);
  const expected = new Array<number>(SEASON_WEEKS).fill(0);
  for (const row of rows) {
    if (!(row.probability >= 0 && row.probability <= 1)) throw new RangeError(`a probability must lie in [0, 1], got ${row.probability}`);
    if (row.settledOn > settledBy) continue;
    const week = seasonOf(row.settledOn);
    counts[week] = (counts[week] ?? 0) + 1;
    positives[week] = (positives[week] ?? 0) + row.label;
    expected[week] = (expected[week] ?? 0) + row.probability;
  }
  const factors = positives.map((p, week) => (p + prior) / ((expected[week] ?? 0) + prior));
  return { unit: 'week_of_year', prior, factors, rows: counts, positives, expected, settledBy };
}

/**
 * The factor of the week `settledOn` falls in, or 1 when there are no seasons. Stored seasons
 * that are not the shape this module writes are an error, not a silent 1: the rule would
 * otherwise judge against the wrong expectation without saying so.
 */
export function seasonalFactor(seasons: OutcomeSeasons | null | undefined, settledOn: string): number {
  if (!seasons) return 1;
  const factor = seasons.factors[seasonOf(settledOn)];
  if (seasons.unit !== 'week_of_year' || seasons.factors.length !== SEASON_WEEKS || factor === undefined || !(factor > 0) || !Number.isFinite(factor)) {
    throw new Error(`outcome seasons must be ${SEASON_WEEKS} positive weekly factors, got ${JSON.stringify(seasons.factors?.slice(0, 3))}…`);
  }
  return factor;
}

/** Reads `outcomeSeasons` from a version's metadata: the seasons when they have this module's shape, otherwise null. */
export function outcomeSeasonsOf(raw: unknown): OutcomeSeasons | null {
  if (!raw || typeof raw !== 'object') return null;
  const seasons = raw as Partial<OutcomeSeasons>;
  const ok = seasons.unit === 'week_of_year' && Array.isArray(seasons.factors) && seasons.factors.length === SEASON_WEEKS && seasons.factors.every((f) => typeof f === 'number' && f > 0 && Number.isFinite(f));
  return ok ? (seasons as OutcomeSeasons) : null;
}
