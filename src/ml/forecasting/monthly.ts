/**
 * Monthly forecasts of every series of a history file: the demand model trained on the whole
 * history, exported to ONNX, run through onnxruntime and combined with seasonal naive. The
 * `forecast` command and its evaluation both take this path.
 */
import { withSeasonalNaive } from './combination';
import { HistoryInputError } from './history';
import type { MonthlyHistory } from './history';
import { monthPeriod } from './periods';
import { DemandForecaster, encodeDemandModel, minTrainingHistory, strategyFor, trainDemandModel } from '../lstm';
import type { DemandModel, DemandModelOptions, SeriesForecast } from '../lstm';

const SEASON_MONTHS = 12;
/**
 * The least history a series needs for the LSTM to learn from (16 months: a year before its
 * first complete input row, a window of 3 such rows, and the month after them).
 */
export const MIN_HISTORY_MONTHS = minTrainingHistory({ seasonLength: SEASON_MONTHS });

/**
 * How the command's forecast is made from the LSTM's:
 * - 'seasonal-naive': the mean of the LSTM's forecast and seasonal naive's (the same month
 *   last year), for every series the LSTM forecasts;
 * - 'none': the LSTM's forecast alone.
 */
export type ForecastCombination = 'seasonal-naive' | 'none';

/**
 * The default is the combination, fixed before it was scored on the test year. On
 * LibrariesWest (18 months to 2017-12) the LSTM can only be validated inside its training
 * months at 1 and 2 months ahead (origins 2017-10 and 2017-11). There the LSTM alone did
 * better (0.215 of seasonal naive's error against 0.526), but those horizons cannot show
 * how a trend it learnt from one year-on-year comparison holds 7-12 months ahead, so no
 * weight was fitted to them; equal weights are the literature's robust default (see
 * ./combination.ts). Validation and test figures: src/evaluation/forecast.ts.
 */
export const FORECAST_COMBINATION: ForecastCombination = 'seasonal-naive';

export interface ForecastRun {
  model: DemandModel;
  modelOnnx: Uint8Array;
  /** What the command writes, one per history series, in the same order. */
  forecasts: SeriesForecast[];
  /** The LSTM's own forecasts (through ONNX), before any combination. */
  lstmForecasts: SeriesForecast[];
  trainingSeconds: number;
}

export interface ForecastRunOptions {
  horizon: number;
  seed?: number;
  /** Overrides of the demand model's training options (season length stays 12). */
  training?: Omit<DemandModelOptions, 'seasonLength'>;
  /** Default FORECAST_COMBINATION. */
  combine?: ForecastCombination;
  /** Progress lines, e.g. to stderr. */
  log?: (line: string) => void;
}

/** The forecasts the command writes, from the LSTM's; fallback series are left as they are. */
export function combineForecasts(history: MonthlyHistory, lstmForecasts: SeriesForecast[], combine: ForecastCombination): SeriesForecast[] {
  switch (combine) {
    case 'none':
      return lstmForecasts;
    case 'seasonal-naive':
      return lstmForecasts.map((f, i) => (f.method === 'lstm' ? { ...f, values: withSeasonalNaive(history.series[i]!, f.values, SEASON_MONTHS) } : f));
    default: {
      const unhandled: never = combine;
      throw new Error(`unknown combination ${String(unhandled)}`);
    }
  }
}

/**
 * Trains on every series of `history`, exports the model, forecasts through ONNX and
 * combines that with seasonal naive as `combine` says: the path the command and its
 * evaluation both take.
 */
export async function forecastMonthlyHistory(
  history: MonthlyHistory,
  { horizon, seed = 1, training = {}, combine = FORECAST_COMBINATION, log }: ForecastRunOptions,
): Promise<ForecastRun> {
  if (history.months < MIN_HISTORY_MONTHS) {
    throw new HistoryInputError(
      `only ${history.months} month(s) of history (${monthPeriod(history.firstMonth)} to ${monthPeriod(history.lastMonth)}); ` +
        `the demand model needs at least ${MIN_HISTORY_MONTHS}`,
    );
  }
  // Every series runs to the file's last month, so the earliest spans the whole file.
  const longest = history.months;
  const strategy = training.strategy ? {} : strategyFor(longest, horizon, { ...training, seasonLength: SEASON_MONTHS });
  log?.(`training a ${strategy.strategy ?? training.strategy} LSTM on ${history.series.filter((s) => s.values.length >= MIN_HISTORY_MONTHS).length} series`);
  const started = Date.now();
  const model = await trainDemandModel(history.series, {
    ...training,
    ...strategy,
    seasonLength: SEASON_MONTHS,
    seed,
    onEpoch: (epoch, epochs, loss) => {
      if (epoch % Math.max(1, Math.round(epochs / 5)) === 0 || epoch === epochs) log?.(`training: epoch ${epoch}/${epochs}, loss ${loss.toFixed(5)}`);
    },
  });
  const trainingSeconds = (Date.now() - started) / 1000;
  const modelOnnx = encodeDemandModel(model, { 'shelfmark.demand.trained_until': monthPeriod(history.lastMonth) });
  const forecaster = await DemandForecaster.create(modelOnnx);
  const lstmForecasts = await forecaster.forecast(history.series, horizon);
  return { model, modelOnnx, forecasts: combineForecasts(history, lstmForecasts, combine), lstmForecasts, trainingSeconds };
}
