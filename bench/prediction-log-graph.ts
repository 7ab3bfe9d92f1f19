/**
 * What the prediction log costs in the whole graph, with every arm under the same machine load:
 * graphs of one build run side by side, by default one with `PREDICTION_LOG=off` and one with
 * `on` (`--arms` adds arms with other settings), each on its own copy of the library, and answer
 * the same requests in alternating blocks (off, on, then on, off, ...), one request at a time.
 *
 * CPU is read from /proc for every process of each graph over the whole measured phase of a
 * scenario, not per block: the log's writer thread and the library's monitor do their part of
 * the work after the answers, so work that falls into the other arm's block still counts for
 * its own graph. Both graphs idle the same way between their blocks. Per process it splits the
 * serving (main) thread from every other thread (the writer thread, the monitor's thread, V8's
 * and libuv's helpers). p50 is over each arm's requests in the phase.
 *
 * Run (after a build): node dist/bench/prediction-log-graph.js [--db FILE] [--root DIR]
 *   [--port-base P] [--arms LIST] [--scenarios member,page] [--blocks N] [--requests N,N]
 *   [--warmup N] [--profile DIR] [--json]
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { loadConfig, MODEL_NAMES, type Config, type SubgraphName } from '../src/config';
import { parseFlags, UsageError } from '../src/cli/flags';
import { launchGraph, type LaunchedGraph } from '../src/graph-launcher';
import { openStore, sqlitePath } from '../src/store';
import { loadSupergraph, subgraphsIn } from '../gateway/subgraphs';
import { readProductionPointer } from '../src/registry';
import { quiesce, scrapeAll } from './metrics';
import { cpuSecondsOf, loadAverage } from './processes';
import { armRoot, armSettings, type ArmName } from './prediction-log-arms';
import { buildScenarios, type Scenario, type ScenarioId } from './scenarios';

const USAGE = `usage: node dist/bench/prediction-log-graph.js [options]
  --db FILE          the library both graphs copy (default: DATABASE_URL's SQLite file)
  --root DIR         the built checkout whose dist/ both graphs run (default: this one)
  --port-base P      the first arm's graph on P (gateway) and P+1.., the next on P+10.., ... (default: ports the system chooses)
  --arms LIST        comma-separated arms, each off, on, or on:NAME=VALUE:NAME=VALUE (the prediction log on with
                     those settings, e.g. on:PREDICTION_LOG_FLUSH_INTERVAL_MS=5000), each optionally ending in @DIR: that arm
                     runs the build in DIR instead of --root (before and after builds, interleaved) (default off,on)
  --scenarios LIST   member, page or both (default member,page)
  --blocks N         blocks per arm and scenario, alternating (default 10)
  --requests LIST    requests per block, per scenario in --scenarios order (default 40 for member, 8 for page)
  --warmup N         requests per arm before each scenario's measured phase (default 20)
  --start-timeout S  seconds each process may take to start (default 240)
  --profile DIR      run every process under node --cpu-prof, its profiles in DIR/<arm number>/ (CPU figures then include the profiler)
  --json             print one JSON object instead of text`;

interface Arm {
  name: ArmName;
  graph: LaunchedGraph;
  pids: Map<string, number>;
  urls: Map<string, string>;
}

/** CPU seconds of one process so far: its main thread and all its other threads. */
interface ThreadCpu {
  main: number;
  others: number;
}

/**
 * A process's CPU by thread (Linux). Threads that ended since are not in /proc any more, so the
 * process total, which keeps them, is read too and what no listed thread accounts for is given
 * to the other threads.
 */
function threadCpu(pid: number): ThreadCpu {
  const total = cpuSecondsOf(`/proc/${pid}/stat`);
  let main = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    if (Number(task) === pid) main = cpuSecondsOf(`/proc/${pid}/task/${task}/stat`);
  }
  return { main, others: total - main };
}

const sampleAll = (pids: ReadonlyMap<string, number>) => new Map([...pids].map(([name, pid]) => [name, threadCpu(pid)]));

function copyLibrary(source: string, dir: string, index: number): string {
  const file = path.join(dir, `arm-${index}.db`);
  copyFileSync(source, file);
  for (const suffix of ['-wal', '-shm']) if (existsSync(source + suffix)) copyFileSync(source + suffix, file + suffix);
  return file;
}

async function startArm(name: ArmName, index: number, root: string, subgraphs: SubgraphName[], file: string, secrets: Record<string, string>, portBase: number | undefined, startTimeoutMs: number, profileDir: string | undefined): Promise<Arm> {
  // One connection sets WAL mode and checks the schema before six processes open the file at once.
  await openStore(`sqlite:${file}`).close();
  const base = portBase === undefined ? undefined : portBase + 10 * index;
  const ports = base === undefined ? undefined : Object.fromEntries([['gateway', base], ...subgraphs.map((s, i) => [s, base + 1 + i])]);
  const env = { HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_ENV: 'production', DATABASE_URL: `sqlite:${file}`, ...armSettings(name, USAGE), ...secrets };
  const execArgv = profileDir === undefined ? undefined : ['--cpu-prof', '--cpu-prof-dir', path.join(path.resolve(profileDir), String(index + 1))];
  const graph = await launchGraph({ projectRoot: armRoot(name, root), subgraphs, env, logs: 'inherit', startTimeoutMs, ...(ports ? { ports } : {}), ...(execArgv ? { execArgv } : {}) });
  const pids = new Map([...graph.processes].map(([process, child]) => [process, child.pid ?? 0]));
  const urls = new Map<string, string>([['gateway', graph.gatewayUrl], ...Object.entries<string>(graph.subgraphUrls)]);
  return { name, graph, pids, urls };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

interface ArmPhase {
  requests: number;
  errors: number;
  p50: number;
  /** CPU ms per request, per process: main thread, other threads. */
  cpu: Record<string, { main: number; others: number }>;
  graphMs: number;
  logWritten: number;
  logDropped: number;
}

async function ask(url: string, token: string, body: string): Promise<{ ms: number; ok: boolean }> {
  const started = performance.now();
  try {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
    const text = await response.text();
    return { ms: performance.now() - started, ok: response.ok && !text.includes('"errors"') };
  } catch {
    return { ms: performance.now() - started, ok: false };
  }
}

async function phase(arms: Arm[], scenario: Scenario, blocks: number, perBlock: number, warmup: number, tokens: string[]): Promise<Record<ArmName, ArmPhase>> {
  const send = async (arm: Arm, i: number) => {
    const request = scenario.request(i);
    return ask(arm.graph.gatewayUrl, tokens[i % tokens.length] ?? '', request.body);
  };
  for (const arm of arms) for (let i = 0; i < warmup; i++) await send(arm, 1_000_000 + i);
  for (const arm of arms) await quiesce(arm.urls, { timeoutMs: 60_000 });
  const before = new Map(arms.map((arm) => [arm.name, sampleAll(arm.pids)]));
  const countersBefore = new Map(await Promise.all(arms.map(async (arm) => [arm.name, await scrapeAll(arm.urls)] as const)));
  const latencies = new Map<ArmName, number[]>(arms.map((arm) => [arm.name, []]));
  const errors = new Map<ArmName, number>(arms.map((arm) => [arm.name, 0]));
  for (let block = 0; block < blocks; block++) {
    // off, on, then on, off: no arm always goes first.
    const order = block % 2 === 0 ? arms : [...arms].reverse();
    for (const arm of order) {
      for (let k = 0; k < perBlock; k++) {
        const { ms, ok } = await send(arm, block * perBlock + k);
        latencies.get(arm.name)?.push(ms);
        if (!ok) errors.set(arm.name, (errors.get(arm.name) ?? 0) + 1);
      }
    }
  }
  // Let the last block's log records be written (the flush interval is 1 s) before the last sample.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const result = {} as Record<ArmName, ArmPhase>;
  for (const arm of arms) {
    const after = sampleAll(arm.pids);
    const requests = blocks * perBlock;
    const cpu: ArmPhase['cpu'] = {};
    let graphMs = 0;
    for (const [name, end] of after) {
      const start = before.get(arm.name)?.get(name) ?? end;
      const main = ((end.main - start.main) * 1000) / requests;
      const others = ((end.others - start.others) * 1000) / requests;
      cpu[name] = { main, others };
      graphMs += main + others;
    }
    const countersAfter = await scrapeAll(arm.urls);
    let logWritten = 0;
    let logDropped = 0;
    for (const [name, counters] of countersAfter) {
      const was = countersBefore.get(arm.name)?.get(name);
      logWritten += counters.logWritten - (was?.logWritten ?? 0);
      logDropped += counters.logDropped - (was?.logDropped ?? 0);
    }
    const sorted = [...(latencies.get(arm.name) ?? [])].sort((a, b) => a - b);
    result[arm.name] = { requests, errors: errors.get(arm.name) ?? 0, p50: percentile(sorted, 0.5), cpu, graphMs, logWritten, logDropped };
  }
  return result;
}

const LOGGING = ['overdue', 'churn', 'segmentation', 'recommendations'];
const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function print(scenario: ScenarioId, names: readonly ArmName[], result: Record<ArmName, ArmPhase>): void {
  const four = (p: ArmPhase) => LOGGING.reduce((sum, name) => sum + (p.cpu[name]?.main ?? 0) + (p.cpu[name]?.others ?? 0), 0);
  const change = (a: number, b: number) => `${b >= a ? '+' : ''}${fmt(((b - a) / a) * 100, 1)}%`;
  const first = result[names[0] ?? ''];
  if (!first) return;
  process.stdout.write(`\nscenario ${scenario}: ${first.requests} requests an arm\n`);
  process.stdout.write('  arm   p50 ms   graph CPU ms/req  four logging subgraphs  log written/dropped  errors\n');
  for (const [a, name] of names.entries()) {
    const p = result[name];
    if (!p) continue;
    process.stdout.write(`  ${String(a + 1).padEnd(4)} ${fmt(p.p50).padStart(7)}  ${fmt(p.graphMs).padStart(16)}  ${fmt(four(p)).padStart(22)}  ${`${p.logWritten}/${p.logDropped}`.padStart(19)}  ${p.errors}   ${name}\n`);
    if (a > 0) process.stdout.write(`       against arm 1: p50 ${change(first.p50, p.p50)}, graph CPU ${change(first.graphMs, p.graphMs)}, four subgraphs ${fmt(four(p) - four(first))} ms a request\n`);
  }
  process.stdout.write('  CPU ms/request by process, main thread + other threads (arm 1 | arm 2 | ...):\n');
  for (const name of Object.keys(first.cpu)) {
    const cells = names.map((arm) => result[arm]?.cpu[name]).map((c) => `${fmt(c?.main ?? NaN)} + ${fmt(c?.others ?? NaN)}`);
    process.stdout.write(`    ${name.padEnd(16)} ${cells.join('  |  ')}\n`);
  }
}

async function main(): Promise<void> {
  const { flags } = parseFlags(
    process.argv.slice(2),
    { db: 'string', root: 'string', 'port-base': 'number', arms: 'string', scenarios: 'string', blocks: 'number', requests: 'string', warmup: 'number', 'start-timeout': 'number', profile: 'string', json: 'boolean' },
    USAGE,
  );
  const config: Config = loadConfig();
  const source = flags.db ?? sqlitePath(config.databaseUrl);
  if (!source || !existsSync(source)) throw new UsageError(`no library at ${source ?? config.databaseUrl}: generate one first, or name it with --db\n${USAGE}`);
  const root = path.resolve(flags.root ?? config.projectRoot);
  const wanted = (flags.scenarios ?? 'member,page').split(',') as ScenarioId[];
  if (wanted.some((id) => id !== 'member' && id !== 'page')) throw new UsageError(`--scenarios takes member and page, got "${flags.scenarios}"\n${USAGE}`);
  const perBlock = (flags.requests ?? wanted.map((id) => (id === 'page' ? 8 : 40)).join(',')).split(',').map(Number);
  if (perBlock.length !== wanted.length || perBlock.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--requests takes one positive count per scenario\n${USAGE}`);
  const blocks = flags.blocks ?? 10;
  const names = (flags.arms ?? 'off,on').split(',');
  for (const name of names) armSettings(name, USAGE);
  if (names.length < 2 || new Set(names).size !== names.length) throw new UsageError(`--arms takes two or more different arms\n${USAGE}`);
  const warmup = flags.warmup ?? 20;

  const subgraphs = subgraphsIn(loadSupergraph(config));
  const unservable = subgraphs.filter((s) => (MODEL_NAMES as readonly string[]).includes(s) && !readProductionPointer(config.modelsDir, s));
  if (unservable.length > 0) throw new Error(`no production model for ${unservable.join(', ')}: train and promote first`);
  const store = openStore(`sqlite:${source}`, { readonly: true });
  const [members, books] = await Promise.all([
    store.db.selectFrom('members').select((eb) => eb.fn.max('id').as('max')).executeTakeFirstOrThrow(),
    store.db.selectFrom('books').select((eb) => eb.fn.max('id').as('max')).executeTakeFirstOrThrow(),
  ]);
  await store.close();
  const scenarios = buildScenarios(subgraphs, { maxMemberId: Number(members.max), maxBookId: Number(books.max) }, undefined);

  const secret = randomBytes(32).toString('hex');
  const secrets = { JWT_SECRET: secret, INTERNAL_JWT_SECRET: randomBytes(32).toString('hex') };
  const tokens = Array.from({ length: 256 }, (_, k) =>
    jwt.sign({ role: 'staff' }, secret, { algorithm: 'HS256', subject: `bench-staff-${k}`, issuer: config.jwt.issuer, audience: config.jwt.audience, expiresIn: '4h' }),
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-log-ab-'));
  const arms: Arm[] = [];
  const results: Record<string, unknown> = { root, library: source, startedAt: new Date().toISOString(), loadAverageAtStart: loadAverage(), blocks, warmup, scenarios: {} };
  try {
    if (!flags.json) process.stdout.write(`Starting ${names.length} graphs of ${root} (${names.join(', ')}), load average ${loadAverage()}...\n`);
    for (const [index, name] of names.entries()) arms.push(await startArm(name, index, root, subgraphs, copyLibrary(source, dir, index), secrets, flags['port-base'], (flags['start-timeout'] ?? 240) * 1000, flags.profile));
    // Each arm's subgraphs warm up after their first ready answer: every arm is warmed before a phase is timed.
    await Promise.all(arms.map((arm) => arm.graph.warmed()));
    if (!flags.json) process.stdout.write(`every arm's subgraphs warmed up, load average ${loadAverage()}\n`);
    for (const arm of arms) await quiesce(arm.urls, { timeoutMs: 240_000 });
    for (const [s, id] of wanted.entries()) {
      const scenario = scenarios.find((sc) => sc.id === id);
      if (!scenario) throw new Error(`scenario ${id} is not built for this graph`);
      const result = await phase(arms, scenario, blocks, perBlock[s] ?? 1, warmup, tokens);
      (results.scenarios as Record<string, unknown>)[id] = result;
      if (!flags.json) print(id, names, result);
    }
    results.loadAverageAtEnd = loadAverage();
    if (flags.json) process.stdout.write(`${JSON.stringify(results)}\n`);
    else process.stdout.write(`\nload average at the end ${loadAverage()}\n`);
  } finally {
    await Promise.all(arms.map((arm) => arm.graph.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
