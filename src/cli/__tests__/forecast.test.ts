import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { monthPeriod } from '../../ml/forecasting/periods';
import { syntheticDemand } from '../../ml/forecasting/synthetic';
import { parseMonthlyHistory } from '../../ml/forecasting/history';
import { DemandForecaster } from '../../ml/lstm';
import type { SeriesForecast } from '../../ml/lstm';
import { combineForecasts, FORECAST_COMBINATION, MIN_HISTORY_MONTHS, parseForecastArgs, runForecastCommand } from '../forecast';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shelfmark-forecast-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A history CSV of `months` months from 2016-01 for two branches and two item types. */
function historyCsv(months: number): string {
  const series = syntheticDemand({ series: 4, periods: months, seed: 2, meanLoans: [50, 500] });
  const lines = ['month,branch,type,issues'];
  const start = 2016 * 12;
  for (let t = 0; t < months; t++) {
    series.forEach((s, i) => lines.push(`${monthPeriod(start + t)},${i < 2 ? 'Bath' : 'Poole'},${i % 2 ? 'DVD' : 'Fiction'},${s.values[t]}`));
  }
  return `${lines.join('\n')}\n`;
}

async function run(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runForecastCommand(args, (s) => out.push(s), (s) => err.push(s));
  return { code, out, err };
}

const COLUMN_ARGS = ['--period-col', 'month', '--value-col', 'issues', '--series-cols', 'branch,type'];

describe('forecast command', () => {
  it('writes period, the series columns and forecast: one row per series and month ahead, from the ONNX model', async () => {
    const history = file('history.csv', historyCsv(24));
    const out = join(dir, 'forecast.csv');
    const modelOut = join(dir, 'model.onnx');
    const r = await run(['--history', history, ...COLUMN_ARGS, '--horizon', '4', '--out', out, '--epochs', '3', '--model-out', modelOut]);
    expect(r.code).toBe(0);
    const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('period,branch,type,forecast');
    expect(lines).toHaveLength(1 + 4 * 4);
    expect(lines.slice(1, 5).map((l) => l.split(',').slice(0, 3).join(','))).toEqual([
      '2018-01,Bath,Fiction',
      '2018-02,Bath,Fiction',
      '2018-03,Bath,Fiction',
      '2018-04,Bath,Fiction',
    ]);
    for (const line of lines.slice(1)) expect(Number(line.split(',')[3])).toBeGreaterThanOrEqual(0);
    const forecaster = await DemandForecaster.create(readFileSync(modelOut));
    expect(forecaster.description.seasonLength).toBe(12);
    expect(r.err.some((l) => l.includes('epoch 3/3'))).toBe(true);
  });

  it('writes the LSTM alone with --combine none, and by default its mean with seasonal naive', async () => {
    const history = file('combine.csv', historyCsv(24));
    const common = ['--history', history, ...COLUMN_ARGS, '--horizon', '3', '--epochs', '2'];
    const alone = join(dir, 'alone.csv');
    const combined = join(dir, 'combined.csv');
    expect((await run([...common, '--out', alone, '--combine', 'none'])).code).toBe(0);
    expect((await run([...common, '--out', combined])).code).toBe(0);
    const forecasts = (path: string): number[] => readFileSync(path, 'utf8').trimEnd().split('\n').slice(1).map((l) => Number(l.split(',')[3]));
    const parsed = parseMonthlyHistory(readFileSync(history, 'utf8'), { periodColumn: 'month', valueColumn: 'issues', seriesColumns: ['branch', 'type'] });
    // Rows are series by series, 3 months each; seasonal naive is the same months of 2017.
    const lastYear = parsed.series.flatMap((s) => s.values.slice(12, 15));
    forecasts(combined).forEach((v, i) => expect(v).toBeCloseTo((forecasts(alone)[i]! + lastYear[i]!) / 2, 1));
  });

  it('explains a missing column with the header it found', async () => {
    const history = file('renamed.csv', 'period,branch,type,issues\n2017-01,a,b,1\n');
    const r = await run(['--history', history, ...COLUMN_ARGS, '--horizon', '3', '--out', join(dir, 'x.csv')]);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([`forecast: ${history}:1: no column "month"; the header has: period, branch, type, issues`]);
  });

  it('explains a non-numeric value with its line', async () => {
    const history = file('letters.csv', `${historyCsv(20)}2017-09,Bath,Fiction,twelve\n`);
    const r = await run(['--history', history, ...COLUMN_ARGS, '--horizon', '3', '--out', join(dir, 'x.csv')]);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([`forecast: ${history}:82: value "twelve" in column "issues" is not a number`]);
  });

  it('explains a bad period with its line', async () => {
    const history = file('period.csv', 'month,branch,type,issues\n2017-01,a,b,1\n2017/02,a,b,3\n');
    const r = await run(['--history', history, ...COLUMN_ARGS, '--horizon', '3', '--out', join(dir, 'x.csv')]);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([`forecast: ${history}:3: period "2017/02" in column "month" is not a month as YYYY-MM`]);
  });

  it('says how much history it needs when there is too little', async () => {
    const history = file('short.csv', historyCsv(MIN_HISTORY_MONTHS - 1));
    const r = await run(['--history', history, ...COLUMN_ARGS, '--horizon', '3', '--out', join(dir, 'x.csv')]);
    expect(r.code).toBe(2);
    expect(r.err.at(-1)).toBe(
      `forecast: ${history}: only ${MIN_HISTORY_MONTHS - 1} month(s) of history (2016-01 to 2017-03); the demand model needs at least ${MIN_HISTORY_MONTHS}`,
    );
  });

  it('refuses missing and malformed flags with exit code 2', async () => {
    expect((await run(['--history', 'h.csv'])).err).toEqual(['forecast: missing --period-col (see --help)']);
    const bad = await run(['--history', 'h.csv', ...COLUMN_ARGS, '--horizon', 'soon', '--out', 'o.csv']);
    expect(bad).toMatchObject({ code: 2, err: ['forecast: --horizon must be a whole number from 1 to 120, got "soon"'] });
    expect((await run(['--history', join(dir, 'absent.csv'), ...COLUMN_ARGS, '--horizon', '2', '--out', 'o.csv'])).code).toBe(2);
    const combine = await run(['--history', 'h.csv', ...COLUMN_ARGS, '--horizon', '2', '--out', 'o.csv', '--combine', 'lstm']);
    expect(combine).toMatchObject({ code: 2, err: ['forecast: --combine must be seasonal-naive or none, got "lstm"'] });
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out[0]).toMatch(/^usage: npm run forecast/);
  });

  it('exits 2 from the built command with one line and no stack trace', () => {
    const built = resolve(__dirname, '../../../dist/src/cli/forecast.js');
    expect(existsSync(built)).toBe(true);
    const history = file('cli-bad.csv', 'month,branch,type,issues\n2017-01,a,b,1\n2017-02,a,b,n/a\n');
    const r = spawnSync(process.execPath, [built, '--history', history, ...COLUMN_ARGS, '--horizon', '3', '--out', join(dir, 'x.csv')], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`forecast: ${history}:3: value "n/a" in column "issues" is not a number\n`);
  });
});

describe('combineForecasts', () => {
  const history = parseMonthlyHistory(
    ['month,type,issues', ...Array.from({ length: 16 }, (_, t) => `${2016 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')},Fiction,${10 * (t + 1)}`), '2017-04,DVD,5'].join('\n'),
    { periodColumn: 'month', valueColumn: 'issues', seriesColumns: ['type'] },
  );
  const lstm: SeriesForecast[] = [
    { values: [0, 0], method: 'lstm' },
    { values: [5, 5], method: 'last-value' },
  ];

  it('averages the LSTM series with seasonal naive and leaves the fallbacks as they are', () => {
    // Fiction ends in 2017-04; seasonal naive for 2017-05 and 2017-06 is 2016-05 and 2016-06.
    expect(combineForecasts(history, lstm, 'seasonal-naive')).toEqual([
      { values: [25, 30], method: 'lstm' },
      { values: [5, 5], method: 'last-value' },
    ]);
    expect(combineForecasts(history, lstm, 'none')).toBe(lstm);
  });

  it('is what the command does unless told otherwise', () => {
    const args = parseForecastArgs(['--history', 'h.csv', ...COLUMN_ARGS, '--horizon', '2', '--out', 'o.csv']);
    expect(args !== 'help' && args.combine).toBe(FORECAST_COMBINATION);
    expect(FORECAST_COMBINATION).toBe('seasonal-naive');
  });
});
