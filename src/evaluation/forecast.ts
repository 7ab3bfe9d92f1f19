/**
 * Back-test of the demand model on the real LibrariesWest monthly issues
 * (../shared/data/librarieswest/issues_monthly_2016-07_2018-12.csv; series = authority x
 * item type): train on months up to a cutoff (2017-12) through the same code as the
 * `forecast` command, forecast the next 12 months, and compare with seasonal naive and
 * trend-scaled seasonal naive by summed absolute error. The LSTM is scored alone and as the
 * command writes it by default (averaged with seasonal naive); the mean of the two
 * baselines is scored too, as a control without a network.
 *
 * Scoring: every series with history up to the cutoff is scored on every forecast month, a
 * month it has no row for counting as 0 loans (the reader's rule). Series that first appear
 * after the cutoff cannot be forecast by any method and are left out, and counted.
 *
 * `validateInsideWindow` is the model selection that uses no month after the cutoff:
 * rolling origins inside the training months, each forecasting up to the cutoff.
 *
 * `compareStrategiesOnSynthetic` runs the same comparison, plus recursive against direct
 * multi-period forecasting, on synthetic series long enough for a direct model to train.
 *
 * Run by `node dist/src/cli/evaluate-forecast.js` (and `npm run eval:real`); its figures on
 * LibrariesWest are in BENCHMARKS.md.
 */
import { readFileSync } from 'node:fs';
import { seasonalNaive, trendScaledSeasonalNaive } from '../ml/forecasting/baselines';
import { meanForecast } from '../ml/forecasting/combination';
import { parseMonthlyHistory } from '../ml/forecasting/history';
import type { HistoryColumns } from '../ml/forecasting/history';
import { ratioToSeasonalNaive, summedAbsoluteError } from '../ml/forecasting/metrics';
import { monthIndex, monthPeriod } from '../ml/forecasting/periods';
import { syntheticDemand } from '../ml/forecasting/synthetic';
import { DemandForecaster, encodeDemandModel, trainDemandModel } from '../ml/lstm';
import type { DemandModelOptions, ForecastMethod, ForecastStrategy } from '../ml/lstm';
import { combineForecasts, FORECAST_COMBINATION, forecastMonthlyHistory, MIN_HISTORY_MONTHS } from '../ml/forecasting/monthly';

export const LIBRARIES_WEST_COLUMNS: HistoryColumns = {
  periodColumn: 'month_issued',
  valueColumn: 'issues',
  seriesColumns: ['authority', 'item_type'],
};

export interface EvaluateForecastOptions {
  /** Last month used for training, YYYY-MM. */
  cutoff?: string;
  horizon?: number;
  seed?: number;
  training?: Omit<DemandModelOptions, 'seasonLength'>;
  log?: (line: string) => void;
}

/** The forecasts scored, in the order they are printed. */
const METHODS = ['lstm', 'lstmWithSeasonalNaive', 'seasonalNaive', 'trendScaledSeasonalNaive', 'seasonalNaiveWithTrendScaled'] as const;
export type ScoredMethod = (typeof METHODS)[number];

const METHOD_LABELS: Record<ScoredMethod, string> = {
  lstm: 'LSTM',
  lstmWithSeasonalNaive: 'mean of LSTM and seasonal naive',
  seasonalNaive: 'seasonal naive',
  trendScaledSeasonalNaive: 'trend-scaled seasonal naive',
  seasonalNaiveWithTrendScaled: 'mean of both seasonal naives',
};

/** Summed absolute error (or its ratio to seasonal naive's) of every scored forecast. */
export type MethodErrors = Record<ScoredMethod, number>;

export interface ForecastEvaluation {
  cutoff: string;
  horizon: number;
  forecastMonths: [string, string];
  seriesScored: number;
  /** Series (and their loans in the forecast months) with no history up to the cutoff. */
  seriesWithoutHistory: number;
  loansWithoutHistory: number;
  /** How many scored series each method of the model's forecast used. */
  methods: Record<ForecastMethod, number>;
  /** Summed absolute error over all scored series and months. */
  errors: MethodErrors;
  /** The same, over only the series the LSTM itself forecast. */
  errorsOnLstmSeries: MethodErrors;
  /** Summed absolute error per period ahead (index 0 = first forecast month). */
  errorsByPeriod: MethodErrors[];
  ratioToSeasonalNaive: MethodErrors;
  ratioOnLstmSeries: MethodErrors;
  actualLoans: number;
  strategy: ForecastStrategy;
  trainingSeconds: number;
}

export async function evaluateForecast(dataPath: string, { cutoff = '2017-12', horizon = 12, seed = 1, training, log }: EvaluateForecastOptions = {}): Promise<ForecastEvaluation> {
  const cutoffMonth = monthIndex(cutoff);
  if (cutoffMonth === null) throw new Error(`cutoff must be a month as YYYY-MM, got "${cutoff}"`);
  const text = readFileSync(dataPath, 'utf8');
  const full = parseMonthlyHistory(text, LIBRARIES_WEST_COLUMNS);
  if (full.lastMonth < cutoffMonth + horizon) {
    throw new Error(`${dataPath} ends in ${monthPeriod(full.lastMonth)}: no actuals for ${horizon} months after ${cutoff}`);
  }
  const history = parseMonthlyHistory(text, LIBRARIES_WEST_COLUMNS, { untilMonth: cutoffMonth });
  const run = await forecastMonthlyHistory(history, { horizon, seed, training, log });

  const actualOf = new Map(full.series.map((s) => [JSON.stringify(s.key), s]));
  const actual = history.series.map((s) => {
    const f = actualOf.get(JSON.stringify(s.key))!;
    return Array.from({ length: horizon }, (_, h) => f.values[cutoffMonth + 1 + h - f.firstMonth] ?? 0);
  });
  const scored = new Set(history.series.map((s) => JSON.stringify(s.key)));
  const unscored = full.series.filter((s) => !scored.has(JSON.stringify(s.key)));
  const loansWithoutHistory = unscored.reduce(
    (sum, s) => sum + s.values.slice(cutoffMonth + 1 - s.firstMonth, cutoffMonth + 1 + horizon - s.firstMonth).reduce((a, b) => a + b, 0),
    0,
  );

  const seasonalNaiveRows = history.series.map((s) => seasonalNaive(s.values, 12, horizon));
  const trendScaledRows = history.series.map((s) => trendScaledSeasonalNaive(s.values, 12, horizon));
  const forecasts: Record<ScoredMethod, number[][]> = {
    lstm: run.lstmForecasts.map((f) => f.values),
    lstmWithSeasonalNaive: combineForecasts(history, run.lstmForecasts, 'seasonal-naive').map((f) => f.values),
    seasonalNaive: seasonalNaiveRows,
    trendScaledSeasonalNaive: trendScaledRows,
    seasonalNaiveWithTrendScaled: seasonalNaiveRows.map((row, i) => meanForecast(row, trendScaledRows[i]!)),
  };
  const errorsOver = (keep: (i: number) => boolean, periods: [number, number] = [0, horizon]): MethodErrors => {
    const pick = (rows: number[][]): number[][] => rows.filter((_, i) => keep(i)).map((r) => r.slice(...periods));
    return mapMethods((m) => summedAbsoluteError(pick(actual), pick(forecasts[m])));
  };
  const errors = errorsOver(() => true);
  const errorsOnLstmSeries = errorsOver((i) => run.lstmForecasts[i]!.method === 'lstm');
  const errorsByPeriod = Array.from({ length: horizon }, (_, h) => errorsOver(() => true, [h, h + 1]));
  const methods: Record<ForecastMethod, number> = { lstm: 0, 'seasonal-naive': 0, 'last-value': 0 };
  for (const f of run.lstmForecasts) methods[f.method] += 1;
  return {
    cutoff,
    horizon,
    forecastMonths: [monthPeriod(cutoffMonth + 1), monthPeriod(cutoffMonth + horizon)],
    seriesScored: history.series.length,
    seriesWithoutHistory: unscored.length,
    loansWithoutHistory,
    methods,
    errors,
    errorsOnLstmSeries,
    errorsByPeriod,
    ratioToSeasonalNaive: ratios(errors),
    ratioOnLstmSeries: ratios(errorsOnLstmSeries),
    actualLoans: actual.flat().reduce((a, b) => a + b, 0),
    strategy: run.model.options.strategy,
    trainingSeconds: run.trainingSeconds,
  };
}

function mapMethods(value: (m: ScoredMethod) => number): MethodErrors {
  return Object.fromEntries(METHODS.map((m) => [m, value(m)])) as MethodErrors;
}

function sumErrors(rows: MethodErrors[]): MethodErrors {
  return mapMethods((m) => rows.reduce((sum, e) => sum + e[m], 0));
}

function ratios(errors: MethodErrors): MethodErrors {
  return mapMethods((m) => ratioToSeasonalNaive(errors[m], errors.seasonalNaive));
}

const loans = (x: number): string => Math.round(x).toLocaleString('en-GB');
const ratio = (x: number): string => x.toFixed(3);

/** One line of ratios to seasonal naive, every method but seasonal naive itself. */
function ratioLine(r: MethodErrors): string {
  return METHODS.filter((m) => m !== 'seasonalNaive')
    .map((m) => `${METHOD_LABELS[m]} ${ratio(r[m])}`)
    .join(', ');
}

export function formatEvaluation(e: ForecastEvaluation): string {
  const half = Math.ceil(e.horizon / 2);
  const halves = [sumErrors(e.errorsByPeriod.slice(0, half)), sumErrors(e.errorsByPeriod.slice(half))];
  const byHalf = e.horizon < 2 ? [] : halves.map(
    (h, i) => `  months ${i === 0 ? `1-${half}` : `${half + 1}-${e.horizon}`} ahead: ${ratioLine(ratios(h))} (seasonal naive error ${loans(h.seasonalNaive)})`,
  );
  return [
    `LibrariesWest demand back-test: trained to ${e.cutoff}, forecast ${e.forecastMonths[0]} to ${e.forecastMonths[1]} (horizon ${e.horizon})`,
    `series scored: ${e.seriesScored} (LSTM ${e.methods.lstm}, seasonal naive fallback ${e.methods['seasonal-naive']}, last-value fallback ${e.methods['last-value']}); ` +
      `left out: ${e.seriesWithoutHistory} series with no history before ${e.forecastMonths[0]} (${loans(e.loansWithoutHistory)} loans)`,
    `actual loans in the forecast months: ${loans(e.actualLoans)}`,
    `summed absolute error                         all series   LSTM-forecast series`,
    ...METHODS.map((m) => `  ${METHOD_LABELS[m].padEnd(40)}${loans(e.errors[m]).padStart(10)}   ${loans(e.errorsOnLstmSeries[m]).padStart(10)}`),
    `ratio to seasonal naive: ${ratioLine(e.ratioToSeasonalNaive)}`,
    `  on LSTM-forecast series: ${ratioLine(e.ratioOnLstmSeries)}`,
    `ratio to seasonal naive by half of the horizon:`,
    ...byHalf,
    `the forecast command writes: ${FORECAST_COMBINATION === 'none' ? 'the LSTM alone' : 'the mean of LSTM and seasonal naive'}`,
    `strategy: ${e.strategy}; training time: ${e.trainingSeconds.toFixed(1)} s`,
  ].join('\n');
}

export interface WindowValidation {
  /** Last training month; no later month is read. */
  cutoff: string;
  origins: { origin: string; horizon: number; errors: MethodErrors }[];
  /** Summed over origins. */
  errors: MethodErrors;
  ratioToSeasonalNaive: MethodErrors;
}

/**
 * Rolling-origin validation inside the training months: from every origin with the
 * history the LSTM needs (MIN_HISTORY_MONTHS) up to the month before `cutoff`, train to the
 * origin and forecast each month up to `cutoff`. Uses no month after `cutoff`, so it may
 * choose between models that are then judged on the months after it.
 */
export async function validateInsideWindow(dataPath: string, { cutoff = '2017-12', seed = 1, training, log }: EvaluateForecastOptions = {}): Promise<WindowValidation> {
  const cutoffMonth = monthIndex(cutoff);
  if (cutoffMonth === null) throw new Error(`cutoff must be a month as YYYY-MM, got "${cutoff}"`);
  const { firstMonth } = parseMonthlyHistory(readFileSync(dataPath, 'utf8'), LIBRARIES_WEST_COLUMNS, { untilMonth: cutoffMonth });
  const firstOrigin = firstMonth + MIN_HISTORY_MONTHS - 1;
  if (firstOrigin >= cutoffMonth) {
    throw new Error(`${dataPath} has no origin before ${cutoff} with the ${MIN_HISTORY_MONTHS} months of history the LSTM needs`);
  }
  const origins: WindowValidation['origins'] = [];
  for (let origin = firstOrigin; origin < cutoffMonth; origin++) {
    const e = await evaluateForecast(dataPath, { cutoff: monthPeriod(origin), horizon: cutoffMonth - origin, seed, training, log });
    origins.push({ origin: e.cutoff, horizon: e.horizon, errors: e.errors });
  }
  const errors = sumErrors(origins.map((o) => o.errors));
  return { cutoff, origins, errors, ratioToSeasonalNaive: ratios(errors) };
}

export function formatValidation(v: WindowValidation): string {
  return [
    `LibrariesWest validation inside the training months (no month after ${v.cutoff} used): ratio to seasonal naive`,
    ...v.origins.map((o) => `  origin ${o.origin}, ${o.horizon} month(s) ahead: ${ratioLine(ratios(o.errors))} (seasonal naive error ${loans(o.errors.seasonalNaive)})`),
    `  all origins: ${ratioLine(v.ratioToSeasonalNaive)} (seasonal naive error ${loans(v.errors.seasonalNaive)})`,
  ].join('\n');
}

export interface SyntheticComparison {
  series: number;
  historyPeriods: number;
  horizon: number;
  seasonalNaive: number;
  /** Ratios to seasonal naive's summed absolute error. */
  ratio: { trendScaledSeasonalNaive: number; recursive: number; direct: number };
  trainingSeconds: { recursive: number; direct: number };
}

/**
 * Recursive against direct on synthetic monthly series (trend and season known), both
 * forecast through ONNX, with the two baselines for scale.
 */
export async function compareStrategiesOnSynthetic({
  series = 60,
  historyPeriods = 48,
  horizon = 12,
  seed = 5,
  training = {},
}: { series?: number; historyPeriods?: number; horizon?: number; seed?: number; training?: Omit<DemandModelOptions, 'seasonLength'> } = {}): Promise<SyntheticComparison> {
  const all = syntheticDemand({ series, periods: historyPeriods + horizon, seed });
  const history = all.map((s) => ({ values: Array.from(s.values).slice(0, historyPeriods), firstPhase: s.firstPhase }));
  const actual = all.map((s) => Array.from(s.values).slice(historyPeriods));
  const naive = summedAbsoluteError(actual, history.map((s) => seasonalNaive(s.values, 12, horizon)));
  const trend = summedAbsoluteError(actual, history.map((s) => trendScaledSeasonalNaive(s.values, 12, horizon)));
  const lstm = async (strategy: ForecastStrategy): Promise<[number, number]> => {
    const started = Date.now();
    const model = await trainDemandModel(history, { ...training, seasonLength: 12, strategy, outputs: strategy === 'direct' ? horizon : undefined });
    const seconds = (Date.now() - started) / 1000;
    const forecasts = await (await DemandForecaster.create(encodeDemandModel(model))).forecast(history, horizon);
    return [summedAbsoluteError(actual, forecasts.map((f) => f.values)) / naive, seconds];
  };
  const [recursive, recursiveSeconds] = await lstm('recursive');
  const [direct, directSeconds] = await lstm('direct');
  return {
    series,
    historyPeriods,
    horizon,
    seasonalNaive: naive,
    ratio: { trendScaledSeasonalNaive: trend / naive, recursive, direct },
    trainingSeconds: { recursive: recursiveSeconds, direct: directSeconds },
  };
}
