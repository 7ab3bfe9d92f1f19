import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monthPeriod } from '../../ml/forecasting/periods';
import { syntheticDemand } from '../../ml/forecasting/synthetic';
import { evaluateForecast, formatEvaluation } from '../evaluate-forecast';

const dir = mkdtempSync(join(tmpdir(), 'shelfmark-evaluate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file shaped like the LibrariesWest export: 30 months from 2016-07, one series appearing only in 2018. */
function librariesWestLike(): string {
  const series = syntheticDemand({ series: 6, periods: 30, seed: 4, growthPerSeason: [-0.2, 0.2] });
  const lines = ['month_issued,authority,item_type,issues,renewals'];
  const start = 2016 * 12 + 6;
  for (let t = 0; t < 30; t++) {
    series.forEach((s, i) => lines.push(`${monthPeriod(start + t)},Authority ${i % 3},Type ${i},${s.values[t]},0`));
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
    expect(e.errors.trendScaledSeasonalNaive).toBeGreaterThan(0);
    const text = formatEvaluation(e);
    expect(text).toMatch(/ratio to seasonal naive: LSTM \d+\.\d{3}/);
    expect(text).toMatch(/months 7-12 ahead/);
  });

  it('refuses a cutoff without actuals for the whole horizon', async () => {
    const path = join(dir, 'issues-late.csv');
    writeFileSync(path, librariesWestLike());
    await expect(evaluateForecast(path, { cutoff: '2018-06', horizon: 12 })).rejects.toThrow('no actuals for 12 months after 2018-06');
  });
});
