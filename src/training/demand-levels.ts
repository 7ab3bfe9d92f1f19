/**
 * The method each demand level serves (books by week, collections by month), chosen by a
 * rolling-origin backtest inside the training window: the LSTM, trained again on each fold's
 * history alone, against every simple method of src/evaluation/demand-baselines.ts, all scored
 * by the RMSE of their forecasts of the fold's validation periods (the error an expected value
 * is judged by, and the demand headline). The lowest mean over folds is served; ties go to the
 * candidate listed first, the simple methods before the LSTM. Nothing here reads a period at or
 * after the end of the history it is given: the caller passes the training window only, so the
 * test window is scored once, after the choice.
 */
import { rollingOrigins, selectOnFolds, type Fold } from '../evaluation/backtest';
import { DEMAND_METHODS, demandScores, forecastsFromOrigin, pooledSeasonalIndices, type ScoredForecast } from '../evaluation/demand-baselines';
import type { DemandSeries } from '../ml/forecasting/series';
import type { DemandLevel, DemandLevelChoice, ServedDemandMethod } from '../models/demand';
import type { BacktestFigures } from '../registry';

export interface LevelBacktestOptions {
  level: DemandLevel;
  /** What the backtest table calls the level, e.g. "books (weekly loans)". */
  name: string;
  seasonLength: number;
  folds: number;
  validationLength: number;
  /** Periods between consecutive origins. */
  step: number;
  /** Fewest periods the earliest fold trains on. */
  minTrainLength: number;
  /** The LSTM's forecasts of the `horizon` periods after each series, trained on `history` only. */
  lstm: (history: DemandSeries[], horizon: number) => Promise<number[][]>;
  /** How a fold's validation periods [from, to) are named in the table. */
  describePeriods: (from: number, to: number) => string;
}

export interface LevelMethodChoice {
  choice: DemandLevelChoice;
  backtest: BacktestFigures;
}

/** Candidates in tie-break order: the simple methods, then the learnt model. */
export const LEVEL_CANDIDATES: readonly ServedDemandMethod[] = [...DEMAND_METHODS, 'lstm'];

/**
 * Chooses the served method of one level on `history` (every series ending at the same period,
 * the last of the training window). The choice carries the level's seasonal indices pooled over
 * the whole window, which the simple methods multiply by when served.
 */
export async function chooseLevelMethod(history: readonly DemandSeries[], options: LevelBacktestOptions): Promise<LevelMethodChoice> {
  const { seasonLength, validationLength } = options;
  const { step, minTrainLength } = options;
  const length = Math.max(...history.map((s) => s.values.length));
  // A short window gets fewer folds, down to one; rollingOrigins says what is missing below that.
  const fitting = Math.max(1, Math.min(options.folds, Math.floor((length - validationLength - minTrainLength) / step) + 1));
  const folds = rollingOrigins({ windowStart: 0, windowEnd: length, folds: fitting, validationLength, step, minTrainLength });
  const lstmScores = new Map<number, number>();
  for (const fold of folds) {
    const cut = history.map((s) => ({ values: Array.from(s.values).slice(0, fold.origin), firstPhase: s.firstPhase }));
    const forecast = await options.lstm(cut, fold.validationEnd - fold.origin);
    const cases: ScoredForecast[] = cut.map((c, i) => ({
      history: c.values,
      actual: Array.from(history[i]!.values).slice(fold.validationStart, fold.validationEnd),
      forecast: forecast[i]!.slice(fold.validationStart - fold.origin),
    }));
    lstmScores.set(fold.index, demandScores(cases, seasonLength).rmse);
  }
  const score = (method: ServedDemandMethod, fold: Fold): number => {
    if (method === 'lstm') return lstmScores.get(fold.index)!;
    const window = { origin: fold.origin, from: fold.validationStart, to: fold.validationEnd };
    return demandScores(forecastsFromOrigin(history, method, window, seasonLength), seasonLength).rmse;
  };
  const selection = selectOnFolds(LEVEL_CANDIDATES, folds, score);
  const method = selection.best;
  return {
    choice: method === 'lstm' ? { method } : { method, seasonalIndices: pooledSeasonalIndices(history, seasonLength) },
    backtest: {
      name: options.name,
      criterion: `RMSE of each ${options.level === 'book' ? "book's weekly" : "collection's monthly"} loans over ${validationLength} periods after each of ${folds.length} cut-offs`,
      chosen: method,
      folds: folds.map((f) => options.describePeriods(f.validationStart, f.validationEnd)),
      candidates: selection.table.map((row) => ({ name: row.candidate, scores: row.scores, mean: row.mean, sd: row.sd })),
    },
  };
}
