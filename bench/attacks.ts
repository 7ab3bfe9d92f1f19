/**
 * The abuse and failure reproductions, run against real processes, printing the figures the
 * hardening work is judged by: requests admitted against a limit across a Redis kill and an
 * empty restart with two gateways; request latency while Redis hangs; Redis memory under an
 * APQ registration flood; an analyst's latency while /health/ready is hammered; and another
 * user's latency under an expensive-query attack, with the protections on and off.
 *
 *   npm run build && node dist/bench/attacks.js [--only redis,hung,apq,readiness,cost] [--members N] [--victim-requests N] [--repeat N] [--redis-port P] [--json]
 *
 * It builds a small simulated library with trained churn and recommendations models in a
 * temporary folder, starts its own redis-server on a free loopback port (never the machine's
 * shared Redis), and removes both at the end.
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { DEVELOPMENT_JWT_SECRET, findProjectRoot, type Role, type SubgraphName } from '../src/config';
import { launchGateway, launchGraph, type LaunchedGateway, type LaunchedGraph } from '../src/graph-launcher';
import { parseFlags } from '../src/cli/flags';
import { openStore } from '../src/store';
import { generateLibrary } from '../src/simulator';
import { trainAndRegister } from '../src/training';
import { freeLoopbackPort } from '../src/util/ports';
import { summarise, type LatencySummary } from './load';

const USAGE = `usage: node dist/bench/attacks.js [--only redis,hung,apq,readiness,cost] [--members N] [--victim-requests N] [--repeat N] [--redis-port P] [--json]
  Runs each attack against its own graph processes and its own redis-server, and prints what it measured.
  --repeat N      runs each attack N times on the same library (default 1)
  --redis-port P  the redis-servers listen on P, P+1, ... (default: ports the system chooses)`;

const ROOT = findProjectRoot(__dirname);
const ATTACKS = ['redis', 'hung', 'apq', 'readiness', 'cost'] as const;
type Attack = (typeof ATTACKS)[number];

function token(role: Role, sub: string): string {
  return jwt.sign({ role }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256', subject: sub, issuer: 'shelfmark', audience: 'shelfmark-graph', expiresIn: '1h' });
}

async function post(url: string, body: unknown, bearer: string): Promise<{ status: number; ms: number; text: string }> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, ms: performance.now() - started, text };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function statusCounts(statuses: number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}


/** A redis-server of this script's own: killed, hung and restarted at will. */
class OwnRedis {
  private child: ChildProcess | undefined;
  constructor(readonly port: number) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      const probe = new Redis({ port: this.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        await sleep(50);
      } finally {
        probe.disconnect();
      }
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }
  kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    });
  }
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.child?.kill(signal);
  }
  async usedMemory(): Promise<number> {
    const client = new Redis({ port: this.port, maxRetriesPerRequest: 0 });
    try {
      const info = await client.info('memory');
      return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
    } finally {
      client.disconnect();
    }
  }
}

interface World {
  graph: LaunchedGraph;
  baseEnv: NodeJS.ProcessEnv;
  gateways: LaunchedGateway[];
  gateway(env: NodeJS.ProcessEnv): Promise<LaunchedGateway>;
  /** Requests the victim sends quiet and again under the cost attack (the attack lasts as long). */
  victimRequests: number;
  /** A port for the next redis-server of this script's own. */
  redisPort(): Promise<number>;
}

const partnerOperation = async (): Promise<{ extensions: unknown; variables: unknown }> => {
  const { readFileSync } = await import('node:fs');
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'schema', 'persisted-queries.json'), 'utf8')) as { operations: { id: string; name: string }[] };
  const bookDetails = manifest.operations.find((o) => o.name === 'BookDetails');
  if (!bookDetails) throw new Error('schema/persisted-queries.json has no BookDetails operation');
  return { variables: { id: '1' }, extensions: { persistedQuery: { version: 1, sha256Hash: bookDetails.id } } };
};

/** Many concurrent loops of `send` until `stopAt`; answers every status. */
async function loops(n: number, stopAt: () => boolean, send: (i: number) => Promise<{ status: number }>): Promise<number[]> {
  const statuses: number[] = [];
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (!stopAt()) statuses.push((await send(i++).catch(() => ({ status: 0 }))).status);
  }));
  return statuses;
}

type RestartPhase = 'beforeKill' | 'whileDown' | 'afterRestart';

/**
 * The worst case for a Redis restart: the partner has spent its limit (the first 429) when Redis
 * is killed, so everything Redis counted is lost; 1.5 s later it starts again, empty, and the
 * load goes on for 6 s more.
 */
async function redisRestart(world: World): Promise<Record<string, unknown>> {
  const redis = new OwnRedis(await world.redisPort());
  await redis.start();
  try {
    const env = { REDIS_URL: redis.url, RATE_LIMIT_PARTNER_MAX: '100', GATEWAY_INSTANCES: '2', GATEWAY_MAX_CONCURRENT_PER_SUBJECT: '1000', REDIS_COMMAND_TIMEOUT_MS: '2000' };
    const pair = await Promise.all([world.gateway(env), world.gateway(env)]);
    const body = await partnerOperation();
    const partner = token('partner', 'attack-partner');
    let phase: RestartPhase = 'beforeKill';
    let stop = false;
    let limitReached = false;
    // Admitted requests by the phase they were sent in, per gateway (a gateway decides as a request arrives).
    const admittedBy: Record<RestartPhase, [number, number]> = { beforeKill: [0, 0], whileDown: [0, 0], afterRestart: [0, 0] };
    const started = Date.now();
    const load = loops(10, () => stop, async (i) => {
      const sentIn = phase;
      const answer = await post(pair[i % 2]!.url, body, partner);
      if (answer.status === 200) admittedBy[sentIn][i % 2]! += 1;
      if (answer.status === 429) limitReached = true;
      return answer;
    });
    while (!limitReached && Date.now() - started < 60_000) await sleep(20);
    const killedAfterMs = Date.now() - started;
    await redis.kill();
    phase = 'whileDown';
    await sleep(1500);
    await redis.start();
    phase = 'afterRestart';
    await sleep(6000);
    stop = true;
    const statuses = await load;
    const counts = statusCounts(statuses);
    return { limit: 100, gateways: 2, admitted: counts['200'] ?? 0, killedAfterMs, admittedByPhaseAndGateway: admittedBy, statuses: counts };
  } finally {
    await redis.kill();
  }
}

async function latencyOf(n: number, send: () => Promise<{ ms: number; status: number }>): Promise<LatencySummary & { statuses: Record<string, number> }> {
  const answers = [];
  for (let i = 0; i < n; i++) answers.push(await send());
  return { ...summarise(answers.map((a) => a.ms)), statuses: statusCounts(answers.map((a) => a.status)) };
}

async function hungRedis(world: World): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  for (const [label, failures] of [['breaker off', '1000000'], ['breaker on (default)', '3']] as const) {
    const redis = new OwnRedis(await world.redisPort());
    await redis.start();
    try {
      const gateway = await world.gateway({ REDIS_URL: redis.url, RATE_LIMIT_PARTNER_MAX: '100000', REDIS_BREAKER_FAILURES: failures });
      const body = await partnerOperation();
      const partner = token('partner', `hung-${failures}`);
      const quiet = await latencyOf(30, () => post(gateway.url, body, partner));
      redis.signal('SIGSTOP');
      const hung = await latencyOf(30, () => post(gateway.url, body, partner));
      redis.signal('SIGCONT');
      results[label] = { quiet: round(quiet), redisHung: round(hung) };
    } finally {
      await redis.kill();
    }
  }
  return results;
}

function round<T extends object>(summary: T): T {
  return Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 10) / 10 : v])) as T;
}

async function apqFlood(world: World): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  const configs: [string, NodeJS.ProcessEnv][] = [
    ['bounds off (as before)', { APQ_MAX_BYTES: String(1e12), APQ_MAX_PER_SUBJECT: String(1e9), APQ_MAX_DOCUMENT_BYTES: String(64 * 1024) }],
    ['bounds on (default)', {}],
  ];
  for (const [label, bounds] of configs) {
    const redis = new OwnRedis(await world.redisPort());
    await redis.start();
    try {
      const gateway = await world.gateway({ REDIS_URL: redis.url, RATE_LIMIT_ANALYST_MAX: '1000000', GATEWAY_MAX_CONCURRENT_PER_SUBJECT: '1000', ...bounds });
      const before = await redis.usedMemory();
      const { createHash } = await import('node:crypto');
      const padding = 'x'.repeat(15_800);
      let registeredDocs = 0;
      const started = Date.now();
      // 300 requests, each a batch of 10 registrations of ~16 KB documents, from 30 analysts.
      const statuses = await loops(10, () => registeredDocs >= 3000, async () => {
        const n = registeredDocs;
        registeredDocs += 10;
        const batch = Array.from({ length: 10 }, (_, k) => {
          const query = `{ models { name } } # ${n + k} ${padding}`;
          return { query, extensions: { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } } };
        });
        return post(gateway.url, batch, token('analyst', `apq-${n % 30}`));
      });
      const after = await redis.usedMemory();
      results[label] = { requests: statuses.length, documentsSent: registeredDocs, seconds: (Date.now() - started) / 1000, redisBytesBefore: before, redisBytesAfter: after, redisBytesAdded: after - before, statuses: statusCounts(statuses) };
    } finally {
      await redis.kill();
    }
  }
  return results;
}

const memberQuery = (id: number) => ({ query: 'query ($id: ID!) { member(id: $id) { churnRisk { probability } } }', variables: { id: String(id) } });

async function readinessFlood(world: World): Promise<Record<string, unknown>> {
  const gateway = await world.gateway({});
  const analyst = token('analyst', 'readiness-analyst');
  const origin = new URL(gateway.url).origin;
  const quiet = await latencyOf(100, () => post(gateway.url, memberQuery(1 + Math.floor(Math.random() * 500)), analyst));
  let stop = false;
  let probes = 0;
  // 137 calls per second, as the reproduction sent.
  const flood = (async () => {
    while (!stop) {
      const tick = Date.now();
      for (let i = 0; i < 137; i++) void fetch(`${origin}/health/ready`).then((r) => r.text()).then(() => probes++, () => undefined);
      await sleep(Math.max(0, 1000 - (Date.now() - tick)));
    }
  })();
  const loaded = await latencyOf(100, () => post(gateway.url, memberQuery(1 + Math.floor(Math.random() * 500)), analyst));
  stop = true;
  await flood;
  return { analystQuiet: round(quiet), analystUnderReadinessFlood: round(loaded), readinessCallsAnswered: probes };
}

async function costAttack(world: World): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  const attack = { query: '{ members(first: 500) { nodes { recommendations(first: 49) { score } } } }' };
  const largestAllowed = { query: '{ members(first: 190) { nodes { recommendations(first: 49) { score } } } }' };
  const configs: [string, NodeJS.ProcessEnv, { query: string }][] = [
    ['protections off (as before)', { GATEWAY_DEMAND_CONTROL: 'measure', GATEWAY_MAX_CONCURRENT_PER_SUBJECT: '1000' }, attack],
    ['protections on, the attack query', {}, attack],
    ['protections on, the most expensive query allowed', {}, largestAllowed],
    // The per-second cost budget switched off (a refill no client reaches), to show what it adds.
    ['protections on but the cost rate, the most expensive query allowed', { GATEWAY_COST_RATE_ANALYST_PER_SECOND: '100000000' }, largestAllowed],
  ];
  for (const [label, env, query] of configs) {
    const gateway = await world.gateway({ RATE_LIMIT_ANALYST_MAX: '1000000', ...env });
    const victim = token('analyst', 'victim-analyst');
    const attacker = token('analyst', `attacker-${label}`);
    const quiet = await latencyOf(world.victimRequests, () => post(gateway.url, memberQuery(1 + Math.floor(Math.random() * 500)), victim));
    let stop = false;
    // Eight clients each sending the query again once answered; a refused one waits 1 s (not a longer Retry-After, as an attacker would not).
    const attackStatuses = loops(8, () => stop, async () => {
      const answer = await post(gateway.url, query, attacker);
      if (answer.status >= 400) await sleep(1000);
      return answer;
    });
    await sleep(500);
    const loaded = await latencyOf(world.victimRequests, () => post(gateway.url, memberQuery(1 + Math.floor(Math.random() * 500)), victim));
    stop = true;
    results[label] = { victimQuiet: round(quiet), victimUnderAttack: round(loaded), p95Ratio: Math.round((loaded.p95 / quiet.p95) * 10) / 10, attackStatuses: statusCounts(await attackStatuses) };
  }
  return results;
}

async function buildWorld(members: number, victimRequests: number, firstRedisPort: number | undefined): Promise<World & { dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-attacks-'));
  const db = path.join(dir, 'library.db');
  const modelsDir = path.join(dir, 'models');
  process.stderr.write(`Building a ${members}-member library with churn and recommendations models in ${dir}...\n`);
  await generateLibrary({ db, seed: 7, members });
  const store = openStore(`sqlite:${db}`);
  try {
    for (const name of ['churn', 'recommendations'] as const) await trainAndRegister(name, store, { seed: 7, progress: () => {}, modelsDir, who: 'attacks', promote: true, seedProduction: true });
  } finally {
    await store.close();
  }
  const baseEnv: NodeJS.ProcessEnv = { DATABASE_URL: `sqlite:${db}`, MODELS_DIR: modelsDir, LOG_LEVEL: 'error', NODE_ENV: 'test', REDIS_URL: '', HOST: '127.0.0.1' };
  const subgraphs: SubgraphName[] = ['library', 'churn', 'recommendations'];
  const closed = await freeLoopbackPort();
  for (const name of ['overdue', 'segmentation', 'demand']) baseEnv[`${name.toUpperCase()}_URL`] = `http://127.0.0.1:${closed}/graphql`;
  const graph = await launchGraph({ projectRoot: ROOT, subgraphs, env: baseEnv, logs: 'ignore' });
  const gateways: LaunchedGateway[] = [];
  return {
    dir,
    graph,
    baseEnv,
    gateways,
    victimRequests,
    // Each attack's redis-server gets a port of its own: the next one up from --redis-port, or one the system chooses.
    redisPort: (() => {
      let next = firstRedisPort;
      return async () => (next === undefined ? freeLoopbackPort() : next++);
    })(),
    gateway: async (env) => {
      const gateway = await launchGateway(ROOT, graph.subgraphUrls, { ...baseEnv, ...env });
      gateways.push(gateway);
      return gateway;
    },
  };
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { only: 'string', members: 'number', 'victim-requests': 'number', repeat: 'number', 'redis-port': 'number', json: 'boolean' }, USAGE);
  const only = flags.only ? flags.only.split(',') : [...ATTACKS];
  for (const name of only) if (!(ATTACKS as readonly string[]).includes(name)) throw new Error(`--only: unknown attack "${name}"; known: ${ATTACKS.join(', ')}\n${USAGE}`);
  const repeat = flags.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100) throw new Error(`--repeat must be a whole number from 1 to 100, got ${repeat}\n${USAGE}`);
  const redisPort = flags['redis-port'];
  if (redisPort !== undefined && !(Number.isInteger(redisPort) && redisPort >= 1024 && redisPort <= 65_000)) throw new Error(`--redis-port must be a port from 1024 to 65000, got ${redisPort}\n${USAGE}`);
  const world = await buildWorld(flags.members ?? 600, Math.max(1, flags['victim-requests'] ?? 60), redisPort);
  const runs: Record<Attack, (w: World) => Promise<Record<string, unknown>>> = { redis: redisRestart, hung: hungRedis, apq: apqFlood, readiness: readinessFlood, cost: costAttack };
  const figures: Record<string, unknown> = {};
  try {
    for (const name of only as Attack[]) {
      const replays: Record<string, unknown>[] = [];
      for (let run = 1; run <= repeat; run++) {
        process.stderr.write(`attack: ${name}${repeat > 1 ? ` (${run} of ${repeat})` : ''}...\n`);
        replays.push(await runs[name](world));
        if (!flags.json) process.stdout.write(`${name}: ${JSON.stringify(replays[replays.length - 1], null, 2)}\n`);
        await Promise.all(world.gateways.splice(0).map((g) => g.stop()));
      }
      figures[name] = repeat === 1 ? replays[0] : replays;
    }
  } finally {
    await Promise.all(world.gateways.map((g) => g.stop()));
    await world.graph.stop();
    rmSync(world.dir, { recursive: true, force: true });
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(figures)}\n`);
}

main().catch((error: Error) => {
  process.stderr.write(`attacks: ${error.message}\n`);
  process.exit(1);
});
