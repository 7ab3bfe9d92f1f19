/**
 * Reading the recommender's input files, with errors a person can act on.
 *
 * Contract: every function here either returns clean rows or throws an `InputError` whose
 * one-line message names the file, the 1-based line and what was expected versus found
 * (for a missing column: the header that was there). Command-line tools turn an InputError
 * into exit code 2 without a stack trace; anything else is a bug.
 */
import { parse } from 'csv-parse/sync';

export class InputError extends Error {
  override readonly name = 'InputError';
}

export interface CsvRow {
  /** 1-based line of the file where the row starts. */
  line: number;
  /** Values of the requested columns, in the order requested. */
  values: string[];
}

/**
 * Parses CSV text with a header row and returns the requested columns of every non-blank
 * row. Column names match case-insensitively, ignoring surrounding spaces and a BOM.
 */
export function readCsvColumns(text: string, columns: readonly string[], label: string): CsvRow[] {
  if (text.replace(/^\uFEFF/, '').trim().length === 0) {
    throw new InputError(`${label} is empty: expected a header row with columns ${columns.join(',')}`);
  }
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    // With `info: true` each record comes as { record, info }; the sync typings do not say so.
    records = parse(text, { bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as Array<{
      record: string[];
      info: { lines: number };
    }>;
  } catch (error) {
    const details = error as { message?: string; lines?: number };
    const where = details.lines !== undefined ? ` line ${details.lines}` : '';
    throw new InputError(`${label}${where}: not valid CSV (${(details.message ?? String(error)).split('\n')[0]})`);
  }
  const [header, ...rows] = records;
  if (!header) throw new InputError(`${label} is empty: expected a header row with columns ${columns.join(',')}`);
  const names = header.record.map((name) => name.trim().toLowerCase());
  const positions = columns.map((column) => names.indexOf(column.toLowerCase()));
  const missing = columns.filter((_, c) => positions[c]! < 0);
  if (missing.length > 0) {
    throw new InputError(
      `${label} line ${header.info.lines}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ` +
        `(header found: ${header.record.map((name) => name.trim()).join(',')}; expected ${columns.join(',')})`,
    );
  }
  return rows
    .filter(({ record }) => record.some((value) => value.trim().length > 0))
    .map(({ record, info }) => {
      const values = positions.map((position, c) => {
        const value = record[position];
        if (value === undefined || value.trim().length === 0) {
          throw new InputError(`${label} line ${info.lines}: no value for column ${columns[c]} (found ${record.length} field${record.length === 1 ? '' : 's'})`);
        }
        return value.trim();
      });
      return { line: info.lines, values };
    });
}

/** The largest interaction weight training accepts: well inside what its least-squares solves can square and sum. */
export const MAX_INTERACTION_WEIGHT = 1e6;

export interface InteractionRecord {
  user: string;
  item: string;
  weight: number;
}

/**
 * The `recommend` command's interactions file: columns user,item,weight (any order, extra
 * columns ignored), one header row. Weights must be finite numbers > 0; a row repeated for
 * the same member and item adds up.
 */
export function parseInteractionsCsv(text: string, label = 'interactions file'): InteractionRecord[] {
  const rows = readCsvColumns(text, ['user', 'item', 'weight'], label);
  if (rows.length === 0) throw new InputError(`${label} has a header but no interaction rows`);
  return rows.map(({ line, values: [user, item, weightText] }) => {
    const weight = Number(weightText);
    if (!Number.isFinite(weight)) throw new InputError(`${label} line ${line}: weight "${weightText}" is not a number`);
    if (weight <= 0) throw new InputError(`${label} line ${line}: weight ${weightText} must be greater than 0`);
    if (weight > MAX_INTERACTION_WEIGHT) throw new InputError(`${label} line ${line}: weight ${weightText} is above ${MAX_INTERACTION_WEIGHT}; weights are counts or ratings, and larger ones overflow the solver`);
    return { user: user!, item: item!, weight };
  });
}

/** One member id per line; blank lines are skipped and repeats kept once, in first-seen order. */
export function parseUserList(text: string, label = 'users file'): string[] {
  const users = new Set<string>();
  for (const line of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const id = line.trim();
    if (id.length > 0) users.add(id);
  }
  if (users.size === 0) throw new InputError(`${label} is empty: expected one member id per line`);
  return [...users];
}
