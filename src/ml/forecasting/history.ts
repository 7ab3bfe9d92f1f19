/**
 * Monthly loan history from a CSV in long form (one row per period and series), turned
 * into gap-free series. Used by the `forecast` command and its evaluation alike.
 *
 * Contract: the header row names the columns; `periodColumn` holds months as YYYY-MM,
 * `valueColumn` non-negative numbers, `seriesColumns` (possibly none) identify a series.
 * A series runs from its first month in the file to the file's last month, and a month it
 * has no row for counts as zero loans (library usage exports leave such rows out). Every
 * problem is a `HistoryInputError` naming the file's line.
 */
import { parse } from 'csv-parse/sync';
import { monthIndex, monthPeriod, monthPhase } from './periods';
import type { DemandSeries } from './series';

export class HistoryInputError extends Error {
  constructor(
    message: string,
    /** 1-based line of the file the problem is on, when it is on one. */
    readonly line?: number,
  ) {
    super(message);
    this.name = 'HistoryInputError';
  }
}

export interface HistoryColumns {
  periodColumn: string;
  valueColumn: string;
  seriesColumns: string[];
}

export interface HistorySeries extends DemandSeries {
  /** The series' values in `seriesColumns`, in that order. */
  key: string[];
  /** Month index (see periods.ts) of values[0]. */
  firstMonth: number;
  values: number[];
}

export interface MonthlyHistory {
  series: HistorySeries[];
  firstMonth: number;
  lastMonth: number;
  /** Months from the first to the last in the file, inclusive. */
  months: number;
  rows: number;
}

export interface ReadHistoryOptions {
  /** Keep only rows up to and including this month index (for back-testing). */
  untilMonth?: number;
}

interface CsvRecord {
  record: string[];
  info: { lines: number };
}

/**
 * What a history file may hold: monthly counts up to `maxValue`, months between `firstMonth`
 * and `lastMonth`, and at most `maxSpanMonths` from its first month to its last (every month
 * between is a step of training and forecasting).
 */
export const HISTORY_BOUNDS = {
  maxValue: 1e9,
  firstMonth: 1900 * 12,
  lastMonth: 2199 * 12 + 11,
  maxSpanMonths: 1200,
} as const;

/** Parses `text` (the content of a history file) into series; throws HistoryInputError. */
export function parseMonthlyHistory(text: string, columns: HistoryColumns, { untilMonth }: ReadHistoryOptions = {}): MonthlyHistory {
  let records: CsvRecord[];
  try {
    // csv-parse's typings do not follow `info: true`, which wraps each record with its line.
    records = parse(text, { info: true, skip_empty_lines: true, trim: true, bom: true, relax_column_count: true }) as unknown as CsvRecord[];
  } catch (err) {
    const e = err as { message?: string; lines?: number };
    throw new HistoryInputError(`not a readable CSV: ${e.message ?? String(err)}`, e.lines);
  }
  const header = records[0];
  if (!header) throw new HistoryInputError('the file is empty: expected a header row and monthly rows', 1);
  const columnAt = (name: string): number => {
    const at = header.record.indexOf(name);
    if (at < 0) {
      throw new HistoryInputError(`no column "${name}"; the header has: ${header.record.join(', ')}`, header.info.lines);
    }
    return at;
  };
  const periodAt = columnAt(columns.periodColumn);
  const valueAt = columnAt(columns.valueColumn);
  const seriesAt = columns.seriesColumns.map(columnAt);

  const byKey = new Map<string, { key: string[]; points: Map<number, number> }>();
  const seenAt = new Map<string, number>();
  let firstMonth = Infinity;
  let lastMonth = -Infinity;
  let rows = 0;
  for (const { record, info } of records.slice(1)) {
    const line = info.lines;
    const cell = (at: number, name: string): string => {
      const v = record[at];
      if (v === undefined) throw new HistoryInputError(`the row has ${record.length} fields, none for column "${name}"`, line);
      return v;
    };
    const periodText = cell(periodAt, columns.periodColumn);
    const month = monthIndex(periodText);
    if (month === null) {
      throw new HistoryInputError(`period "${periodText}" in column "${columns.periodColumn}" is not a month as YYYY-MM`, line);
    }
    const valueText = cell(valueAt, columns.valueColumn);
    const value = valueText === '' ? NaN : Number(valueText);
    if (!Number.isFinite(value)) {
      throw new HistoryInputError(`value "${valueText}" in column "${columns.valueColumn}" is not a number`, line);
    }
    if (value < 0) throw new HistoryInputError(`value ${value} in column "${columns.valueColumn}" is negative; loans are counts`, line);
    if (value > HISTORY_BOUNDS.maxValue) {
      throw new HistoryInputError(`value ${valueText} in column "${columns.valueColumn}" is above ${HISTORY_BOUNDS.maxValue}; monthly loan counts are smaller, and larger values swamp every other series in training`, line);
    }
    if (month < HISTORY_BOUNDS.firstMonth || month > HISTORY_BOUNDS.lastMonth) {
      throw new HistoryInputError(`period ${periodText} is outside ${monthPeriod(HISTORY_BOUNDS.firstMonth)} to ${monthPeriod(HISTORY_BOUNDS.lastMonth)}`, line);
    }
    if (untilMonth !== undefined && month > untilMonth) continue;
    if (Math.max(lastMonth, month) - Math.min(firstMonth, month) >= HISTORY_BOUNDS.maxSpanMonths) {
      throw new HistoryInputError(`period ${periodText} makes the history span more than ${HISTORY_BOUNDS.maxSpanMonths} months (${HISTORY_BOUNDS.maxSpanMonths / 12} years)`, line);
    }
    const key = columns.seriesColumns.map((name, i) => cell(seriesAt[i]!, name));
    const id = JSON.stringify(key);
    const rowId = `${id}@${month}`;
    const earlier = seenAt.get(rowId);
    if (earlier !== undefined) {
      throw new HistoryInputError(`a second row for ${describeKey(columns, key)} in ${monthPeriod(month)} (the first is on line ${earlier})`, line);
    }
    seenAt.set(rowId, line);
    let entry = byKey.get(id);
    if (!entry) {
      entry = { key, points: new Map() };
      byKey.set(id, entry);
    }
    entry.points.set(month, value);
    firstMonth = Math.min(firstMonth, month);
    lastMonth = Math.max(lastMonth, month);
    rows += 1;
  }
  if (rows === 0) throw new HistoryInputError('no rows of history after the header', header.info.lines);

  const series: HistorySeries[] = [...byKey.values()].map(({ key, points }) => {
    const start = Math.min(...points.keys());
    const values = Array.from({ length: lastMonth - start + 1 }, (_, i) => points.get(start + i) ?? 0);
    return { key, firstMonth: start, firstPhase: monthPhase(start), values };
  });
  return { series, firstMonth, lastMonth, months: lastMonth - firstMonth + 1, rows };
}

function describeKey(columns: HistoryColumns, key: string[]): string {
  if (key.length === 0) return 'the series';
  return columns.seriesColumns.map((name, i) => `${name}=${key[i]}`).join(', ');
}
