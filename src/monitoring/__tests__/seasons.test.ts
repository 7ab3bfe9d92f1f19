import { describe, expect, it } from '@jest/globals';
import { addDays } from '../../util/dates';
import { Random } from '../../util/random';
import { OUTCOME_RATIO_BOUNDS, OutcomeRatioWindows } from '../quality';
import { calibrateOutcomeSeasons, outcomeSeasonsOf, SEASON_PRIOR, SEASON_WEEKS, seasonalFactor, seasonOf, type SettledRow } from '../seasons';

/** Loans due over Christmas come back late this many times as often as the model says, as on the simulated library. */
const CHRISTMAS = 1.6;

/** Settled outcomes of overdue-like loans (p ≈ 0.09), `perDay` a day from `from` to `to`; those settled 24–31 December are late CHRISTMAS× as often. */
function settledRows(random: Random, from: string, to: string, perDay: number, factor: (day: string) => number = (day) => (day.slice(5) >= '12-24' ? CHRISTMAS : 1)): SettledRow[] {
  const rows: SettledRow[] = [];
  for (let day = from; day <= to; day = addDays(day, 1)) {
    for (let i = 0; i < perDay; i++) {
      const probability = random.beta(1, 10);
      rows.push({ settledOn: day, probability, label: random.bernoulli(Math.min(1, probability * factor(day))) ? 1 : 0 });
    }
  }
  return rows;
}

describe('seasonOf', () => {
  it('numbers the weeks of the year from 1 January, the last one or two days joining week 51', () => {
    expect(seasonOf('2025-01-01')).toBe(0);
    expect(seasonOf('2025-01-07')).toBe(0);
    expect(seasonOf('2025-01-08')).toBe(1);
    expect(seasonOf('2025-12-23')).toBe(50);
    expect(seasonOf('2025-12-24')).toBe(51);
    expect(seasonOf('2025-12-31')).toBe(51);
    // 2024 is a leap year: 23 December is its 358th day.
    expect(seasonOf('2024-12-23')).toBe(51);
    expect(seasonOf('2024-12-31')).toBe(51);
    expect(() => seasonOf('24 Dec')).toThrow('a day must be YYYY-MM-DD, got "24 Dec"');
  });
});

describe('calibrateOutcomeSeasons', () => {
  const random = new Random(3);
  // Two training years, 150 settled loans a day (about 95 expected late a week).
  const training = settledRows(random, '2022-07-01', '2024-06-30', 150);
  const seasons = calibrateOutcomeSeasons(training, '2024-06-30');

  it('finds the Christmas week above 1, shrunk towards 1 by the prior, and the ordinary weeks near 1', () => {
    expect(seasons.factors).toHaveLength(SEASON_WEEKS);
    const christmas = seasons.factors[51] ?? NaN;
    const raw = (seasons.positives[51] ?? 0) / (seasons.expected[51] ?? 1);
    expect(christmas).toBeCloseTo(((seasons.positives[51] ?? 0) + SEASON_PRIOR) / ((seasons.expected[51] ?? 0) + SEASON_PRIOR), 12);
    expect(christmas).toBeGreaterThan(1.4);
    expect(christmas).toBeLessThan(raw);
    const ordinary = seasons.factors.filter((_, week) => week !== 51);
    expect(Math.max(...ordinary)).toBeLessThan(1.25);
    expect(Math.min(...ordinary)).toBeGreaterThan(0.8);
    expect(seasons.rows.reduce((a, b) => a + b, 0)).toBe(training.length);
  });

  it('leaves out outcomes settled after the labels were read, and refuses what would make a factor meaningless', () => {
    const late: SettledRow[] = [{ settledOn: '2024-07-01', probability: 0.5, label: 1 }];
    const withLater = calibrateOutcomeSeasons([...training, ...late], '2024-06-30');
    expect(withLater.factors).toEqual(seasons.factors);
    expect(() => calibrateOutcomeSeasons([{ settledOn: '2024-01-01', probability: 1.2, label: 1 }], '2024-06-30')).toThrow('a probability must lie in [0, 1], got 1.2');
    expect(() => calibrateOutcomeSeasons(training, '2024-06-30', 0)).toThrow("the seasons' prior must be a positive number, got 0");
    // A week no training row fell in has the factor 1.
    expect(calibrateOutcomeSeasons([], '2024-06-30').factors.every((f) => f === 1)).toBe(true);
  });

  it('reads stored seasons back, and refuses a shape it did not write', () => {
    const stored = JSON.parse(JSON.stringify(seasons)) as unknown;
    expect(outcomeSeasonsOf(stored)).toEqual(seasons);
    expect(outcomeSeasonsOf({ unit: 'month', factors: seasons.factors })).toBeNull();
    expect(outcomeSeasonsOf({ unit: 'week_of_year', factors: [1, 2] })).toBeNull();
    expect(outcomeSeasonsOf(undefined)).toBeNull();
    expect(seasonalFactor(null, '2025-12-25')).toBe(1);
    expect(seasonalFactor(seasons, '2025-12-25')).toBe(seasons.factors[51]);
    expect(() => seasonalFactor({ ...seasons, factors: [1] }, '2025-12-25')).toThrow('outcome seasons must be 52 positive weekly factors');
  });

  it('keeps ModelOutcomeRateShift quiet over an unshifted Christmas that fires it against 1, and still fires on a real shift at Christmas', () => {
    const live = new Random(17);
    const christmasWeek = settledRows(live, '2024-12-25', '2024-12-31', 200);
    const asOf = '2024-12-31';
    const against1 = new OutcomeRatioWindows();
    const seasonal = new OutcomeRatioWindows(seasons);
    for (const row of christmasWeek) {
      against1.add(row.settledOn, row);
      seasonal.add(row.settledOn, row);
    }
    expect(against1.quality(asOf, 'week').outcomeRatio.low).toBeGreaterThan(OUTCOME_RATIO_BOUNDS.above);
    const quiet = seasonal.quality(asOf, 'week').outcomeRatio;
    expect(quiet.low).toBeLessThanOrEqual(OUTCOME_RATIO_BOUNDS.above);
    expect(quiet.high).toBeGreaterThanOrEqual(OUTCOME_RATIO_BOUNDS.below);

    // The same week with every loan twice as likely to come back late as Christmas makes it.
    const shifted = new OutcomeRatioWindows(seasons);
    for (const row of settledRows(live, '2024-12-25', '2024-12-31', 200, () => 2 * CHRISTMAS)) shifted.add(row.settledOn, row);
    expect(shifted.quality(asOf, 'week').outcomeRatio.low).toBeGreaterThan(OUTCOME_RATIO_BOUNDS.above);
  });
});
