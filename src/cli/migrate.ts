/**
 * `npm run migrate -- [--db URL] [--status] [--json]`: brings a store's schema up to the latest
 * migration (what a compose one-shot service runs before the graph starts), or shows where it is.
 */
import { loadConfig } from '../config';
import { LATEST_MIGRATION, migrateStore, migrationStates, openStore } from '../store';
import { describeTarget, resolveTarget, withDefaultPostgresUser } from '../simulator';
import { parseFlags, UsageError } from './flags';

const USAGE = `usage: npm run migrate -- [--db URL] [--status] [--json]
  Applies the store's pending schema migrations (SQLite and PostgreSQL alike), in one
  transaction under the store's write lock; safe to run while the graph is up, and a no-op
  when the schema is current (latest: ${LATEST_MIGRATION}).
  --db URL    SQLite file (or sqlite:PATH) or postgres://... (default: DATABASE_URL, else data/shelfmark.db)
  --status    list every migration and when it ran, change nothing
  --json      print the result as JSON`;

async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv, { db: 'string', status: 'boolean', json: 'boolean' }, USAGE);
  const url = withDefaultPostgresUser(flags.db ?? loadConfig().databaseUrl, process.env);
  const target = resolveTarget(url);
  const store = openStore(target.kind === 'sqlite' ? `sqlite:${target.file}` : target.url);
  try {
    if (flags.status) {
      const states = await migrationStates(store);
      if (flags.json) process.stdout.write(`${JSON.stringify({ target: describeTarget(target), migrations: states })}\n`);
      else for (const s of states) process.stdout.write(`${s.name.padEnd(28)} ${s.executedAt ? s.executedAt.toISOString() : 'pending'}\n`);
      return;
    }
    const steps = await migrateStore(store);
    if (flags.json) process.stdout.write(`${JSON.stringify({ target: describeTarget(target), applied: steps.map((s) => s.name), latest: LATEST_MIGRATION })}\n`);
    else if (steps.length === 0) process.stdout.write(`${describeTarget(target)}: schema is current (${LATEST_MIGRATION})\n`);
    else process.stdout.write(`${describeTarget(target)}: applied ${steps.map((s) => s.name).join(', ')}\n`);
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).catch((error: Error) => {
  process.stderr.write(`migrate: ${error.message}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
