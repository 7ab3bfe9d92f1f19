import { describe, expect, it } from '@jest/globals';
import { monthPeriod } from '../../ml/forecasting/periods';
import { syntheticDemand } from '../../ml/forecasting/synthetic';
import { DEMAND_METHODS } from '../demand-baselines';
import { backtestDemandHistory, type HistoryBacktestOptions } from '../demand-history';

const FIRST_MONTH = 2016 * 12 + 6; // 2016-07

/** A small file in the LibrariesWest layout: 3 authorities × 2 item types, 30 months, plus one type first seen in the test year. */
function historyFile(changeTestYear = false): string {
  const series = syntheticDemand({ series: 6, periods: 30, seed: 4, meanLoans: [50, 500] });
  const lines = ['month_issued,authority,item_type,issues'];
  series.forEach((s, i) => {
    Array.from(s.values).forEach((v, t) => {
      const month = FIRST_MONTH + t;
      const value = changeTestYear && month >= 2018 * 12 ? v * 3 : v;
      lines.push(`${monthPeriod(month)},Authority ${i % 3},Type ${Math.floor(i / 3)},${value}`);
    });
  });
  lines.push('2018-03,Authority 0,Type 9,40');
  return lines.join('\n');
}

const options: HistoryBacktestOptions = {
  columns: { periodColumn: 'month_issued', valueColumn: 'issues', seriesColumns: ['authority', 'item_type'] },
  testStart: '2018-01',
  selection: { folds: 2, validationLength: 3, minTrainLength: 12 },
  levels: [
    { name: 'authority × item type', keep: ['authority', 'item_type'] },
    { name: 'authority', keep: ['authority'] },
  ],
};

describe('backtestDemandHistory', () => {
  it('chooses a method per level before the test year and scores every method on it', () => {
    const result = backtestDemandHistory(historyFile(), options);
    expect(result).toMatchObject({ testStart: '2018-01', testEnd: '2018-12', criterion: 'summedAbsoluteError' });
    const [collections, authorities] = result.levels;
    expect(collections).toMatchObject({ level: 'authority × item type', seriesScored: 6, seriesLeftOut: 1 });
    expect(authorities).toMatchObject({ level: 'authority', seriesScored: 3, seriesLeftOut: 0 });
    for (const level of result.levels) {
      expect(DEMAND_METHODS).toContain(level.chosen);
      expect(level.test.seasonalNaive.ratioToSeasonalNaive).toBe(1);
      expect(level.validation.map((v) => v.method)).toEqual([...DEMAND_METHODS]);
      expect(level.validation.every((v) => v.folds === 2)).toBe(true);
      const best = Math.min(...level.validation.map((v) => v.mean));
      expect(level.validation.find((v) => v.method === level.chosen)!.mean).toBe(best);
    }
    // Seasonal naive is linear, so summing series can only cancel errors (the triangle
    // inequality); the authority level also counts the 40 loans of the type first seen in 2018.
    expect(authorities!.test.seasonalNaive.summedAbsoluteError).toBeLessThanOrEqual(collections!.test.seasonalNaive.summedAbsoluteError + 40);
  });

  it('chooses without looking at the test year', () => {
    const plain = backtestDemandHistory(historyFile(), options);
    const changed = backtestDemandHistory(historyFile(true), options);
    plain.levels.forEach((level, i) => {
      expect(changed.levels[i]!.validation).toEqual(level.validation);
      expect(changed.levels[i]!.chosen).toBe(level.chosen);
      expect(changed.levels[i]!.test.seasonalNaive.summedAbsoluteError).not.toBe(level.test.seasonalNaive.summedAbsoluteError);
    });
  });

  it('says what is wrong with a window the file cannot hold', () => {
    expect(() => backtestDemandHistory(historyFile(), { ...options, testStart: '2018-06' })).toThrow(
      'the file ends in 2018-12, before the test window ends (2019-05)',
    );
    expect(() => backtestDemandHistory(historyFile(), { ...options, testStart: '2016-07' })).toThrow('leaving no history before 2016-07');
    expect(() => backtestDemandHistory(historyFile(), { ...options, testStart: 'next year' })).toThrow('testStart must be a month as YYYY-MM');
    expect(() => backtestDemandHistory(historyFile(), { ...options, levels: [{ name: 'branch', keep: ['branch'] }] })).toThrow(
      'level "branch" keeps column "branch", which is not one of the series columns (authority, item_type)',
    );
  });
});
