/**
 * A held-out-year backtest of the demand baselines on a monthly history file (the LibrariesWest
 * export, or a library's own): at each level (series = some of the file's key columns, summed),
 * the served method is chosen on rolling origins before the test year, and then every method,
 * the chosen one included, is scored once on the test year.
 *
 * Rules: the test year is [testStart, testStart + horizon); selection sees only months before
 * testStart (its folds validate up to the month before it, and seasonal indices are pooled from
 * each fold's histories). Series with no month before testStart cannot be forecast and are left
 * out, and counted; a month a series has no row for is 0 loans (the reader's rule).
 */
import { parseMonthlyHistory, type HistoryColumns, type HistorySeries } from '../ml/forecasting/history';
import { ratioToSeasonalNaive } from '../ml/forecasting/metrics';
import { monthIndex, monthPeriod, monthPhase } from '../ml/forecasting/periods';
import type { FoldSummary } from './backtest';
import { chooseDemandMethod, DEMAND_METHODS, demandScores, forecastsFromOrigin, type DemandCriterion, type DemandMethod, type DemandScores } from './demand-baselines';

export interface DemandLevel {
  name: string;
  /** The series columns kept; the others are summed over. */
  keep: string[];
}

export interface HistoryBacktestOptions {
  columns: HistoryColumns;
  /** First month of the test year, YYYY-MM. */
  testStart: string;
  /** Months in the test window (default 12). */
  horizon?: number;
  /** Default 12 (monthly data). */
  seasonLength?: number;
  /** Rolling origins before the test year (the last one validates up to the month before it). */
  selection: { folds: number; validationLength: number; step?: number; minTrainLength?: number; criterion?: DemandCriterion };
  /** Default: one level, every series column kept. */
  levels?: DemandLevel[];
}

export interface MethodTestScores extends DemandScores {
  /** Summed absolute error over seasonal naive's on the same series and months (below 1 is better). */
  ratioToSeasonalNaive: number;
}

export interface LevelBacktest {
  level: string;
  /** The method the validation folds chose, before the test year was scored. */
  chosen: DemandMethod;
  /** Mean and spread over folds of every method, by the selection criterion. */
  validation: (FoldSummary & { method: DemandMethod })[];
  test: Record<DemandMethod, MethodTestScores>;
  seriesScored: number;
  /** Series first seen in the test window. */
  seriesLeftOut: number;
}

export interface HistoryBacktest {
  testStart: string;
  testEnd: string;
  criterion: DemandCriterion;
  levels: LevelBacktest[];
}

/** Series of `level`: the file's series summed over the columns not kept, from their first month to `lastMonth`. */
function seriesAtLevel(series: readonly HistorySeries[], columns: HistoryColumns, level: DemandLevel, lastMonth: number): HistorySeries[] {
  const keptAt = level.keep.map((name) => {
    const at = columns.seriesColumns.indexOf(name);
    if (at < 0) throw new Error(`level "${level.name}" keeps column "${name}", which is not one of the series columns (${columns.seriesColumns.join(', ')})`);
    return at;
  });
  const groups = new Map<string, { key: string[]; firstMonth: number; members: HistorySeries[] }>();
  for (const s of series) {
    const key = keptAt.map((at) => s.key[at]!);
    const id = JSON.stringify(key);
    const group = groups.get(id) ?? { key, firstMonth: Infinity, members: [] };
    group.firstMonth = Math.min(group.firstMonth, s.firstMonth);
    group.members.push(s);
    groups.set(id, group);
  }
  return [...groups.values()].map(({ key, firstMonth, members }) => {
    const values = new Array<number>(Math.max(0, lastMonth - firstMonth + 1)).fill(0);
    for (const m of members) m.values.forEach((v, i) => {
      const at = m.firstMonth + i - firstMonth;
      if (at < values.length) values[at]! += v;
    });
    return { key, firstMonth, firstPhase: monthPhase(firstMonth), values };
  });
}

function backtestLevel(
  all: HistorySeries[],
  level: string,
  window: { firstMonth: number; testStart: number; horizon: number; seasonLength: number },
  selection: HistoryBacktestOptions['selection'],
): LevelBacktest {
  const { firstMonth, testStart, horizon, seasonLength } = window;
  const series = all.filter((s) => s.firstMonth < testStart);
  const origin = testStart - firstMonth;
  const criterion = selection.criterion ?? 'summedAbsoluteError';
  const { best, table } = chooseDemandMethod(series, { ...selection, seasonLength, windowEnd: origin, criterion });
  const scores = Object.fromEntries(
    DEMAND_METHODS.map((method) => [method, demandScores(forecastsFromOrigin(series, method, { origin, from: origin, to: origin + horizon }, seasonLength), seasonLength)]),
  ) as Record<DemandMethod, DemandScores>;
  const naive = scores.seasonalNaive.summedAbsoluteError;
  const test = Object.fromEntries(
    DEMAND_METHODS.map((method) => [method, { ...scores[method], ratioToSeasonalNaive: ratioToSeasonalNaive(scores[method].summedAbsoluteError, naive) }]),
  ) as Record<DemandMethod, MethodTestScores>;
  return {
    level,
    chosen: best,
    validation: table.map(({ candidate, folds, mean, sd, min, max }) => ({ method: candidate, folds, mean, sd, min, max })),
    test,
    seriesScored: series.length,
    seriesLeftOut: all.length - series.length,
  };
}

/** Parses `text` (a monthly history CSV) and backtests every level; throws HistoryInputError on a bad file. */
export function backtestDemandHistory(text: string, options: HistoryBacktestOptions): HistoryBacktest {
  const { columns, horizon = 12, seasonLength = 12 } = options;
  const testStart = monthIndex(options.testStart);
  if (testStart === null) throw new Error(`testStart must be a month as YYYY-MM, got "${options.testStart}"`);
  const testEnd = testStart + horizon - 1;
  const history = parseMonthlyHistory(text, columns, { untilMonth: testEnd });
  if (history.firstMonth >= testStart) throw new Error(`the file starts in ${monthPeriod(history.firstMonth)}, leaving no history before ${options.testStart}`);
  if (history.lastMonth < testEnd) throw new Error(`the file ends in ${monthPeriod(history.lastMonth)}, before the test window ends (${monthPeriod(testEnd)})`);
  const levels = options.levels ?? [{ name: columns.seriesColumns.join(' × ') || 'all', keep: columns.seriesColumns }];
  return {
    testStart: monthPeriod(testStart),
    testEnd: monthPeriod(testEnd),
    criterion: options.selection.criterion ?? 'summedAbsoluteError',
    levels: levels.map((level) =>
      backtestLevel(
        seriesAtLevel(history.series, columns, level, history.lastMonth),
        level.name,
        { firstMonth: history.firstMonth, testStart, horizon, seasonLength },
        options.selection,
      ),
    ),
  };
}
