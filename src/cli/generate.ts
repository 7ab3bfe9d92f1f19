/**
 * `npm run generate -- [--seed N] [--members N] [--db PATH] [--force | --if-empty]`: builds a simulated
 * library. Progress goes to stderr, the summary to stdout.
 */
import { existsSync } from 'node:fs';
import { loadConfig } from '../config';
import { libraryLoaded, openStore } from '../store';
import { parseFlags, UsageError } from './flags';
import {
  DEFAULT_AS_OF,
  DEFAULT_MEMBERS,
  DEFAULT_SEED,
  DEFAULT_YEARS,
  describeTarget,
  generateLibrary,
  LATE_TARGETS,
  resolveTarget,
  TargetError,
  withDefaultPostgresUser,
  type GenerationProgress,
  type GenerationSummary,
} from '../simulator';

const HELP = `Usage: npm run generate -- [options]

Builds a simulated library: the real goodbooks-10k catalogue, simulated members and three
years of loans, with the true probabilities behind every simulated outcome (sim_* tables).
The same seed always gives the same data.

Options:
  --seed N       random seed (default ${DEFAULT_SEED})
  --members N    number of members (default ${DEFAULT_MEMBERS}; about 50 loans each)
  --db PATH      SQLite file (or sqlite:PATH), or postgres://user@host:port/db
                 (default: DATABASE_URL, else data/shelfmark.db)
  --force        replace an existing database (SQLite: the file; PostgreSQL: the tables
                 in the connection's current schema). Stop servers using it first.
  --if-empty     load only when the database holds no library yet (no tables, or only the
                 migrated schema); a loaded library is left as it is and the run succeeds.
                 What a one-shot init service runs on every start.
  --as-of DATE   last simulated day, the system's "now" (default ${DEFAULT_AS_OF})
  --years N      years simulated up to --as-of (default ${DEFAULT_YEARS})
  -h, --help     show this help

An SQLite database is built in a temporary file beside the target (<db>-tmp-<pid>) and
renamed into place when complete; PostgreSQL tables are replaced in one transaction. An
interrupted run (Ctrl-C) leaves any previous database untouched; the next run removes the
temporary file it left behind.

Members are simulated and written 10,000 at a time; their loans wait on disk until all are
simulated (about 24 bytes a loan, 1.2 GB for 1,000,000 members: in <db>-tmp-<pid>-loans
beside an SQLite target, in the system's temporary folder for PostgreSQL), so memory grows
with the members, not the loans. Progress goes to stderr.`;

function integerFlag(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) throw new UsageError(`--${name} must be a whole number, got "${raw}"`);
  return value;
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function printProgress(progress: GenerationProgress): void {
  process.stderr.write(`[${formatSeconds(progress.elapsedMs).padStart(6)}] ${progress.phase.padEnd(9)} ${progress.message}\n`);
}

function formatCount(n: number): string {
  return n.toLocaleString('en-GB');
}

function percent(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function printSummary(summary: GenerationSummary): void {
  const lines: string[] = [];
  lines.push(`Generated in ${formatSeconds(summary.elapsedMs)}: ${summary.target}`);
  lines.push(`seed ${summary.seed}, ${formatCount(summary.members)} members, loans ${summary.windowStart} .. ${summary.asOf} (as of ${summary.asOf})`);
  lines.push('', 'table                    rows');
  for (const [table, rows] of Object.entries(summary.rowCounts)) lines.push(`${table.padEnd(18)} ${formatCount(rows).padStart(10)}`);
  lines.push('', 'overdue share by collection (loans due before the as-of day)');
  lines.push(`${'collection'.padEnd(20)} ${'loans'.padStart(9)} ${'overdue'.padStart(8)} ${'share'.padStart(7)} ${'target'.padStart(7)}`);
  for (const row of summary.overdueByCollection) {
    const target = row.collection === 'All' ? '' : percent(LATE_TARGETS[row.collection]);
    lines.push(
      `${row.collection.padEnd(20)} ${formatCount(row.matured).padStart(9)} ${formatCount(row.overdue).padStart(8)} ${percent(row.share).padStart(7)} ${target.padStart(7)}`,
    );
  }
  lines.push(`late oracle AUC (true probability vs outcome): ${summary.lateOracleAuc.toFixed(3)}`);
  lines.push('', 'churn: no loan in the 90 days after the cut-off');
  lines.push(`${'cut-off'.padEnd(10)} ${'members'.padStart(8)} ${'realised'.padStart(9)} ${'oracle mean'.padStart(12)} ${'oracle AUC'.padStart(11)}`);
  for (const check of summary.churn) {
    lines.push(
      `${check.cutoff.padEnd(10)} ${formatCount(check.members).padStart(8)} ${percent(check.realisedRate).padStart(9)} ${percent(check.meanProbability).padStart(12)} ${check.oracleAuc.toFixed(3).padStart(11)}`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Whole numbers are checked by integerFlag, so they are read as text here.
  const { flags: values, positionals } = parseFlags(argv, { seed: 'string', members: 'string', db: 'string', force: 'boolean', 'if-empty': 'boolean', 'as-of': 'string', years: 'string' }, HELP);
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"\n${HELP}`);
  const db = withDefaultPostgresUser(values.db ?? loadConfig(env).databaseUrl, env);
  if (values['if-empty'] && values.force) throw new UsageError('--if-empty and --force exclude each other');
  if (values['if-empty']) {
    const target = resolveTarget(db);
    const store = target.kind === 'sqlite' && !existsSync(target.file) ? undefined : openStore(target.kind === 'sqlite' ? `sqlite:${target.file}` : target.url);
    try {
      if (store && (await libraryLoaded(store))) {
        process.stdout.write(`${describeTarget(target)}: a library is loaded already; nothing to do\n`);
        return 0;
      }
    } finally {
      await store?.close();
    }
  }
  const summary = await generateLibrary(
    {
      db,
      seed: integerFlag('seed', values.seed, DEFAULT_SEED),
      members: integerFlag('members', values.members, DEFAULT_MEMBERS),
      years: integerFlag('years', values.years, DEFAULT_YEARS),
      asOf: values['as-of'] ?? DEFAULT_AS_OF,
      // --if-empty: what is there is at most the migrated, empty schema, which the load replaces.
      force: Boolean(values.force || values['if-empty']),
    },
    printProgress,
  );
  printSummary(summary);
  return 0;
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof RangeError) {
      // parseFlags ends its messages with the usage already.
      process.stderr.write(`generate: ${error.message}${error.message.endsWith(HELP) ? '' : `\n\n${HELP}`}\n`);
      process.exit(2);
    }
    if (error instanceof TargetError) {
      process.stderr.write(`generate: ${error.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`generate: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
