/**
 * `npm run bench:ingest -- [--events N] [--postgres URL] [--rate R] [--seconds S] [--json]`:
 * what the write path costs, printed as figures (never asserted in tests).
 *
 * 1. Bulk ingest (`ingestEvents`, 1000 events per transaction) of N checkouts into a fresh
 *    store, on SQLite and on PostgreSQL (when it answers), beside the floor: a plain multi-row
 *    insert of the same loans, events and change records in one transaction.
 * 2. The mutation path: `checkOut` through the gateway and the library subgraph (real processes
 *    on loopback ports) at a steady R events per second for S seconds; latency percentiles.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { signDevelopmentToken } from '../gateway/auth';
import { canonicalContent, contentHash, ingestEvents, parseEvent, type CirculationEvent, type SourceLine } from '../src/circulation';
import { parseFlags } from '../src/cli/flags';
import { findProjectRoot, loadConfig, SUBGRAPH_NAMES } from '../src/config';
import { launchGraph } from '../src/graph-launcher';
import { exclusiveTransaction, migrateStore, openStore, type Store } from '../src/store';
import { withDefaultPostgresUser } from '../src/simulator';
import { summarise, type LatencySummary } from './load';

const USAGE = `usage: npm run bench:ingest -- [--events N] [--postgres URL] [--rate R] [--seconds S] [--json]
  Bulk ingest into SQLite and PostgreSQL beside a plain insert of the same rows, then checkOut
  mutations through the gateway at a steady rate.
  --events N      checkouts per bulk run (default 50000)
  --postgres URL  PostgreSQL to use, in a schema of its own dropped afterwards (default postgres://127.0.0.1:5432/test)
  --rate R        mutations per second (default 200)
  --seconds S     how long the mutation run lasts (default 20)
  --json          print the figures as one JSON object`;

const MEMBERS = 5000;
const BOOKS = 2000;
const SCHEMA = 'shelfmark_bench_ingest';

async function seedStore(store: Store): Promise<void> {
  await migrateStore(store);
  await exclusiveTransaction(store, async (db) => {
    await db.insertInto('meta').values({ key: 'as_of', value: '2025-01-01' }).execute();
    await db.insertInto('branches').values([{ id: 1, name: 'Central', size: 1 }, { id: 2, name: 'Riverside', size: 0.5 }]).execute();
    for (let start = 0; start < MEMBERS; start += 1000) {
      await db.insertInto('members').values(Array.from({ length: 1000 }, (_, i) => ({
        id: start + i + 1, name: `Member ${start + i + 1}`, email: `m${start + i + 1}@example.org`, joined_at: '2020-01-01', branch_id: 1,
      }))).execute();
    }
    for (let start = 0; start < BOOKS; start += 1000) {
      await db.insertInto('books').values(Array.from({ length: 1000 }, (_, i) => ({
        id: start + i + 1, title: `Book ${start + i + 1}`, authors: '[]', genre: 'Fiction', collection: 'Adult Fiction',
        publication_year: null, isbn: null, average_rating: 4, ratings_count: 10,
      }))).execute();
    }
  });
}

function checkouts(count: number, prefix: string): CirculationEvent[] {
  return Array.from({ length: count }, (_, i) => parseEvent({
    id: `${prefix}-${i}`, type: 'checkOut', at: `2025-01-${String(2 + Math.floor((i * 20) / count)).padStart(2, '0')}`,
    memberId: (i % MEMBERS) + 1, bookId: (i % BOOKS) + 1, branchId: (i % 2) + 1,
  }));
}

async function* lines(events: CirculationEvent[]): AsyncGenerator<SourceLine> {
  for (let i = 0; i < events.length; i++) yield { line: i + 1, event: events[i]! };
}

/** The floor: the same loans, events and change records in multi-row inserts, one transaction, no checks. */
async function plainInsert(store: Store, events: CirculationEvent[]): Promise<void> {
  await exclusiveTransaction(store, async (db) => {
    for (let start = 0; start < events.length; start += 500) {
      const slice = events.slice(start, start + 500);
      const loans = slice.map((e, i) => {
        if (e.type !== 'checkOut') throw new Error('checkouts only');
        return { id: start + i + 1, member_id: e.memberId, book_id: e.bookId, branch_id: e.branchId, checked_out_at: e.at.slice(0, 10), due_at: '2025-02-01', returned_at: null, renewals: 0 };
      });
      await db.insertInto('loans').values(loans).execute();
      await db.insertInto('events').values(slice.map((e, i) => {
        const content = canonicalContent(e);
        return { id: e.id, type: e.type, content, content_hash: contentHash(content), at: e.type === 'advanceClock' ? e.to : e.at.slice(0, 10), loan_id: start + i + 1, member_id: loans[i]!.member_id };
      })).execute();
      await db.insertInto('changes').values(slice.flatMap((e, i) => (['loan', 'member', 'book'] as const).map((entity, k) => ({
        seq: (start + i) * 3 + k + 1, entity, entity_id: String(entity === 'loan' ? start + i + 1 : entity === 'member' ? loans[i]!.member_id : loans[i]!.book_id), event_id: e.id,
      })))).execute();
    }
  });
}

interface BulkFigures { store: string; events: number; ingestPerSecond: number; plainInsertPerSecond: number }

async function bulk(label: string, url: () => Promise<{ url: string; drop(): Promise<void> }>, count: number): Promise<BulkFigures> {
  const rates: number[] = [];
  for (const method of ['ingest', 'plain'] as const) {
    const target = await url();
    const store = openStore(target.url);
    try {
      await seedStore(store);
      const events = checkouts(count, method);
      const started = performance.now();
      if (method === 'ingest') await ingestEvents(store, lines(events), { batchSize: 1000 });
      else await plainInsert(store, events);
      rates.push(count / ((performance.now() - started) / 1000));
    } finally {
      await store.close();
      await target.drop();
    }
  }
  return { store: label, events: count, ingestPerSecond: Math.round(rates[0] ?? 0), plainInsertPerSecond: Math.round(rates[1] ?? 0) };
}

async function mutationRun(rate: number, seconds: number): Promise<{ rate: number; sent: number; failed: number; latencyMs: LatencySummary }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-bench-ingest-'));
  const db = path.join(dir, 'library.db');
  const store = openStore(`sqlite:${db}`);
  await seedStore(store);
  await store.close();
  const config = loadConfig();
  const closed = 'http://127.0.0.1:9/graphql';
  const env: NodeJS.ProcessEnv = { DATABASE_URL: `sqlite:${db}`, LOG_LEVEL: 'error', NODE_ENV: 'test', REDIS_URL: '', ...Object.fromEntries(SUBGRAPH_NAMES.map((n) => [`${n.toUpperCase()}_URL`, closed])) };
  const graph = await launchGraph({ projectRoot: findProjectRoot(), subgraphs: ['library'], env, logs: 'ignore' });
  const token = signDevelopmentToken(config, { sub: 'bench-circulation', role: 'circulation' }, '1h');
  const query = 'mutation C($input: CheckOutInput!) { checkOut(input: $input) { applied loan { id } } }';
  const latencies: number[] = [];
  let failed = 0;
  const total = rate * seconds;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  try {
    for (let i = 0; i < total; i++) {
      const wait = started + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const input = { eventId: `bench-${i}`, memberId: String((i % MEMBERS) + 1), bookId: String((i % BOOKS) + 1), branchId: '1', at: '2025-01-02T10:00:00Z' };
      const sent = performance.now();
      inFlight.push(fetch(graph.gatewayUrl, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables: { input } }),
      }).then(async (response) => {
        const body = (await response.json()) as { errors?: unknown[] };
        if (!response.ok || body.errors) failed += 1;
        latencies.push(performance.now() - sent);
      }, () => {
        failed += 1;
      }));
    }
    await Promise.all(inFlight);
  } finally {
    await graph.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { rate, sent: total, failed, latencyMs: summarise(latencies) };
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { events: 'number', postgres: 'string', rate: 'number', seconds: 'number', json: 'boolean' }, USAGE);
  const count = flags.events ?? 50_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-bench-bulk-'));
  let n = 0;
  const sqlite = () => {
    const file = path.join(dir, `bulk-${n++}.db`);
    return Promise.resolve({ url: `sqlite:${file}`, drop: async () => rmSync(file, { force: true }) });
  };
  const base = withDefaultPostgresUser(flags.postgres ?? 'postgres://127.0.0.1:5432/test', process.env);
  const postgres = async () => {
    const admin = new Pool({ connectionString: base, max: 1 });
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin.query(`CREATE SCHEMA ${SCHEMA}`);
    const url = `${base}${base.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;
    return { url, drop: async () => { await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`); await admin.end(); } };
  };
  const figures: { bulk: BulkFigures[]; mutations?: Awaited<ReturnType<typeof mutationRun>>; postgresError?: string } = { bulk: [] };
  try {
    figures.bulk.push(await bulk('sqlite', sqlite, count));
    try {
      figures.bulk.push(await bulk('postgres', postgres, count));
    } catch (error) {
      figures.postgresError = (error as Error).message;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  figures.mutations = await mutationRun(flags.rate ?? 200, flags.seconds ?? 20);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    return;
  }
  for (const b of figures.bulk) process.stdout.write(`bulk ${b.store.padEnd(8)} ${b.events} checkouts: ingest ${b.ingestPerSecond} events/s, plain insert ${b.plainInsertPerSecond} rows/s\n`);
  if (figures.postgresError) process.stdout.write(`bulk postgres: not measured (${figures.postgresError})\n`);
  const m = figures.mutations;
  process.stdout.write(`mutations at ${m.rate}/s for ${m.sent} events: ${m.failed} failed; p50 ${m.latencyMs.p50.toFixed(1)} ms, p95 ${m.latencyMs.p95.toFixed(1)} ms, p99 ${m.latencyMs.p99.toFixed(1)} ms, max ${m.latencyMs.max.toFixed(1)} ms\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`bench:ingest: ${error.message}\n`);
  process.exit(1);
});
