/**
 * Files of circulation events, read as a stream of numbered lines, each either an event or the
 * reason it is not one. Nothing is held beyond the current line.
 *
 * - NDJSON: one event object per line, in the shape `parseEvent` reads (id, type, at, memberId,
 *   bookId, branchId, loanId, dueAt, to, ...). Blank lines are skipped.
 * - Koha's `statistics` table exported as CSV with a header row (datetime, branch, type,
 *   itemnumber, borrowernumber, itemtype, ccode; other columns ignored). See `kohaEvent`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { CirculationError, malformed } from './errors';
import { parseEvent, type CirculationEvent } from './events';

export type SourceFormat = 'ndjson' | 'koha-statistics';
export const SOURCE_FORMATS: readonly SourceFormat[] = ['ndjson', 'koha-statistics'];

export type SourceLine = { line: number; event: CirculationEvent } | { line: number; error: CirculationError } | { line: number; skipped: string };

/** Lines longer than this are refused unread: an event is a few hundred bytes. */
export const MAX_LINE_BYTES = 64 * 1024;

export async function* ndjsonEvents(file: string): AsyncGenerator<SourceLine> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line += 1;
    if (text.trim() === '') continue;
    if (text.length > MAX_LINE_BYTES) {
      yield { line, error: malformed(`line is longer than ${MAX_LINE_BYTES} bytes`) };
      continue;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      yield { line, error: malformed(`not JSON: ${(error as Error).message}`) };
      continue;
    }
    try {
      yield { line, event: parseEvent(raw) };
    } catch (error) {
      if (!(error instanceof CirculationError)) throw error;
      yield { line, error };
    }
  }
}

/** How Koha's codes become Shelfmark's ids (see the README's mapping table). */
export interface KohaMapping {
  /** Branch code (or name, or numeric id) -> branch id; matched case-insensitively, spaces ignored. */
  branches: ReadonlyMap<string, number>;
  /** itemnumber -> book id, when items are copies with their own numbers; absent: itemnumber is the book id. */
  items?: ReadonlyMap<string, number>;
}

export function branchKey(code: string): string {
  return code.toLowerCase().replace(/\s+/g, '');
}

const KOHA_TYPES = { issue: 'checkOut', return: 'returnLoan', renew: 'renewLoan' } as const;
const KOHA_COLUMNS = ['datetime', 'branch', 'type', 'itemnumber', 'borrowernumber'] as const;

/** A Koha row has no id: the event's id is derived from the row's own bytes, so a re-run names it the same. */
export function kohaEventId(rawLine: string): string {
  return `koha:${createHash('sha256').update(rawLine.replace(/\r?\n$/, '')).digest('hex').slice(0, 32)}`;
}

/**
 * One `statistics` row as an event: issue -> checkOut, return -> returnLoan and renew ->
 * renewLoan of the borrower's open loan of that item's book; `datetime` (Koha writes local
 * time without a zone) is read as UTC. Other types (localuse, writeoff, payment, ...) are skipped.
 */
export function kohaEvent(row: Record<string, string>, id: string, mapping: KohaMapping): CirculationEvent | { skipped: string } {
  for (const column of KOHA_COLUMNS) if (row[column] === undefined) throw malformed(`missing column ${column}`, id);
  const type = KOHA_TYPES[row.type as keyof typeof KOHA_TYPES];
  if (!type) return { skipped: `type ${JSON.stringify(row.type)} is not a checkout, return or renewal` };
  const item = row.itemnumber ?? '';
  const bookId = mapping.items ? mapping.items.get(item) : item;
  if (bookId === undefined) throw new CirculationError('UNKNOWN_BOOK', `itemnumber ${item} is not in the items mapping`, id);
  const at = `${(row.datetime ?? '').trim().replace(' ', 'T')}Z`;
  const raw: Record<string, unknown> = { id, type, at, memberId: row.borrowernumber, bookId: String(bookId) };
  if (type === 'checkOut') {
    const branchId = mapping.branches.get(branchKey(row.branch ?? ''));
    if (branchId === undefined) throw new CirculationError('UNKNOWN_BRANCH', `branch ${JSON.stringify(row.branch)} is not a branch of this library`, id);
    raw.branchId = branchId;
  }
  return parseEvent(raw);
}

export async function* kohaStatisticsEvents(file: string, mapping: KohaMapping): AsyncGenerator<SourceLine> {
  const parser = createReadStream(file).pipe(parse({ columns: true, info: true, raw: true, skip_empty_lines: true, trim: true, relax_column_count: true, max_record_size: MAX_LINE_BYTES }));
  // csv-parse's typings do not follow `info` and `raw`, which wrap each record.
  for await (const { record, info, raw } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number }; raw: string }>) {
    const line = info.lines;
    const id = kohaEventId(raw);
    try {
      const event = kohaEvent(record, id, mapping);
      yield 'skipped' in event ? { line, skipped: event.skipped } : { line, event };
    } catch (error) {
      if (!(error instanceof CirculationError)) throw error;
      yield { line, error };
    }
  }
}
