/**
 * `npm run forecast -- --history CSV --period-col C --value-col C --series-cols A,B --horizon N --out CSV`
 *
 * Trains the demand model on the whole monthly history, exports it to ONNX, forecasts the
 * next N months of every series through onnxruntime, averages that with seasonal naive
 * (see FORECAST_COMBINATION) and writes `period,<series cols>,forecast`.
 * Bad input exits with code 2 and one line naming the file and line; progress goes to stderr.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { HistoryInputError, parseMonthlyHistory } from '../ml/forecasting/history';
import type { HistoryColumns, MonthlyHistory } from '../ml/forecasting/history';
import { monthPeriod } from '../ml/forecasting/periods';
import { csvLine } from '../util/csv';
import { FORECAST_COMBINATION, forecastMonthlyHistory, MIN_HISTORY_MONTHS, type ForecastCombination } from '../ml/forecasting/monthly';
import type { SeriesForecast } from '../ml/lstm';

import { readFlags, UsageError } from './flags';

export { UsageError };
export { combineForecasts, FORECAST_COMBINATION, MIN_HISTORY_MONTHS } from '../ml/forecasting/monthly';

export const FORECAST_USAGE = `usage: npm run forecast -- --history CSV --period-col C --value-col C [--series-cols A,B] --horizon N --out CSV
                          [--seed N] [--epochs N] [--combine seasonal-naive|none] [--model-out PATH]

Trains the LSTM demand model on monthly history (one row per month and series, months as
YYYY-MM, a month missing for a series counts as 0), exports it to ONNX, forecasts the
--horizon months after the file's last month through onnxruntime, averages that with
seasonal naive (the same month last year) and writes period,<series cols>,forecast.
The file must span at least ${MIN_HISTORY_MONTHS} months.
Series with less than ${MIN_HISTORY_MONTHS - 1} months of history are forecast by seasonal naive
(the same month last year), or by their last month when they have under 12.

  --history CSV      monthly history with a header row
  --period-col C     column holding the month (YYYY-MM)
  --value-col C      column holding loans (non-negative numbers)
  --series-cols A,B  columns identifying a series (omit for a single series)
  --horizon N        months to forecast (1 to 120)
  --out CSV          where to write the forecast
  --seed N           training seed (default 1): same seed, same forecast
  --epochs N         training epochs (default: 150, fewer on long histories)
  --combine C        seasonal-naive (default): the mean of the LSTM's forecast and seasonal
                     naive's; none: the LSTM's forecast alone
  --model-out PATH   also save the trained model.onnx there (the LSTM alone)
  --help             this text`;

/** A problem with what the user gave us: exit code 2, one line, no stack trace. */

export interface ForecastArgs extends HistoryColumns {
  history: string;
  horizon: number;
  out: string;
  seed: number;
  epochs?: number;
  combine: ForecastCombination;
  modelOut?: string;
}

export function parseForecastArgs(argv: string[]): ForecastArgs | 'help' {
  const { flags, help } = readFlags(
    argv,
    { history: 'string', 'period-col': 'string', 'value-col': 'string', 'series-cols': 'string', horizon: 'string', out: 'string', seed: 'string', epochs: 'string', combine: 'string', 'model-out': 'string' },
    { positionals: false },
  );
  if (help) return 'help';
  const values = new Map(Object.entries(flags).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const required = (name: string): string => {
    const v = values.get(name);
    if (v === undefined || v === '') throw new UsageError(`missing --${name} (see --help)`);
    return v;
  };
  const integer = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${text}"`);
    return n;
  };
  const args: ForecastArgs = {
    history: required('history'),
    periodColumn: required('period-col'),
    valueColumn: required('value-col'),
    seriesColumns: (values.get('series-cols') ?? '').split(',').map((c) => c.trim()).filter((c) => c !== ''),
    horizon: integer('horizon', required('horizon'), 1, 120),
    out: required('out'),
    seed: integer('seed', values.get('seed') ?? '1', 0, 2 ** 32 - 1),
    combine: combination(values.get('combine') ?? FORECAST_COMBINATION),
  };
  const epochs = values.get('epochs');
  if (epochs !== undefined) args.epochs = integer('epochs', epochs, 1, 100_000);
  const modelOut = values.get('model-out');
  if (modelOut !== undefined) args.modelOut = modelOut;
  return args;
}

function combination(text: string): ForecastCombination {
  if (text === 'seasonal-naive' || text === 'none') return text;
  throw new UsageError(`--combine must be seasonal-naive or none, got "${text}"`);
}

/** The output file: one row per series and month ahead, series in order of first appearance. */
export function forecastCsv(history: MonthlyHistory, columns: HistoryColumns, forecasts: SeriesForecast[]): string {
  const lines = [csvLine(['period', ...columns.seriesColumns, 'forecast'])];
  history.series.forEach((s, i) => {
    forecasts[i]!.values.forEach((v, h) => {
      lines.push(csvLine([monthPeriod(history.lastMonth + 1 + h), ...s.key, (Math.round(v * 100) / 100).toString()]));
    });
  });
  return `${lines.join('\n')}\n`;
}

/** Runs the command; returns the process exit code. */
export async function runForecastCommand(argv: string[], stdout: (s: string) => void, stderr: (s: string) => void): Promise<number> {
  let args: ForecastArgs | 'help';
  try {
    args = parseForecastArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      stderr(`forecast: ${err.message}`);
      return 2;
    }
    throw err;
  }
  if (args === 'help') {
    stdout(FORECAST_USAGE);
    return 0;
  }
  if (!existsSync(args.history)) {
    stderr(`forecast: ${args.history}: no such file`);
    return 2;
  }
  try {
    const history = parseMonthlyHistory(readFileSync(args.history, 'utf8'), args);
    stderr(`forecast: ${history.rows} rows, ${history.series.length} series, ${monthPeriod(history.firstMonth)} to ${monthPeriod(history.lastMonth)}`);
    const run = await forecastMonthlyHistory(history, {
      horizon: args.horizon,
      seed: args.seed,
      training: args.epochs === undefined ? {} : { epochs: args.epochs },
      combine: args.combine,
      log: (line) => stderr(`forecast: ${line}`),
    });
    const fallback = run.forecasts.filter((f) => f.method !== 'lstm').length;
    if (fallback > 0) {
      stderr(`forecast: ${fallback} series with under ${MIN_HISTORY_MONTHS - 1} months of history forecast by seasonal naive or last value`);
    }
    if (args.modelOut) writeFileSync(args.modelOut, run.modelOnnx);
    writeFileSync(args.out, forecastCsv(history, args, run.forecasts));
    stderr(`forecast: trained in ${run.trainingSeconds.toFixed(1)} s; wrote ${history.series.length * args.horizon} rows to ${args.out}`);
    return 0;
  } catch (err) {
    if (err instanceof HistoryInputError) {
      stderr(`forecast: ${args.history}${err.line === undefined ? '' : `:${err.line}`}: ${err.message}`);
      return 2;
    }
    throw err;
  }
}

if (require.main === module) {
  runForecastCommand(process.argv.slice(2), (s) => process.stdout.write(`${s}\n`), (s) => process.stderr.write(`${s}\n`)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`forecast: unexpected failure: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
