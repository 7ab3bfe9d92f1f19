/**
 * `npm run ingest -- --events FILE [--format ndjson|koha-statistics] [--db URL] [--json]`:
 * circulation events from a file into the store through the write path. Progress and refused
 * lines go to stderr; the summary to stdout.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import {
  branchKey, DEFAULT_BATCH_SIZE, ingestEvents, kohaStatisticsEvents, MAX_BATCH_SIZE, ndjsonEvents, SOURCE_FORMATS,
  type IngestProgress, type KohaMapping, type RefusedLine, type SourceFormat,
} from '../circulation';
import { loadConfig } from '../config';
import { openMigratedStore, type Store } from '../store';
import { withDefaultPostgresUser } from '../simulator';
import { parseFlags, UsageError } from './flags';

const USAGE = `usage: npm run ingest -- --events FILE [--format ndjson|koha-statistics] [--db URL] [--items CSV] [--batch N] [--json]
  Applies circulation events from FILE to the store through the write path, ${DEFAULT_BATCH_SIZE} events per
  transaction (--batch, at most ${MAX_BATCH_SIZE}). Each event is validated on its own: a refused event is
  reported with its line and reason and changes nothing. Re-running the same file (after a crash,
  say) reaches the same end state: events already applied are counted as duplicates.
  --events FILE   the events file
  --format F      ndjson (default): one event object per line, e.g.
                    {"id":"e1","type":"checkOut","at":"2025-01-02","memberId":"42","bookId":"7","branchId":"1"}
                  koha-statistics: Koha's statistics table as CSV with a header row
                    (datetime,branch,type,itemnumber,borrowernumber,itemtype,ccode); see the README
  --db URL        SQLite file (or sqlite:PATH) or postgres://... (default: DATABASE_URL, else data/shelfmark.db)
  --items CSV     koha-statistics only: itemnumber,book_id pairs (header row) when item numbers are not book ids
  --json          print the summary as one JSON object
  Exit status: 0 when every event applied (or was a duplicate), 1 when any was refused, 2 on bad flags.`;

const MAX_ERRORS_IN_SUMMARY = 1000;

async function kohaMapping(store: Store, itemsFile: string | undefined): Promise<KohaMapping> {
  const branches = new Map<string, number>();
  for (const branch of await store.db.selectFrom('branches').select(['id', 'name']).execute()) {
    branches.set(String(branch.id), branch.id);
    branches.set(branchKey(branch.name), branch.id);
  }
  if (itemsFile === undefined) return { branches };
  const rows = parse<Record<string, string>>(readFileSync(itemsFile, 'utf8'), { columns: true, skip_empty_lines: true, trim: true });
  const items = new Map<string, number>();
  rows.forEach((row, i) => {
    const book = Number(row.book_id);
    if (!row.itemnumber || !Number.isSafeInteger(book) || book < 1) throw new UsageError(`--items ${itemsFile} line ${i + 2}: expected itemnumber,book_id, got ${JSON.stringify(row)}`);
    items.set(row.itemnumber, book);
  });
  return { branches, items };
}

function progressReporter(): (progress: IngestProgress) => void {
  const started = performance.now();
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (now - last < 1000) return;
    last = now;
    const rate = Math.round((p.applied + p.duplicates) / ((now - started) / 1000));
    process.stderr.write(`ingest: line ${p.lines}: ${p.applied} applied, ${p.duplicates} duplicates, ${p.refused} refused, ${p.skipped} skipped (${rate} events/s)\n`);
  };
}

async function main(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, { events: 'string', format: 'string', db: 'string', items: 'string', batch: 'number', json: 'boolean' }, USAGE);
  if (!flags.events) throw new UsageError(`--events FILE is required\n${USAGE}`);
  if (!existsSync(flags.events)) throw new UsageError(`--events ${flags.events}: no such file`);
  const format = (flags.format ?? 'ndjson') as SourceFormat;
  if (!SOURCE_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${SOURCE_FORMATS.join(', ')}, got "${flags.format}"`);
  if (flags.items !== undefined && format !== 'koha-statistics') throw new UsageError('--items applies to --format koha-statistics only');
  const batchSize = flags.batch ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) throw new UsageError(`--batch must be a whole number in 1..${MAX_BATCH_SIZE}, got ${batchSize}`);
  const config = loadConfig();
  const store = await openMigratedStore(withDefaultPostgresUser(flags.db ?? config.databaseUrl, process.env));
  const started = performance.now();
  const errors: RefusedLine[] = [];
  try {
    const source = format === 'ndjson' ? ndjsonEvents(flags.events) : kohaStatisticsEvents(flags.events, await kohaMapping(store, flags.items));
    const summary = await ingestEvents(store, source, {
      batchSize,
      clock: { mode: config.clock },
      onProgress: progressReporter(),
      onRefused: (refused) => {
        process.stderr.write(`${flags.events}:${refused.line}: ${refused.message} [${refused.reason}]\n`);
        if (errors.length < MAX_ERRORS_IN_SUMMARY) errors.push(refused);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ file: flags.events, format, ...summary, seconds: Number(seconds.toFixed(3)), errors, errorsOmitted: Math.max(0, summary.refused - errors.length) })}\n`);
    } else {
      process.stdout.write(`${flags.events}: ${summary.lines} lines, ${summary.applied} applied, ${summary.duplicates} duplicates, ${summary.refused} refused, ${summary.skipped} skipped in ${seconds.toFixed(1)} s\n`);
    }
    return summary.refused > 0 ? 1 : 0;
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`ingest: ${error.message}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
