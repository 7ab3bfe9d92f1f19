import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monthPeriod } from '../../ml/forecasting/periods';
import { syntheticDemand } from '../../ml/forecasting/synthetic';
import { evaluateForecast, formatEvaluation, formatValidation, validateInsideWindow } from '../forecast';

const dir = mkdtempSync(join(tmpdir(), 'shelfmark-evaluate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A file shaped like the LibrariesWest export: 30 months from 2016-07, one series appearing
 * only in 2018; `after2017` replaces every loan count after 2017-12.
 */
function librariesWestLike(after2017?: number): string {
  const series = syntheticDemand({ series: 6, periods: 30, seed: 4, growthPerSeason: [-0.2, 0.2] });
  const lines = ['month_issued,authority,item_type,issues,renewals'];
  const start = 2016 * 12 + 6;
  for (let t = 0; t < 30; t++) {
    const loans = (v: number): number => (t >= 18 && after2017 !== undefined ? after2017 : v);
    series.forEach((s, i) => lines.push(`${monthPeriod(start + t)},Authority ${i % 3},Type ${i},${loans(s.values[t]!)},0`));
    if (t >= 20) lines.push(`${monthPeriod(start + t)},Authority 0,New DVD,${t},0`);
  }
  return `${lines.join('\n')}\n`;
}

describe('evaluateForecast', () => {
  it('trains up to the cutoff, forecasts the next months and scores the LSTM against both baselines', async () => {
    const path = join(dir, 'issues.csv');
    writeFileSync(path, librariesWestLike());
    const e = await evaluateForecast(path, { cutoff: '2017-12', horizon: 12, training: { epochs: 3, hiddenSize: 8 } });
    expect(e.forecastMonths).toEqual(['2018-01', '2018-12']);
    expect(e.seriesScored).toBe(6);
    expect(e.seriesWithoutHistory).toBe(1);
    expect(e.methods).toEqual({ lstm: 6, 'seasonal-naive': 0, 'last-value': 0 });
    expect(e.strategy).toBe('recursive');
    expect(e.errorsByPeriod).toHaveLength(12);
    expect(e.ratioToSeasonalNaive.lstm).toBeCloseTo(e.errors.lstm / e.errors.seasonalNaive, 12);
    expect(e.ratioToSeasonalNaive.lstmWithSeasonalNaive).toBeCloseTo(e.errors.lstmWithSeasonalNaive / e.errors.seasonalNaive, 12);
    expect(e.errors.trendScaledSeasonalNaive).toBeGreaterThan(0);
    // An average's error is at most the average of the errors, and is not one of them.
    expect(e.errors.lstmWithSeasonalNaive).toBeLessThanOrEqual((e.errors.lstm + e.errors.seasonalNaive) / 2 + 1e-6);
    expect(e.errors.lstmWithSeasonalNaive).not.toBeCloseTo(e.errors.lstm, 3);
    expect(e.errors.seasonalNaiveWithTrendScaled).toBeLessThanOrEqual((e.errors.seasonalNaive + e.errors.trendScaledSeasonalNaive) / 2 + 1e-6);
    const byPeriod = e.errorsByPeriod.reduce((sum, p) => sum + p.lstmWithSeasonalNaive, 0);
    expect(byPeriod).toBeCloseTo(e.errors.lstmWithSeasonalNaive, 6);
    const text = formatEvaluation(e);
    expect(text).toMatch(/ratio to seasonal naive: LSTM \d+\.\d{3}, mean of LSTM and seasonal naive \d+\.\d{3}/);
    expect(text).toMatch(/months 7-12 ahead/);
    expect(text).toMatch(/the forecast command writes: the mean of LSTM and seasonal naive/);
  });

  it('validates from every origin with 16 months of history up to the cutoff, using no later month', async () => {
    const path = join(dir, 'issues-validation.csv');
    writeFileSync(path, librariesWestLike());
    const options = { cutoff: '2017-12', training: { epochs: 2, hiddenSize: 4 } };
    const v = await validateInsideWindow(path, options);
    expect(v.origins.map((o) => [o.origin, o.horizon])).toEqual([
      ['2017-10', 2],
      ['2017-11', 1],
    ]);
    expect(v.errors.lstm).toBeCloseTo(v.origins[0]!.errors.lstm + v.origins[1]!.errors.lstm, 6);
    expect(v.ratioToSeasonalNaive.lstmWithSeasonalNaive).toBeCloseTo(v.errors.lstmWithSeasonalNaive / v.errors.seasonalNaive, 12);
    const changedTestYear = join(dir, 'issues-validation-2018.csv');
    writeFileSync(changedTestYear, librariesWestLike(1_000_000));
    expect((await validateInsideWindow(changedTestYear, options)).errors).toEqual(v.errors);
    expect(formatValidation(v)).toMatch(/origin 2017-10, 2 month\(s\) ahead: LSTM \d+\.\d{3}/);
  });

  it('refuses a validation with no origin that has the history the LSTM needs', async () => {
    const path = join(dir, 'issues-short.csv');
    writeFileSync(path, librariesWestLike());
    await expect(validateInsideWindow(path, { cutoff: '2017-10' })).rejects.toThrow('has no origin before 2017-10 with the 16 months of history');
  });

  it('refuses a cutoff without actuals for the whole horizon', async () => {
    const path = join(dir, 'issues-late.csv');
    writeFileSync(path, librariesWestLike());
    await expect(evaluateForecast(path, { cutoff: '2018-06', horizon: 12 })).rejects.toThrow('no actuals for 12 months after 2018-06');
  });
});
