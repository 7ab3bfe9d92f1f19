import { describe, expect, it } from '@jest/globals';
import { seasonalNaive, trendScaledSeasonalNaive, yearOverYearRatio } from '../baselines';
import { DEMAND_FEATURE_COUNT, DEMAND_FEATURE_NAMES, demandFeatures, demandTargets, firstCompleteRow, forecastAnchors, logLoans } from '../features';
import { ratioToSeasonalNaive, summedAbsoluteError } from '../metrics';
import { monthIndex, monthPeriod, monthPhase } from '../periods';
import { syntheticDemand } from '../synthetic';

describe('periods', () => {
  it('reads YYYY-MM months and writes them back', () => {
    const i = monthIndex('2017-12')!;
    expect(monthPeriod(i + 1)).toBe('2018-01');
    expect(monthPhase(i)).toBe(11);
    expect(monthIndex('2017-13')).toBeNull();
    expect(monthIndex('2017-1')).toBeNull();
    expect(monthIndex('Dec 2017')).toBeNull();
  });
});

describe('baselines', () => {
  const twoYears = Array.from({ length: 24 }, (_, t) => (t < 12 ? 100 + t : 200 + (t - 12)));

  it('seasonal naive repeats the last season, and the last value under one season', () => {
    expect(seasonalNaive(twoYears, 12, 14)).toEqual([...twoYears.slice(12), 200, 201]);
    expect(seasonalNaive([3, 5], 12, 2)).toEqual([5, 5]);
  });

  it('trend-scaled seasonal naive multiplies by the smoothed year-over-year ratio', () => {
    const ratio = (twoYears.slice(12).reduce((a, b) => a + b, 0) + 1) / (twoYears.slice(0, 12).reduce((a, b) => a + b, 0) + 1);
    expect(yearOverYearRatio(twoYears, 12)).toBeCloseTo(ratio, 12);
    expect(trendScaledSeasonalNaive(twoYears, 12, 1)[0]).toBeCloseTo(200 * ratio, 9);
    expect(yearOverYearRatio(twoYears.slice(0, 12), 12)).toBe(1);
  });
});

describe('metrics', () => {
  it('sums absolute errors over series and periods and compares with seasonal naive', () => {
    expect(summedAbsoluteError([[1, 2], [10]], [[2, 0], [7]])).toBe(6);
    expect(ratioToSeasonalNaive(3, 6)).toBe(0.5);
    expect(() => summedAbsoluteError([[1, 2]], [[1]])).toThrow('series 0: expected 2 forecast periods, got 1');
  });
});

describe('demand features', () => {
  const values = Array.from({ length: 20 }, (_, t) => 50 + 10 * Math.sin(t) + t);
  const logs = logLoans(values);

  it('describe the next period: season position, same period last year, year-over-year change and trend', () => {
    const rows = demandFeatures(logs, 3, 12, 4);
    const F = DEMAND_FEATURE_COUNT;
    const at = (t: number, name: (typeof DEMAND_FEATURE_NAMES)[number]): number => rows[t * F + DEMAND_FEATURE_NAMES.indexOf(name)]!;
    // Row 14 describes period 15, whose season position is (3 + 15) % 12 = 6.
    expect(at(14, 'season_sin')).toBeCloseTo(Math.sin((2 * Math.PI * 6) / 12), 12);
    expect(at(14, 'last_year')).toBeCloseTo(logs[3]! - 4, 12);
    expect(at(14, 'year_over_year')).toBeCloseTo(logs[14]! - logs[2]!, 12);
    expect(at(14, 'trend')).toBeCloseTo(Math.log(yearOverYearRatio(values.slice(0, 15), 12)), 9);
    expect(at(14, 'level')).toBeCloseTo(logs[14]! - 4, 12);
    expect(firstCompleteRow(12)).toBe(12);
  });

  it('zero the season-bearing inputs when the model is trained without them', () => {
    const rows = demandFeatures(logs, 3, 12, 4, false);
    for (const name of ['level', 'season_sin', 'season_cos', 'last_year'] as const) {
      expect(rows[14 * DEMAND_FEATURE_COUNT + DEMAND_FEATURE_NAMES.indexOf(name)]).toBe(0);
    }
  });

  it('target the log ratio to the anchor, which is seasonal naive (optionally trend-scaled)', () => {
    const rows = demandFeatures(logs, 0, 12, 0);
    const seasonal = demandTargets(logs, rows, 12, 2, 'seasonal');
    expect(seasonal[14 * 2]).toBeCloseTo(logs[15]! - logs[3]!, 12);
    expect(seasonal[14 * 2 + 1]).toBeCloseTo(logs[16]! - logs[4]!, 12);
    expect(seasonal[19 * 2]).toBeNaN();
    expect(seasonal[5 * 2]).toBeNaN();
    const trend = demandTargets(logs, rows, 12, 1, 'trend-seasonal');
    expect(trend[14]).toBeCloseTo(logs[15]! - logs[3]! - rows[14 * DEMAND_FEATURE_COUNT + DEMAND_FEATURE_NAMES.indexOf('trend')]!, 12);
    expect(forecastAnchors(logs, rows, 12, 13, 'seasonal')).toEqual([...logs.slice(8, 20), logs[8]]);
  });
});

describe('synthetic demand', () => {
  it('is deterministic and peaks in summer', () => {
    const a = syntheticDemand({ series: 2, periods: 36, seed: 3, meanLoans: [1000, 1000], growthPerSeason: [0, 0] });
    expect(syntheticDemand({ series: 2, periods: 36, seed: 3, meanLoans: [1000, 1000], growthPerSeason: [0, 0] })).toEqual(a);
    const s = a[0]!;
    const byPhase = (p: number): number => Array.from(s.values).filter((_, t) => (s.firstPhase + t) % 12 === p).reduce((x, y) => x + y, 0);
    expect(byPhase(7)).toBeGreaterThan(byPhase(1) * 1.3);
    expect(byPhase(11)).toBeLessThan(byPhase(10));
  });
});
