/**
 * `npm run bench:ingest -- [--events N] [--postgres URL] [--rate R] [--seconds S] [--rounds K]
 * [--baseline ROOT] [--only bulk|mutations] [--profile DIR] [--closed C] [--json]`: what the write path costs, printed as
 * figures (never asserted in tests).
 *
 * 1. Bulk ingest: N checkouts written as an NDJSON file and read back through `ndjsonEvents`
 *    and `ingestEvents` (what `npm run ingest` does, 1000 events per transaction) into a fresh
 *    store, on SQLite and on PostgreSQL (when it answers), beside the floor: a plain multi-row
 *    insert of the same loans, events and change records in one transaction, from memory.
 * 2. The mutation path: `checkOut` through the gateway and the library subgraph (real processes
 *    on loopback ports) at a steady R events per second for S seconds, sent open-loop (latency
 *    counted from the moment each request was due), by 16 circulation desks (subjects) so the
 *    gateway's cap on requests in flight per subject is not what is measured; plus the CPU time
 *    each process spent per mutation (Linux), which the machine's load moves less than latency.
 *    `--closed C` sends from C clients, each waiting for its answer, instead of at a rate.
 *
 * With `--baseline ROOT` (another checkout, built), every measurement alternates K rounds
 * between this code and ROOT's, so both arms see the same load; figures are medians of rounds.
 */
import 'reflect-metadata';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'pg';
import { signDevelopmentToken } from '../gateway/auth';
import * as thisCirculation from '../src/circulation';
import type { CirculationEvent } from '../src/circulation';
import { parseFlags, UsageError } from '../src/cli/flags';
import { findProjectRoot, loadConfig, SUBGRAPH_NAMES } from '../src/config';
import { launchGraph, type LaunchedGraph } from '../src/graph-launcher';
import * as thisStore from '../src/store';
import type { Store } from '../src/store';
import { withDefaultPostgresUser } from '../src/simulator';
import { closedLoop, fixedRate, type LatencySummary } from './load';

const USAGE = `usage: npm run bench:ingest -- [--events N] [--postgres URL] [--rate R | --closed C] [--seconds S] [--rounds K] [--baseline ROOT] [--only bulk|mutations] [--profile DIR] [--json]
  Bulk ingest of an NDJSON file into SQLite and PostgreSQL beside a plain insert of the same rows,
  then checkOut mutations through the gateway at a steady rate.
  --events N       checkouts per bulk run (default 50000)
  --postgres URL   PostgreSQL to use, in a schema of its own dropped afterwards (default postgres://127.0.0.1:5432/test)
  --rate R         mutations per second (default 200)
  --closed C       instead of a rate: C clients, each sending its next mutation when the last is answered
                   (with C=1, the CPU per mutation without any queueing)
  --seconds S      how long each mutation round lasts (default 20)
  --rounds K       rounds per arm, alternating with the baseline when there is one (default 1; 3 with --baseline)
  --baseline ROOT  another checkout of Shelfmark, built (node scripts/build.js), measured in alternate rounds
  --only WHAT      bulk or mutations: run only that part
  --profile DIR    run the mutation graphs' processes under node --cpu-prof, profiles in DIR/<arm>/
  --json           print the figures as one JSON object`;

const MEMBERS = 5000;
const BOOKS = 2000;
const DESKS = 16;
const SCHEMA = 'shelfmark_bench_ingest';

/** The code under test: this checkout's, or a baseline's loaded from its dist/. */
interface Arm {
  name: string;
  root: string;
  circulation: Pick<typeof thisCirculation, 'ingestEvents' | 'ndjsonEvents' | 'canonicalContent' | 'contentHash' | 'parseEvent'>;
  store: Pick<typeof thisStore, 'openStore' | 'migrateStore' | 'exclusiveTransaction'>;
}

function baselineArm(root: string): Arm {
  const dist = path.join(path.resolve(root), 'dist', 'src');
  return { name: 'baseline', root: path.resolve(root), circulation: require(path.join(dist, 'circulation')), store: require(path.join(dist, 'store')) };
}

async function seedStore(arm: Arm, store: Store): Promise<void> {
  await arm.store.migrateStore(store);
  await arm.store.exclusiveTransaction(store, async (db) => {
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

function checkoutLines(count: number): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({
    id: `bulk-${i}`, type: 'checkOut', at: `2025-01-${String(2 + Math.floor((i * 20) / count)).padStart(2, '0')}`,
    memberId: String((i % MEMBERS) + 1), bookId: String((i % BOOKS) + 1), branchId: String((i % 2) + 1),
  }));
}

/** The floor: the same loans, events and change records in multi-row inserts, one transaction, no checks. */
async function plainInsert(arm: Arm, store: Store, events: CirculationEvent[]): Promise<void> {
  const { canonicalContent, contentHash } = arm.circulation;
  await arm.store.exclusiveTransaction(store, async (db) => {
    for (let start = 0; start < events.length; start += 500) {
      const slice = events.slice(start, start + 500);
      const loans = slice.map((e, i) => {
        if (e.type !== 'checkOut') throw new Error('checkouts only');
        return { id: start + i + 1, member_id: e.memberId, book_id: e.bookId, branch_id: e.branchId, checked_out_at: e.at.slice(0, 10), due_at: '2025-02-01', returned_at: null, renewals: 0 };
      });
      await db.insertInto('loans').values(loans).execute();
      await db.insertInto('events').values(slice.map((e, i) => {
        const content = canonicalContent(e);
        return { id: e.id, type: e.type, content, content_hash: contentHash(content), at: e.type === 'advanceClock' ? e.to : e.at.slice(0, 10), loan_id: start + i + 1, member_id: loans[i]?.member_id ?? null };
      })).execute();
      await db.insertInto('changes').values(slice.flatMap((e, i) => (['loan', 'member', 'book'] as const).map((entity, k) => ({
        seq: (start + i) * 3 + k + 1, entity, entity_id: String(entity === 'loan' ? start + i + 1 : entity === 'member' ? loans[i]?.member_id : loans[i]?.book_id), event_id: e.id,
      })))).execute();
    }
  });
}

interface Target { url: string; drop(): Promise<void> }

interface BulkFigures {
  store: string;
  events: number;
  /** Median events per second of wall time, by arm. */
  perSecond: Record<string, number>;
  /** Median CPU microseconds this process spent per event: all of the work on SQLite, the client's share on PostgreSQL. */
  cpuMicrosPerEvent: Record<string, number>;
  rounds: Record<string, number[]>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)] ?? NaN;

async function bulk(label: string, target: () => Promise<Target>, arms: Arm[], count: number, rounds: number, file: string): Promise<BulkFigures> {
  const events = checkoutLines(count).map((line) => thisCirculation.parseEvent(JSON.parse(line)));
  const measured: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? arms : [...arms].reverse();
    for (const [arm, method] of [...order.map((a) => [a, 'ingest'] as const), [arms[0]!, 'plain insert'] as const]) {
      const key = method === 'ingest' ? `${arm.name} ingest` : 'plain insert';
      const where = await target();
      const store = arm.store.openStore(where.url);
      try {
        await seedStore(arm, store);
        const started = performance.now();
        const cpuBefore = process.cpuUsage();
        if (method === 'ingest') {
          const progress = await arm.circulation.ingestEvents(store, arm.circulation.ndjsonEvents(file), { batchSize: 1000 });
          if (progress.applied !== count) throw new Error(`${key}: ${progress.applied} of ${count} events applied`);
        } else {
          await plainInsert(arm, store, events);
        }
        (measured[key] ??= []).push(count / ((performance.now() - started) / 1000));
        const used = process.cpuUsage(cpuBefore);
        (cpu[key] ??= []).push((used.user + used.system) / count);
      } finally {
        await store.close();
        await where.drop();
      }
    }
  }
  const medians = (values: Record<string, number[]>, digits: number) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Number(median(v).toFixed(digits))]));
  return { store: label, events: count, perSecond: medians(measured, 0), cpuMicrosPerEvent: medians(cpu, 1), rounds: measured };
}

/** CPU milliseconds (user + system) a process has used, from /proc; undefined off Linux. */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

interface MutationRound {
  arm: string; sent: number; failed: number; errorSamples: string[]; latencyMs: LatencySummary;
  /** CPU each process spent in the round, per answered mutation. */
  cpuMsPerMutation: Record<string, number | null>;
  /** The same less what the process spends idle (timers, health checks), measured just before the round. */
  netCpuMsPerMutation: Record<string, number | null>;
  /** CPU each process spends per second with no requests. */
  idleCpuMsPerSecond: Record<string, number | null>;
}

const IDLE_WINDOW_MS = 5000;

/** CPU milliseconds each process spends per second while the graph is left alone for `IDLE_WINDOW_MS`. */
async function idleCpu(pids: Record<string, number | undefined>): Promise<Record<string, number | null>> {
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid)]));
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, IDLE_WINDOW_MS));
  const seconds = (performance.now() - started) / 1000;
  return Object.fromEntries(Object.entries(pids).map(([name, pid]) => {
    const start = before[name];
    const end = cpuMs(pid);
    return [name, start === undefined || end === undefined ? null : (end - start) / seconds];
  }));
}

async function mutationGraph(arm: Arm, dir: string, profileDir?: string): Promise<{ graph: LaunchedGraph; tokens: string[] }> {
  const db = path.join(dir, `${arm.name}.db`);
  const store = arm.store.openStore(`sqlite:${db}`);
  await seedStore(arm, store);
  await store.close();
  const config = loadConfig();
  const closed = 'http://127.0.0.1:9/graphql';
  const env: NodeJS.ProcessEnv = { DATABASE_URL: `sqlite:${db}`, LOG_LEVEL: 'error', NODE_ENV: 'test', REDIS_URL: '', CLOCK: 'stored', ...Object.fromEntries(SUBGRAPH_NAMES.map((n) => [`${n.toUpperCase()}_URL`, closed])) };
  const execArgv = profileDir ? ['--cpu-prof', '--cpu-prof-dir', path.join(path.resolve(profileDir), arm.name)] : undefined;
  const graph = await launchGraph({ projectRoot: arm.root, subgraphs: ['library'], env, logs: 'ignore', execArgv });
  const tokens = Array.from({ length: DESKS }, (_, k) => signDevelopmentToken(config, { sub: `bench-desk-${k}`, role: 'circulation' }, '4h'));
  return { graph, tokens };
}

/** How a round sends: at a steady rate (open loop), or from `connections` clients each waiting for its answer before the next. */
type Pace = { rate: number } | { connections: number };

async function mutationRound(arm: Arm, graph: LaunchedGraph, tokens: string[], round: number, pace: Pace, seconds: number): Promise<MutationRound> {
  const query = 'mutation C($input: CheckOutInput!) { checkOut(input: $input) { applied loan { id } } }';
  const pids = Object.fromEntries([...graph.processes].map(([name, child]) => [name, child.pid]));
  const idle = await idleCpu(pids);
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, cpuMs(pid)]));
  const started = performance.now();
  const day = `2025-01-${String(2 + round).padStart(2, '0')}`;
  const target = {
    url: graph.gatewayUrl,
    next: (i: number) => ({
      role: 'circulation' as const,
      body: JSON.stringify({ query, variables: { input: { eventId: `round-${round}-${i}`, memberId: String((i % MEMBERS) + 1), bookId: String((i % BOOKS) + 1), branchId: '1', at: `${day}T10:00:00Z` } } }),
    }),
    tokenFor: (_role: string, i: number) => tokens[i % tokens.length] ?? '',
  };
  const result = 'rate' in pace ? await fixedRate(target, { rate: pace.rate, seconds }) : await closedLoop(target, pace.connections, seconds);
  const elapsedSeconds = (performance.now() - started) / 1000;
  const spent = Object.entries(pids).map(([name, pid]): [string, number | undefined] => {
    const start = before[name];
    const end = cpuMs(pid);
    return [name, start === undefined || end === undefined ? undefined : end - start];
  });
  const perMutation = (ms: number) => Number((ms / result.requests).toFixed(2));
  const cpuMsPerMutation = Object.fromEntries(spent.map(([name, ms]) => [name, ms === undefined ? null : perMutation(ms)]));
  const netCpuMsPerMutation = Object.fromEntries(spent.map(([name, ms]) => {
    const idleRate = idle[name];
    return [name, ms === undefined || idleRate == null ? null : perMutation(ms - idleRate * elapsedSeconds)];
  }));
  const idleCpuMsPerSecond = Object.fromEntries(Object.entries(idle).map(([name, rate]) => [name, rate === null ? null : Number(rate.toFixed(1))]));
  return { arm: arm.name, sent: result.requests, failed: result.errors, errorSamples: result.errorSamples, latencyMs: result.latency, cpuMsPerMutation, netCpuMsPerMutation, idleCpuMsPerSecond };
}

async function mutations(arms: Arm[], pace: Pace, seconds: number, rounds: number, profileDir?: string): Promise<MutationRound[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-bench-mutations-'));
  const graphs: { arm: Arm; graph: LaunchedGraph; tokens: string[] }[] = [];
  try {
    for (const arm of arms) graphs.push({ arm, ...(await mutationGraph(arm, dir, profileDir)) });
    const results: MutationRound[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const { arm, graph, tokens } of round % 2 === 0 ? graphs : [...graphs].reverse()) {
        results.push(await mutationRound(arm, graph, tokens, round, pace, seconds));
      }
    }
    return results;
  } finally {
    await Promise.all(graphs.map(({ graph }) => graph.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

function sqliteTargets(dir: string): () => Promise<Target> {
  let n = 0;
  return () => {
    const file = path.join(dir, `bulk-${n++}.db`);
    return Promise.resolve({ url: `sqlite:${file}`, drop: async () => rmSync(file, { force: true }) });
  };
}

function postgresTargets(base: string): () => Promise<Target> {
  return async () => {
    const admin = new Pool({ connectionString: base, max: 1 });
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin.query(`CREATE SCHEMA ${SCHEMA}`);
    const url = `${base}${base.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;
    return { url, drop: async () => { await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`); await admin.end(); } };
  };
}

function printFigures(figures: { bulk: BulkFigures[]; mutations: MutationRound[]; postgresError?: string }): void {
  for (const b of figures.bulk) {
    const parts = Object.entries(b.perSecond).map(([key, rate]) => `${key} ${rate}/s (${b.cpuMicrosPerEvent[key]} µs CPU/event)`).join(', ');
    process.stdout.write(`bulk ${b.store.padEnd(8)} ${b.events} checkouts (median of ${b.rounds['plain insert']?.length ?? 0}): ${parts}\n`);
  }
  if (figures.postgresError) process.stdout.write(`bulk postgres: not measured (${figures.postgresError})\n`);
  for (const m of figures.mutations) {
    const cpu = Object.entries(m.cpuMsPerMutation).map(([name, ms]) => `${name} ${ms ?? '?'} ms (${m.netCpuMsPerMutation[name] ?? '?'} ms above idle, idle ${m.idleCpuMsPerSecond[name] ?? '?'} ms/s)`).join(', ');
    process.stdout.write(`mutations ${m.arm.padEnd(8)} ${m.sent} sent, ${m.failed} failed; p50 ${m.latencyMs.p50.toFixed(1)} ms, p95 ${m.latencyMs.p95.toFixed(1)} ms, p99 ${m.latencyMs.p99.toFixed(1)} ms, max ${m.latencyMs.max.toFixed(1)} ms; CPU per mutation: ${cpu}\n`);
    for (const sample of m.errorSamples) process.stdout.write(`  failed: ${sample}\n`);
  }
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), {
    events: 'number', postgres: 'string', rate: 'number', closed: 'number', seconds: 'number', rounds: 'number', baseline: 'string', only: 'string', json: 'boolean', profile: 'string',
  }, USAGE);
  if (flags.only !== undefined && flags.only !== 'bulk' && flags.only !== 'mutations') throw new UsageError(`--only must be bulk or mutations, got "${flags.only}"`);
  const count = flags.events ?? 50_000;
  const rounds = flags.rounds ?? (flags.baseline ? 3 : 1);
  for (const [name, value] of [['events', count], ['rounds', rounds], ['rate', flags.rate ?? 200], ['closed', flags.closed ?? 1], ['seconds', flags.seconds ?? 20]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${name} must be a positive whole number, got ${value}`);
  }
  const arms: Arm[] = [{ name: 'this', root: findProjectRoot(), circulation: thisCirculation, store: thisStore }];
  if (flags.baseline) arms.push(baselineArm(flags.baseline));
  const figures: { bulk: BulkFigures[]; mutations: MutationRound[]; postgresError?: string } = { bulk: [], mutations: [] };
  if (flags.only !== 'mutations') {
    const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-bench-bulk-'));
    const file = path.join(dir, 'checkouts.ndjson');
    writeFileSync(file, `${checkoutLines(count).join('\n')}\n`);
    try {
      figures.bulk.push(await bulk('sqlite', sqliteTargets(dir), arms, count, rounds, file));
      try {
        figures.bulk.push(await bulk('postgres', postgresTargets(withDefaultPostgresUser(flags.postgres ?? 'postgres://127.0.0.1:5432/test', process.env)), arms, count, rounds, file));
      } catch (error) {
        figures.postgresError = (error as Error).message;
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const pace: Pace = flags.closed !== undefined ? { connections: flags.closed } : { rate: flags.rate ?? 200 };
  if (flags.only !== 'bulk') figures.mutations = await mutations(arms, pace, flags.seconds ?? 20, rounds, flags.profile);
  if (flags.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
  else printFigures(figures);
}

main().catch((error: Error) => {
  process.stderr.write(`bench:ingest: ${error.message}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
