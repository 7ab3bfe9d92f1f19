import { describe, expect, it } from '@jest/globals';
import { syntheticDemand } from '../../ml/forecasting/synthetic';
import type { DemandSeries } from '../../ml/forecasting/series';
import { Random } from '../../util/random';
import {
  chooseDemandMethod,
  demandScores,
  forecastDemand,
  forecastsFromOrigin,
  pooledSeasonalIndices,
  scaledErrors,
  type DemandMethod,
} from '../demand-baselines';

/** Book-weeks: a loan in about one week in ten, 1-3 loans when there is one, no season. */
function intermittentBooks(count: number, weeks: number, seed: number): DemandSeries[] {
  const random = new Random(seed);
  return Array.from({ length: count }, () => ({
    values: Array.from({ length: weeks }, () => (random.bernoulli(0.1) ? 1 + random.int(3) : 0)),
    firstPhase: random.int(52),
  }));
}

/** A steady linear trend with a little noise and no season. */
function trendingSeries(count: number, months: number, seed: number): DemandSeries[] {
  const random = new Random(seed);
  return Array.from({ length: count }, () => {
    const slope = 2 + 3 * random.next();
    return { values: Array.from({ length: months }, (_, t) => Math.max(0, 50 + slope * t + random.normal(0, 3))), firstPhase: 0 };
  });
}

function testError(series: DemandSeries[], method: DemandMethod, seasonLength: number, horizon: number, criterion: 'summedAbsoluteError' | 'rmsse' = 'summedAbsoluteError'): number {
  const length = series[0]!.values.length;
  const cases = forecastsFromOrigin(series, method, { origin: length - horizon, from: length - horizon, to: length }, seasonLength);
  return demandScores(cases, seasonLength)[criterion];
}

describe('forecastDemand', () => {
  it('repeats last season, or its mean, or that mean times the season', () => {
    const series = { values: [1, 2, 3, 4, 2, 4, 6, 8], firstPhase: 0 };
    expect(forecastDemand('seasonalNaive', series, { seasonLength: 4, horizon: 5 })).toEqual([2, 4, 6, 8, 2]);
    expect(forecastDemand('seasonalMean', series, { seasonLength: 4, horizon: 2 })).toEqual([5, 5]);
    const indices = [0.5, 1, 1, 1.5];
    const withSeason = forecastDemand('seasonalMeanTimesSeason', series, { seasonLength: 4, horizon: 4, seasonalIndices: indices });
    const level = (2 / 0.5 + 4 + 6 + 8 / 1.5) / 4;
    expect(withSeason.map((v) => Number(v.toFixed(9)))).toEqual(indices.map((i) => Number((level * i).toFixed(9))));
  });

  it('gives Croston and TSB forecasts that average the mean rate of intermittent series', () => {
    const books = intermittentBooks(300, 260, 3);
    // Each week: a loan with probability 0.1, of 1-3 books: 0.2 loans a week.
    for (const method of ['croston', 'tsb'] as const) {
      const forecasts = books.map((book) => forecastDemand(method, book, { seasonLength: 52, horizon: 1 })[0]!);
      expect(forecasts.reduce((a, b) => a + b, 0) / forecasts.length).toBeCloseTo(0.2, 1);
    }
    expect(forecastDemand('croston', { values: [0, 0, 0], firstPhase: 0 }, { seasonLength: 52, horizon: 2 })).toEqual([0, 0]);
  });

  it('rejects an empty history and bad settings', () => {
    expect(() => forecastDemand('seasonalMean', { values: [], firstPhase: 0 }, { seasonLength: 12, horizon: 1 })).toThrow('at least one period of history');
    expect(() => forecastDemand('seasonalMean', { values: [1], firstPhase: 0 }, { seasonLength: 12, horizon: 0 })).toThrow('horizon must be a positive integer, got 0');
    expect(() => forecastDemand('seasonalMean', { values: [1], firstPhase: 0 }, { seasonLength: 2, horizon: 1, seasonalIndices: [1] })).toThrow(
      'expected 2 seasonal indices, got 1',
    );
  });
});

describe('methods on series where the answer is known', () => {
  it('Croston and TSB beat seasonal naive on intermittent book-weeks, by squared error', () => {
    // By absolute error a forecast of 0 is hard to beat on such series (its median is 0), so
    // intermittent methods are judged by RMSSE, the scale of the M5 competition.
    const books = intermittentBooks(200, 156, 5);
    const naive = testError(books, 'seasonalNaive', 52, 52, 'rmsse');
    expect(testError(books, 'croston', 52, 52, 'rmsse')).toBeLessThan(0.8 * naive);
    expect(testError(books, 'tsb', 52, 52, 'rmsse')).toBeLessThan(0.8 * naive);
  });

  it('Theta follows a trend that SES and the seasonal mean lag behind', () => {
    const series = trendingSeries(30, 48, 6);
    const theta = testError(series, 'thetaDeseasonalised', 12, 12);
    // Theta extrapolates half the fitted slope (its drift is b/2), so it removes about half of SES's lag.
    expect(theta).toBeLessThan(0.85 * testError(series, 'sesDeseasonalised', 12, 12));
    expect(theta).toBeLessThan(0.7 * testError(series, 'seasonalMean', 12, 12));
  });

  it('mean times season beats seasonal naive on a noisy seasonal series without trend', () => {
    const series = syntheticDemand({ series: 40, periods: 60, seed: 7, meanLoans: [5, 50], growthPerSeason: [0, 0] });
    expect(testError(series, 'seasonalMeanTimesSeason', 12, 12)).toBeLessThan(0.85 * testError(series, 'seasonalNaive', 12, 12));
  });
});

describe('pooledSeasonalIndices', () => {
  it('recovers the season of the summed series, averaging 1', () => {
    const series = [
      { values: [10, 20, 30, 10, 20, 30], firstPhase: 0 },
      { values: [200, 300, 100], firstPhase: 1 },
    ];
    const indices = pooledSeasonalIndices(series, 3);
    expect(indices.reduce((a, b) => a + b, 0) / 3).toBeCloseTo(1, 12);
    expect(indices.map((v) => Number(v.toFixed(6)))).toEqual([0.5, 1, 1.5]);
  });
});

describe('scaled errors', () => {
  it('scales by the history\'s seasonal differences, or by lag 1 when the history is short', () => {
    // Seasonal differences of the history (lag 2): |3-1|, |4-2| = 2 on average; squared 4.
    expect(scaledErrors([1, 2, 3, 4], [5, 6], [4, 8], 2)).toEqual({ mase: 1.5 / 2, rmsse: Math.sqrt(2.5 / 4) });
    // Lag 1 on a history of one season: differences 1, 1.
    expect(scaledErrors([1, 2, 3], [4], [4], 3).mase).toBe(0);
    expect(scaledErrors([5, 5, 5], [5], [6], 1).mase).toBeNaN();
  });

  it('sums errors and bias over series, leaving flat histories out of the scaled means', () => {
    const scores = demandScores(
      [
        { history: [1, 2, 3, 4], actual: [5, 6], forecast: [4, 8] },
        { history: [5, 5, 5], actual: [5], forecast: [6] },
      ],
      2,
    );
    // RMSE over every series-period, flat histories included: errors 1, -2, -1.
    expect(scores).toEqual({ summedAbsoluteError: 4, rmse: Math.sqrt(6 / 3), mase: 0.75, rmsse: Math.sqrt(2.5 / 4), bias: 2 / 16, series: 2, seriesWithoutScale: 1 });
  });
});

describe('chooseDemandMethod', () => {
  it('chooses an intermittent method for book-weeks and a trend method for trending collections', () => {
    const books = chooseDemandMethod(intermittentBooks(150, 156, 8), {
      seasonLength: 52,
      folds: 2,
      validationLength: 26,
      minTrainLength: 52,
      methods: ['seasonalNaive', 'croston', 'tsb'],
      criterion: 'rmsse',
    });
    expect(['croston', 'tsb']).toContain(books.best);
    expect(books.table).toHaveLength(3);
    const trends = chooseDemandMethod(trendingSeries(20, 48, 9), { seasonLength: 12, folds: 3, validationLength: 6, minTrainLength: 12 });
    expect(trends.best).toBe('thetaDeseasonalised');
    expect(trends.table.every((row) => row.scores.length === 3)).toBe(true);
  });

  it('never lets a fold see its validation periods', () => {
    // A series that jumps only in the last six periods: every fold must forecast the jump blind.
    const series = [{ values: [...new Array<number>(30).fill(10), ...new Array<number>(6).fill(1000)], firstPhase: 0 }];
    const selection = chooseDemandMethod(series, { seasonLength: 12, folds: 1, validationLength: 6, methods: ['seasonalMean'] });
    expect(selection.table[0]!.mean).toBe(6 * 990);
  });
});
