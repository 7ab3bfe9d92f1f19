/**
 * `npm run bench`: the graph under load against its own floor. Starts the graph (or uses the one
 * answering on the gateway port), warms it, runs each scenario at fixed concurrency levels and
 * at a fixed rate, and prints latency, throughput, errors, CPU and memory of every process,
 * inference runs per request per model, and where the time of scenarios 1 and 2 goes.
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { loadConfig, MODEL_NAMES, SUBGRAPH_NAMES, type Config, type Role, type SubgraphName } from '../config';
import { readProductionPointer } from '../registry';
import { signDevelopmentToken } from '../../gateway/auth';
import { loadSupergraph, subgraphsIn } from '../../gateway/subgraphs';
import { launchGraph, untilWarmed, type LaunchedGraph } from '../graph-launcher';
import { openStore, sqlitePath } from '../store';
import { openFloor, type Floor, type FloorResult } from '../../bench/floor';
import { closedLoop, fixedRate, type LoadResult, type LoadTarget } from '../../bench/load';
import { difference, quiesce, scrapeAll, type ProcessCounters } from '../../bench/metrics';
import { graphMemory, loadAverage, pidsListeningOn, rssMbByProcess, UsageWindow, type GraphMemory, type ProcessUsage } from '../../bench/processes';
import { buildScenarios, choosePartnerOperation, entitySequence, PAGE_SIZE, SCENARIO_IDS, type PersistedOperationRef, type Scenario, type ScenarioId } from '../../bench/scenarios';
import { parseFlags } from './flags';

const USAGE = `usage: npm run bench -- [options]
  Load-tests the graph on 127.0.0.1 and prints p50/p95/p99 latency, requests/s, errors, CPU and RSS of
  every process, the whole graph's memory (resident with shared pages counted once, and summed RSS),
  inference runs per request per model, and the in-process floor of scenarios 1 and 2. A missing
  library is generated first, as npm start does.
  Scenarios: 1 member (one member's predictions), 2 page (${PAGE_SIZE} members), 3 book (similar books,
  demand), 4 partner (a persisted query by id). Fields of subgraphs not yet in schema/supergraph.graphql
  are left out and listed.

  --scenarios LIST     ids or numbers, comma-separated (default: all)                e.g. member,page or 1,2
  --concurrency LIST   closed-loop connection counts (default 1,8,32)
  --duration S         seconds per concurrency level (default 10)
  --warmup S           seconds of warm-up per scenario, not measured (default 3)
  --rate R             requests/s of the fixed-rate run of scenario 1 (default 100; 0 skips it)
  --rate-seconds S     length of the fixed-rate run (default 20)
  --floor-seconds S    time spent measuring each floor (default 3; 0 skips the floor)
  --soak S             instead of the scenarios: S seconds (300 for the soak in BENCHMARKS.md) at --rate
                       of scenarios 1, 3 and 4 in turn, reporting the memory growth of every process and
                       of the whole graph, and failed requests
  --mode M             production (default) or development: how a graph the benchmark starts runs.
                       production is what serves (NODE_ENV=production, secrets generated for the run);
                       graphql-js skips its development-only checks there
  --launch             always start a fresh graph on free ports (default: use the graph answering on
                       the gateway port, else start one and stop it afterwards)
  --profile DIR        with a graph the benchmark starts: every process writes a V8 CPU profile into DIR
                       when it stops (summarise one with node dist/bench/profile-summary.js FILE)
  --prediction-log on|off
                       with a graph the benchmark starts (implies --launch): record every prediction (on,
                       the default) or not, for an interleaved A/B of the prediction log's overhead
  --start-timeout S    with a graph the benchmark starts: seconds each process may take to start (default 60;
                       more on a loaded machine, where six subgraphs start at once)
  --port-base P        with a graph the benchmark starts: the gateway on P and the subgraphs on P+1, P+2, ...
                       (default: ports the system chooses)
  --label TEXT         stored in the JSON, e.g. the optimisation being measured
  --json FILE          where to write the results (default bench/results/bench-<time>.json)`;

interface GraphHandle {
  gatewayUrl: string;
  /** How the graph runs, and the client-token secret when the benchmark chose it. */
  mode: 'production' | 'development' | 'as running';
  jwtSecret?: string;
  /** Every process's /graphql URL (its /metrics is beside it). */
  urls: Map<string, string>;
  pids: Map<string, number>;
  launched: LaunchedGraph | undefined;
  /** The graph's share of file-backed pages (MB), read at rest: see bench/processes.ts. */
  sharedMb?: number;
}

interface RunRecord {
  scenario: ScenarioId;
  mode: 'closed' | 'rate';
  /** Connections (closed loop) or requests/s (fixed rate). */
  level: number;
  load: LoadResult;
  processes: ProcessUsage[];
  /** Inference runs per answered request, by model. */
  runsPerRequest: Record<string, number>;
  /** Mean rows per inference run, by model. */
  rowsPerRun: Record<string, number>;
  /** Milliseconds each process spent on /graphql per gateway request. */
  msPerRequest: Record<string, number>;
  /** /graphql requests each subgraph received per gateway request. */
  callsPerRequest: Record<string, number>;
  /**
   * CPU milliseconds each graph process spent per answered request, and their sum ("graph"):
   * unlike latency, barely moved by other work on the same cores, so it compares two runs of a
   * busy machine.
   */
  cpuMsPerRequest: Record<string, number>;
  /** The graph's memory at its peak in the window, shared pages counted once and summed per process. */
  graphMemory: GraphMemory;
  /** Prediction-log records written and dropped in the window, every model subgraph (written lags by up to one flush interval). */
  predictionLog: { written: number; dropped: number };
}

async function isReady(gatewayUrl: string): Promise<boolean> {
  try {
    const response = await fetch(gatewayUrl.replace(/\/graphql$/, '/health/ready'), { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** A fresh clone has no library yet: generate the default one, as `npm start` does, before anything reads it. */
async function ensureLibrary(config: Config): Promise<void> {
  const file = sqlitePath(config.databaseUrl);
  if (!file || existsSync(file)) return;
  process.stderr.write(`No library at ${file} yet: generating the default simulated library first.\n`);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(config.projectRoot, 'dist', 'src', 'cli', 'generate.js'), '--db', file], { stdio: 'inherit' });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`generating the library failed (exit code ${code})`))));
  });
}

async function openGraph(
  config: Config,
  subgraphs: SubgraphName[],
  forceLaunch: boolean,
  profileDir: string | undefined,
  mode: 'production' | 'development',
  predictionLog: 'on' | 'off' | undefined,
  startTimeoutMs: number,
  portBase: number | undefined,
): Promise<GraphHandle> {
  const existing = `http://127.0.0.1:${config.ports.gateway}/graphql`;
  if (!forceLaunch && !profileDir && (await isReady(existing))) {
    const ports = new Map<string, number>([['gateway', config.ports.gateway], ...subgraphs.map((s) => [s, Number(new URL(config.subgraphUrls[s][0] ?? '').port)] as [string, number])]);
    const urls = new Map<string, string>([['gateway', existing], ...subgraphs.map((s) => [s, config.subgraphUrls[s][0] ?? ''] as [string, string])]);
    for (const url of urls.values()) {
      if (!['127.0.0.1', 'localhost'].includes(new URL(url).hostname)) throw new Error(`the benchmark talks to loopback only; ${url} is not`);
    }
    process.stderr.write(`Using the graph already answering at ${existing}.\n`);
    return { gatewayUrl: existing, mode: 'as running', urls, pids: pidsListeningOn(ports), launched: undefined };
  }
  process.stderr.write(`Starting the graph (${subgraphs.join(', ')}) in ${mode} mode on ${portBase === undefined ? 'free loopback ports' : `loopback ports ${portBase}-${portBase + subgraphs.length}`}...\n`);
  const env: NodeJS.ProcessEnv = { HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...(predictionLog ? { PREDICTION_LOG: predictionLog } : {}) };
  let jwtSecret: string | undefined;
  if (mode === 'production') {
    jwtSecret = randomBytes(32).toString('hex');
    Object.assign(env, { NODE_ENV: 'production', JWT_SECRET: jwtSecret, INTERNAL_JWT_SECRET: randomBytes(32).toString('hex') });
  }
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const execArgv = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : undefined;
  const ports = portBase === undefined ? undefined : Object.fromEntries([['gateway', portBase], ...subgraphs.map((s, i) => [s, portBase + 1 + i])]);
  const launched = await launchGraph({ projectRoot: config.projectRoot, subgraphs, env, logs: 'inherit', execArgv, startTimeoutMs, ...(ports ? { ports } : {}) });
  const urls = new Map<string, string>([['gateway', launched.gatewayUrl], ...Object.entries<string>(launched.subgraphUrls)]);
  const pids = new Map<string, number>([...launched.processes].map(([name, child]) => [name, child.pid!]));
  return { gatewayUrl: launched.gatewayUrl, mode, jwtSecret, urls, pids, launched };
}

function librarySize(config: Config): Promise<{ maxMemberId: number; maxBookId: number }> {
  const store = openStore(config.databaseUrl, { readonly: config.databaseUrl.startsWith('sqlite:') });
  return Promise.all([
    store.db.selectFrom('members').select((eb) => eb.fn.max('id').as('max')).executeTakeFirstOrThrow(),
    store.db.selectFrom('books').select((eb) => eb.fn.max('id').as('max')).executeTakeFirstOrThrow(),
  ]).then(async ([members, books]) => {
    await store.close();
    return { maxMemberId: Number(members.max), maxBookId: Number(books.max) };
  });
}

function partnerOperations(config: Config): PersistedOperationRef[] {
  const file = path.join(config.projectRoot, 'schema', 'persisted-queries.json');
  if (!existsSync(file)) return [];
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as { operations?: PersistedOperationRef[] };
  return manifest.operations ?? [];
}

/**
 * Tokens spread over many identities, so the benchmark measures the rate limiter and the cap on
 * requests in flight per subject without meeting them.
 */
function tokenPool(config: Config, graph: GraphHandle): LoadTarget['tokenFor'] {
  const pools = new Map<string, string[]>();
  const sign = (sub: string, role: Role) =>
    graph.jwtSecret
      ? jwt.sign({ role }, graph.jwtSecret, { algorithm: 'HS256', subject: sub, issuer: config.jwt.issuer, audience: config.jwt.audience, expiresIn: '4h' })
      : signDevelopmentToken(config, { sub, role }, '4h');
  return (role, i) => {
    let pool = pools.get(role);
    if (!pool) {
      pool = Array.from({ length: role === 'partner' ? 512 : 256 }, (_, k) => sign(`bench-${role}-${k}`, role));
      pools.set(role, pool);
    }
    return pool[i % pool.length]!;
  };
}

async function checkScenario(scenario: Scenario, target: LoadTarget): Promise<string | undefined> {
  const request = scenario.request(0);
  const response = await fetch(target.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${target.tokenFor(request.role, 0)}` },
    body: request.body,
  });
  const text = await response.text();
  if (!response.ok || text.includes('"errors"')) return `HTTP ${response.status}: ${text.slice(0, 400)}`;
  return undefined;
}

function perRequest(deltas: Map<string, ProcessCounters>, gatewayRequests: number) {
  const runsPerRequest: Record<string, number> = {};
  const rowsPerRun: Record<string, number> = {};
  const msPerRequest: Record<string, number> = {};
  const callsPerRequest: Record<string, number> = {};
  for (const [name, delta] of deltas) {
    msPerRequest[name] = gatewayRequests ? (delta.seconds * 1000) / gatewayRequests : NaN;
    if (name !== 'gateway') callsPerRequest[name] = gatewayRequests ? delta.requests / gatewayRequests : NaN;
    for (const [model, runs] of Object.entries(delta.runs)) {
      runsPerRequest[model] = (runsPerRequest[model] ?? 0) + (gatewayRequests ? runs / gatewayRequests : NaN);
      rowsPerRun[model] = runs ? (delta.rows[model] ?? 0) / runs : 0;
    }
  }
  return { runsPerRequest, rowsPerRun, msPerRequest, callsPerRequest };
}

async function measured(graph: GraphHandle, scenario: Scenario, mode: RunRecord['mode'], level: number, run: () => Promise<LoadResult>): Promise<RunRecord> {
  const before = await scrapeAll(graph.urls);
  const usage = new UsageWindow(new Map([...graph.pids, ['bench (load generator)', process.pid]]), new Set(graph.pids.keys()));
  const load = await run();
  // Requests the load generator gave up on are still being answered: let them land in this window.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const processes = usage.finish();
  const after = await scrapeAll(graph.urls);
  const deltas = new Map([...after].map(([name, counters]) => [name, difference(counters, before.get(name))]));
  const gatewayRequests = deltas.get('gateway')?.requests ?? load.requests;
  const windowSeconds = load.seconds + 0.3;
  const cpuMsPerRequest: Record<string, number> = {};
  for (const p of processes) {
    if (!graph.pids.has(p.name)) continue;
    cpuMsPerRequest[p.name] = load.requests ? (p.cpuPercent * 10 * windowSeconds) / load.requests : NaN;
  }
  cpuMsPerRequest.graph = Object.values(cpuMsPerRequest).reduce((a, b) => a + b, 0);
  const memory = usage.graphPeak(graph.sharedMb ?? 0);
  const predictionLog = { written: 0, dropped: 0 };
  for (const delta of deltas.values()) {
    predictionLog.written += delta.logWritten;
    predictionLog.dropped += delta.logDropped;
  }
  return { scenario: scenario.id, mode, level, load, processes, cpuMsPerRequest, graphMemory: memory, predictionLog, ...perRequest(deltas, gatewayRequests) };
}

const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function describeMemory(m: GraphMemory): string {
  return `resident ${fmt(m.residentMb, 0)} MB, shared pages counted once (private ${fmt(m.privateMb, 0)} + shared ${fmt(m.sharedMb, 0)}); Σ RSS ${fmt(m.rssSumMb, 0)} MB`;
}

function printRun(scenario: Scenario, record: RunRecord): void {
  const { load } = record;
  const runs = scenario.models.map((m) => `${m} ${fmt(record.runsPerRequest[m] ?? 0, 2)}`).join(', ');
  const rows = scenario.models.map((m) => `${m} ${fmt(record.rowsPerRun[m] ?? 0, 1)}`).join(', ');
  const level = record.mode === 'closed' ? `c=${record.level}` : `${record.level}/s`;
  process.stdout.write(
    `  ${level.padEnd(7)} ${fmt(load.requestsPerSecond).padStart(7)} ${fmt(load.latency.p50, 2).padStart(8)} ${fmt(load.latency.p95, 2).padStart(8)} ${fmt(load.latency.p99, 2).padStart(8)} ${fmt(load.latency.max, 1).padStart(8)} ${String(load.errors).padStart(6)}   runs/req: ${runs || '-'}; rows/run: ${rows || '-'}\n`,
  );
  process.stdout.write(`          cpu% / rss MB: ${record.processes.map((p) => `${p.name} ${fmt(p.cpuPercent, 0)}/${fmt(p.rssMb, 0)}`).join(', ')}\n`);
  process.stdout.write(`          graph memory at its peak: ${describeMemory(record.graphMemory)}\n`);
  process.stdout.write(`          cpu ms per request: ${Object.entries(record.cpuMsPerRequest).map(([name, ms]) => `${name} ${fmt(ms, 2)}`).join(', ')}\n`);
  if (record.predictionLog.written || record.predictionLog.dropped) process.stdout.write(`          prediction log: ${record.predictionLog.written} records written, ${record.predictionLog.dropped} dropped\n`);
  if (load.errors) process.stdout.write(`          errors, e.g.: ${load.errorSamples.join(' | ')}\n`);
}

function printBreakdown(scenario: Scenario, record: RunRecord | undefined, floor: FloorResult | undefined): void {
  process.stdout.write(`\n  where the time goes (scenario ${scenario.number}, concurrency 1, mean ms per request):\n`);
  if (floor) {
    const models = Object.entries(floor.models).map(([m, s]) => `${m} p50 ${fmt(s.p50, 2)}`).join(', ');
    process.stdout.write(`    floor, in process (features + inference, ${floor.batchSize} member${floor.batchSize > 1 ? 's' : ''}, ${floor.iterations} iterations): ${models}; all models one after another p50 ${fmt(floor.sequential.p50, 2)}, slowest model p50 ${fmt(floor.slowest.p50, 2)}\n`);
    if (floor.notMeasured.length) process.stdout.write(`      (no floor function yet for: ${floor.notMeasured.join(', ')})\n`);
  }
  if (!record) return;
  const subgraphs = Object.entries(record.msPerRequest).filter(([name]) => name !== 'gateway');
  for (const [name, ms] of subgraphs) process.stdout.write(`    ${name.padEnd(16)} ${fmt(ms, 2).padStart(7)} ms in its /graphql handler (${fmt(record.callsPerRequest[name] ?? 0, 2)} calls per request)\n`);
  const library = record.msPerRequest.library ?? 0;
  const slowestModel = Math.max(0, ...scenario.models.map((m) => record.msPerRequest[m] ?? 0));
  const gateway = record.msPerRequest.gateway ?? NaN;
  process.stdout.write(`    gateway total    ${fmt(gateway, 2).padStart(7)} ms; client-side mean ${fmt(record.load.latency.mean, 2)} ms\n`);
  process.stdout.write(`    gateway's own    ${fmt(gateway - library - slowestModel, 2).padStart(7)} ms (gateway total - library - slowest model subgraph: the plan fetches library, then the model subgraphs in parallel)\n`);
}

async function main(): Promise<void> {
  const { flags } = parseFlags(
    process.argv.slice(2),
    { scenarios: 'string', concurrency: 'string', duration: 'number', warmup: 'number', rate: 'number', 'rate-seconds': 'number', 'floor-seconds': 'number', soak: 'number', launch: 'boolean', mode: 'string', profile: 'string', 'prediction-log': 'string', 'start-timeout': 'number', 'port-base': 'number', label: 'string', json: 'string' },
    USAGE,
  );
  const config = loadConfig();
  const duration = flags.duration ?? 10;
  const warmup = flags.warmup ?? 3;
  const rate = flags.rate ?? 100;
  const rateSeconds = flags['rate-seconds'] ?? 20;
  const floorSeconds = flags['floor-seconds'] ?? 3;
  const levels = (flags.concurrency ?? '1,8,32').split(',').map(Number);
  if (levels.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`--concurrency takes positive integers, got "${flags.concurrency}"\n${USAGE}`);
  const wanted = (flags.scenarios ?? SCENARIO_IDS.join(',')).split(',').map((s) => {
    const id = /^\d$/.test(s) ? SCENARIO_IDS[Number(s) - 1] : (s as ScenarioId);
    if (!id || !SCENARIO_IDS.includes(id)) throw new Error(`unknown scenario "${s}"; known: ${SCENARIO_IDS.join(', ')}\n${USAGE}`);
    return id;
  });

  const subgraphs = subgraphsIn(loadSupergraph(config));
  // A model subgraph without a production version answers MODEL_UNAVAILABLE: its fields wait too.
  const unservable = subgraphs.filter((s) => (MODEL_NAMES as readonly string[]).includes(s) && !readProductionPointer(config.modelsDir, s));
  const serving = subgraphs.filter((s) => !unservable.includes(s));
  await ensureLibrary(config);
  const size = await librarySize(config);
  const partner = choosePartnerOperation(partnerOperations(config));
  const scenarios = buildScenarios(serving, size, partner);
  const mode = flags.mode ?? 'production';
  if (mode !== 'production' && mode !== 'development') throw new Error(`--mode is production or development, got "${mode}"\n${USAGE}`);
  const predictionLog = flags['prediction-log'];
  if (predictionLog !== undefined && predictionLog !== 'on' && predictionLog !== 'off') throw new Error(`--prediction-log is on or off, got "${predictionLog}"\n${USAGE}`);
  const portBase = flags['port-base'];
  if (portBase !== undefined && (!Number.isInteger(portBase) || portBase < 1 || portBase + subgraphs.length > 65_535)) throw new Error(`--port-base takes a port with room for ${subgraphs.length} more above it, got ${portBase}\n${USAGE}`);
  const graph = await openGraph(config, subgraphs, (flags.launch ?? false) || predictionLog !== undefined || portBase !== undefined, flags.profile, mode, predictionLog, (flags['start-timeout'] ?? 60) * 1000, portBase);
  const tokenFor = tokenPool(config, graph);
  const started = new Date();
  const results: Record<string, unknown> = {
    label: flags.label ?? null,
    startedAt: started.toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: os.totalmem() / 2 ** 30, node: process.version, loadAverageAtStart: loadAverage() },
    graph: { subgraphs, unservable, launched: graph.launched !== undefined, mode: graph.mode, library: size },
    settings: { duration, warmup, levels, rate, rateSeconds, floorSeconds, predictionLog: predictionLog ?? 'as configured' },
  };

  const stopGraph = async () => {
    if (graph.launched) await graph.launched.stop();
  };
  process.once('SIGINT', () => void stopGraph().then(() => process.exit(130)));

  try {
    process.stdout.write(
      `Shelfmark benchmark — ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, load average ${loadAverage()}\n` +
        `graph: ${subgraphs.join(', ')} + gateway (${graph.launched ? `started by the benchmark, ${graph.mode} mode` : 'already running'}); ${size.maxMemberId} members, ${size.maxBookId} books\n` +
        `not benchmarked yet: ${[...SUBGRAPH_NAMES.filter((s) => !subgraphs.includes(s)).map((s) => `${s} (not in the supergraph)`), ...unservable.map((s) => `${s} (no production model)`)].join(', ') || 'none'}${unservable.length ? ' — `npm run train -- --promote` trains and promotes the missing models' : ''}\n`,
    );

    const settleStarted = Date.now();
    // A model subgraph warms up after its first ready answer: nothing is timed before every one has.
    await Promise.all([...graph.urls].filter(([name]) => name !== 'gateway').map(([, url]) => untilWarmed(url)));
    const memoEntries = await quiesce(graph.urls, { pollMs: 1000 });
    const idleRssMb = rssMbByProcess(graph.pids);
    const idleMemory = graphMemory(graph.pids.values());
    graph.sharedMb = idleMemory.sharedMb;
    process.stdout.write(
      `feature memos filled: ${memoEntries} entries (waited ${((Date.now() - settleStarted) / 1000).toFixed(1)} s for every subgraph to be warmed up and the graph to be at rest)\n` +
        `whole graph at rest: ${describeMemory(idleMemory)}\n` +
        `  RSS by process: ${Object.entries(idleRssMb).map(([n, mb]) => `${n} ${fmt(mb, 0)}`).join(', ')} MB\n`,
    );
    Object.assign(results, { memoEntries, idleRssMb, idleMemory });

    if (flags.soak !== undefined) {
      results.soak = await soak(graph, scenarios.filter((s) => s.id !== 'page'), { url: graph.gatewayUrl, tokenFor }, rate, flags.soak, warmup);
    } else {
      results.runs = await runScenarios(graph, scenarios.filter((s) => wanted.includes(s.id)), tokenFor, { duration, warmup, levels, rate, rateSeconds, floorSeconds, config, size });
    }
    results.loadAverageAtEnd = loadAverage();
    const out = flags.json ?? path.join(config.projectRoot, 'bench', 'results', `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`\nresults: ${out}\n`);
  } finally {
    await stopGraph();
  }
}

interface RunSettings {
  duration: number;
  warmup: number;
  levels: number[];
  rate: number;
  rateSeconds: number;
  floorSeconds: number;
  config: Config;
  size: { maxMemberId: number; maxBookId: number };
}

async function runScenarios(graph: GraphHandle, scenarios: Scenario[], tokenFor: LoadTarget['tokenFor'], settings: RunSettings) {
  const records: (RunRecord | { scenario: ScenarioId; skipped: string })[] = [];
  const floors: Record<string, FloorResult> = {};
  let floor: Floor | undefined;
  try {
    for (const scenario of scenarios) {
      let offset = 0;
      // Each run continues the scenario's entity sequence, so no run replays the previous one's entities.
      const target: LoadTarget = { url: graph.gatewayUrl, tokenFor, next: (i) => scenario.request(offset + i) };
      process.stdout.write(`\nscenario ${scenario.number} — ${scenario.title}\n`);
      if (scenario.missing.length) process.stdout.write(`  left out (their subgraph is not benchmarked yet): ${scenario.missing.join(', ')}\n`);
      const problem = await checkScenario(scenario, target);
      if (problem) {
        process.stdout.write(`  skipped: the first request failed: ${problem}\n`);
        records.push({ scenario: scenario.id, skipped: problem });
        continue;
      }
      await closedLoop(target, 8, settings.warmup);
      await quiesce(graph.urls);
      offset += 100_000;
      process.stdout.write(`  level   req/s    p50 ms   p95 ms   p99 ms   max ms errors\n`);
      let atOne: RunRecord | undefined;
      for (const level of settings.levels) {
        const record = await measured(graph, scenario, 'closed', level, () => closedLoop(target, level, settings.duration));
        await quiesce(graph.urls);
        offset += 100_000;
        if (level === 1) atOne = record;
        records.push(record);
        printRun(scenario, record);
      }
      if (scenario.id === 'member' && settings.rate > 0) {
        const record = await measured(graph, scenario, 'rate', settings.rate, () => fixedRate(target, { rate: settings.rate, seconds: settings.rateSeconds }));
        await quiesce(graph.urls);
        offset += 100_000;
        records.push(record);
        printRun(scenario, record);
      }
      if ((scenario.id === 'member' || scenario.id === 'page') && settings.floorSeconds > 0) {
        floor ??= await openFloor(settings.config, scenario.models);
        const { size } = settings;
        const batch =
          scenario.id === 'member'
            ? ((at) => (i: number) => [String(at(i))])(entitySequence(7, size.maxMemberId))
            : ((at) => (i: number) => Array.from({ length: PAGE_SIZE }, (_, k) => String(at(i) + k)))(entitySequence(8, size.maxMemberId - PAGE_SIZE));
        floors[scenario.id] = await floor.measure(batch, settings.floorSeconds);
      }
      if (scenario.id === 'member' || scenario.id === 'page') printBreakdown(scenario, atOne, floors[scenario.id]);
    }
  } finally {
    await floor?.close();
  }
  return { records, floors, scenarios: scenarios.map(({ id, number, title, models, missing, document }) => ({ id, number, title, models, missing, document })) };
}

/** The memory run: a steady rate for a long time, RSS sampled along the way. */
async function soak(graph: GraphHandle, scenarios: Scenario[], base: Omit<LoadTarget, 'next'>, rate: number, seconds: number, warmup: number) {
  const mix: LoadTarget = { ...base, next: (i) => scenarios[i % scenarios.length]!.request(Math.floor(i / scenarios.length)) };
  process.stdout.write(`\nmemory run: ${seconds} s at ${rate} requests/s, scenarios ${scenarios.map((s) => s.number).join(', ')} in turn (after ${Math.max(warmup, 30)} s of warm-up at the same rate)\n`);
  await fixedRate({ ...mix, next: (i) => mix.next(i + 10_000_000) }, { rate, seconds: Math.max(warmup, 30) });
  const rss = () => rssMbByProcess(graph.pids);
  const memory = () => graphMemory(graph.pids.values(), graph.sharedMb);
  const timeline: { second: number; rssMb: Record<string, number>; graph: GraphMemory }[] = [{ second: 0, rssMb: rss(), graph: memory() }];
  let nextSample = 10;
  const record = await measured(graph, scenarios[0]!, 'rate', rate, () =>
    fixedRate(mix, {
      rate,
      seconds,
      onTick: (elapsed) => {
        if (elapsed >= nextSample) {
          timeline.push({ second: Math.round(elapsed), rssMb: rss(), graph: memory() });
          nextSample += 10;
        }
      },
    }),
  );
  timeline.push({ second: seconds, rssMb: rss(), graph: memory() });
  const first = timeline[0]!.rssMb;
  const last = timeline[timeline.length - 1]!.rssMb;
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const growth = Object.fromEntries(Object.keys(first).map((name) => [name, ((last[name]! - first[name]!) / first[name]!) * 100]));
  process.stdout.write(`  answered ${record.load.requests}, failed ${record.load.errors}; p50 ${fmt(record.load.latency.p50, 2)} ms, p99 ${fmt(record.load.latency.p99, 2)} ms, max ${fmt(record.load.latency.max, 1)} ms\n`);
  if (record.load.errors) process.stdout.write(`  errors, e.g.: ${record.load.errorSamples.join(' | ')}\n`);
  process.stdout.write(`  RSS MB at start → end (growth): ${Object.keys(first).map((n) => `${n} ${fmt(first[n]!, 0)} → ${fmt(last[n]!, 0)} (${fmt(growth[n]!, 1)}%)`).join(', ')}\n`);
  process.stdout.write(`  whole graph, Σ RSS: ${fmt(sum(first), 0)} MB → ${fmt(sum(last), 0)} MB (${fmt(((sum(last) - sum(first)) / sum(first)) * 100, 2)}%), peak ${fmt(Math.max(...timeline.map((t) => sum(t.rssMb))), 0)} MB\n`);
  const residentFirst = timeline[0]!.graph.residentMb;
  const residentLast = timeline[timeline.length - 1]!.graph.residentMb;
  const residentGrowth = ((residentLast - residentFirst) / residentFirst) * 100;
  process.stdout.write(
    `  whole graph, resident with shared pages counted once: ${fmt(residentFirst, 0)} MB → ${fmt(residentLast, 0)} MB (${fmt(residentGrowth, 2)}%), peak ${fmt(Math.max(...timeline.map((t) => t.graph.residentMb)), 0)} MB\n`,
  );
  return { record, timeline, growthPercent: growth, wholeGraphGrowthPercent: ((sum(last) - sum(first)) / sum(first)) * 100, residentGrowthPercent: residentGrowth };
}

main().catch((error: Error) => {
  process.stderr.write(`bench: ${error.message}\n`);
  process.exit(1);
});
