/**
 * `npm run simulate -- --days N [--speed X] [--seed S] [--shift NAME=VALUE@DAY ...] [--db URL]`:
 * the generated library goes on living, every event through the write path.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { loadConfig } from '../config';
import { liveOn, MAX_LIVING_DAYS, parseShift, ShiftError, withDefaultPostgresUser, type LivingSummary } from '../simulator';
import { openMigratedStore } from '../store';
import { parseFlags, UsageError } from './flags';

const USAGE = `usage: npm run simulate -- --days N [--speed X] [--seed S] [--shift NAME=VALUE@DAY ...] [--db URL] [--events-out FILE] [--json]
  Continues the generated library past its last day with the same members and hidden causes:
  visits, checkouts, renewals, returns and members who stop, one day at a time, every event
  sent through the write path (as the mutations and npm run ingest do); an advanceClock event
  opens each day. The truth behind new loans and members goes to the sim_* tables. The same
  seed, days and shifts always send the same events; a later run continues where the last one
  stopped (re-sending the days already lived, which change nothing), so a crashed run is re-run.
  --days N          days to live (at most ${MAX_LIVING_DAYS} past the generated window in all)
  --speed X         simulated time X times faster than real time (86400: a day a second); default: as fast as possible
  --seed S          seed of the simulated days (default: the library's seed)
  --shift S         from a day on (day 1 = the first simulated day), change a hidden cause; may repeat:
                      reliability=0.2@30      every member's reliability falls by 20% from day 30
                      genre=Fantasy*3@10      Fantasy is three times as popular from day 10
                      cohort=200:teen@45      200 new members with the teen profile join on day 45
  --db URL          SQLite file (or sqlite:PATH) or postgres://... (default: DATABASE_URL, else data/shelfmark.db)
  --events-out FILE also write every event sent, as canonical NDJSON (the same bytes for the same seed)
  --json            print the summary as one JSON object`;

function printSummary(summary: LivingSummary, json: boolean): void {
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(`lived ${summary.from} .. ${summary.through} (${summary.days} days): ${summary.events} events, ${summary.applied} applied, `
      + `${summary.duplicates} already applied, ${summary.refused} refused; ${summary.loans} loans, ${summary.members} new members\n`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, { days: 'number', speed: 'number', seed: 'number', shift: 'strings', db: 'string', 'events-out': 'string', json: 'boolean' }, USAGE);
  if (flags.days === undefined || !Number.isInteger(flags.days) || flags.days < 1 || flags.days > MAX_LIVING_DAYS) {
    throw new UsageError(`--days must be a whole number in 1..${MAX_LIVING_DAYS}\n${USAGE}`);
  }
  if (flags.speed !== undefined && !(flags.speed > 0)) throw new UsageError('--speed must be a positive number');
  if (flags.seed !== undefined && (!Number.isInteger(flags.seed) || flags.seed < 0 || flags.seed > 0xffffffff)) throw new UsageError('--seed must be an integer in 0..4294967295');
  let shifts;
  try {
    shifts = (flags.shift ?? []).map(parseShift);
  } catch (error) {
    throw error instanceof ShiftError ? new UsageError(error.message) : error;
  }
  const config = loadConfig();
  const store = await openMigratedStore(withDefaultPostgresUser(flags.db ?? config.databaseUrl, process.env));
  let out: WriteStream | undefined;
  try {
    out = flags['events-out'] ? createWriteStream(flags['events-out']) : undefined;
    const summary = await liveOn(store, {
      days: flags.days,
      seed: flags.seed,
      shifts,
      speed: flags.speed,
      clock: { mode: config.clock },
      onEvent: out ? (line) => out?.write(`${line}\n`) : undefined,
      onDay: (day) => {
        process.stderr.write(`simulate: day ${day.index} ${day.day}: ${day.events} events, ${day.applied} applied, ${day.duplicates} already applied, ${day.refused.length} refused\n`);
        for (const message of day.refused) process.stderr.write(`simulate: refused: ${message}\n`);
      },
    });
    printSummary(summary, Boolean(flags.json));
    return summary.refused > 0 ? 1 : 0;
  } finally {
    await new Promise<void>((resolve) => (out ? out.end(() => resolve()) : resolve()));
    await store.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`simulate: ${error.message}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
