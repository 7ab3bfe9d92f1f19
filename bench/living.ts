/**
 * A living graph under load. The simulated library lives on (`npm run simulate`, every event
 * through the write path, into a copy of the library the graph serves) for `--days` days at
 * one simulated day per `--day-seconds` of real time, while a load client keeps sending member
 * and page queries to the gateway at a steady rate. The run stops at `--checkpoint` days and at
 * the end, and keeps the load going for `--settle` seconds each time (the features roll forward
 * to the new date meanwhile) before it reads the graph's memory, so the two readings compare the
 * same state: a graph at rest on its clock, under the same load.
 *
 * Reports failed queries (goal 0), inference runs per model per query from the processes'
 * /metrics counters (goal 1 for each model a query asks), and the graph's memory at the
 * checkpoint and at the end: Σ RSS of every process (goal: under 5% growth), read at the end of
 * each settle and as the median of a reading a second over the settle. The database is
 * kept at `--db` for later work (live against offline evaluation).
 *
 *   node dist/bench/living.js --db FILE [--from FILE] [--days 90] [--checkpoint 30] [--day-seconds 6]
 *     [--rate 4] [--page-every 5] [--settle 30] [--hold-features] [--no-simulator] [--port-base P] [--force] [--json]
 *
 * Each model subgraph's daily rolls are sampled from its /metrics meanwhile: how long they took,
 * the CPU they cost and the event-loop delay during them. `--hold-features` is the control: the
 * same run with the features held at the start date (FEATURES_ROLL=off), so no roll happens.
 * `--no-simulator` is the other control: the same load for the same wall time with no event
 * written, to tell failures the living library causes from those the load alone causes.
 * Each leg also reports every process's CPU seconds (from /proc) and V8 heap in use at its end
 * (from /metrics), to tell which process the living library costs and which one grows.
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { signDevelopmentToken } from '../gateway/auth';
import { parseFlags, UsageError } from '../src/cli/flags';
import { quantileOfSorted } from '../src/evaluation/intervals';
import { loadConfig, SUBGRAPH_NAMES, type Config } from '../src/config';
import { launchGraph, type LaunchedGraph } from '../src/graph-launcher';
import { openStore, sqlitePath } from '../src/store';
import { fixedRate, type LoadResult } from './load';
import { difference, metricsUrl, parsePrometheus, quiesce, scrapeAll, total, type ProcessCounters } from './metrics';
import { graphMemory, loadAverage, rssMbByProcess, sampleProcess, type GraphMemory } from './processes';
import { buildScenarios } from './scenarios';

const USAGE = `usage: node dist/bench/living.js --db FILE [--from FILE] [--days N] [--checkpoint N] [--day-seconds S] [--rate R] [--page-every K] [--settle S] [--hold-features] [--no-simulator] [--profile DIR] [--port-base P] [--force] [--json]
  --db FILE         where the living library is written (a copy of --from) and kept afterwards
  --from FILE       the generated library to start from (default: the configured SQLite database)
  --days N          simulated days in all (default 90)
  --checkpoint N    the day of the first memory reading (default 30)
  --day-seconds S   real seconds per simulated day (default 6)
  --rate R          queries per second sent to the gateway throughout (default 4)
  --page-every K    every K-th query is a dashboard page of 100 members, the others one member (default 5)
  --settle S        seconds of load after each leg before memory is read (default 30)
  --hold-features   control run: the model subgraphs never roll their features forward (FEATURES_ROLL=off)
  --no-simulator    control run: the same load for the same time (days × day-seconds) on a library that stands still
  --profile DIR     run the graph's processes under node --cpu-prof, a profile per process (and thread) in DIR
  --port-base P     the gateway on port P and the subgraphs on P+1..P+6 (default: ports the system chooses)
  --force           replace --db if it exists
  --json            print the result as one JSON object`;

/** The member-level models every member and page query asks. */
const MEMBER_MODELS = ['overdue', 'churn', 'segmentation', 'recommendations'];

interface Leg {
  name: string;
  throughDay: number;
  simulatedSeconds: number;
  queries: number;
  failed: number;
  failures: string[];
  worstP99Ms: number;
  /** Inference runs per gateway query, by model: every run, background rankings included. */
  runsPerQuery: Record<string, number>;
  /**
   * Runs inside /graphql requests only (model_request_inference_runs), by model: the subgraph
   * requests that ran the model, their runs per request, and how many ran it more than once.
   */
  requestRuns: Record<string, { requests: number; runsPerRequest: number; overOne: number }>;
  memory: GraphMemory;
  /** RSS of each process (MB), to tell which one grows. */
  rssByProcess: Record<string, number>;
  /**
   * RSS read every second of the settle (MB): the median Σ over the graph, and each process's
   * median. One reading swings with each process's garbage collections (by up to 100 MB for a
   * model subgraph); the median of the settle's readings does not.
   */
  settleRss: { readings: number; sumMedianMb: number; byProcess: Record<string, number> };
  /** CPU seconds each process used during the leg. */
  cpuSecondsByProcess: Record<string, number>;
  /** V8 heap in use of each process's serving thread at the end of the leg (MB), from its /metrics, and of the library's monitor thread ("library monitor thread"). */
  heapMbByProcess: Record<string, number>;
  /** The V8 heap each of those threads holds from the system at the end of the leg (MB), in use or not. */
  heapHeldMbByProcess: Record<string, number>;
  /** What the daily rolls of the features cost each model subgraph during the leg. */
  rolls: Record<string, RollSummary>;
  /** Each process's event-loop delay over the leg, from its /metrics every 2 s. */
  loopDelay: Record<string, LoopDelaySummary>;
  clock: string;
  load: string;
}

interface Settings {
  days: number;
  checkpoint: number;
  daySeconds: number;
  rate: number;
  pageEvery: number;
  settle: number;
  holdFeatures: boolean;
  /** Control: no simulator; the load runs for days × daySeconds on a library that stands still. */
  noSimulator: boolean;
}

/** One model subgraph's rolls during a leg: how many, their mean wall and CPU time, and the event-loop delay during each. */
interface RollSummary {
  rolls: number;
  meanSeconds: number;
  meanCpuSeconds: number;
  /** Event-loop delay p99 during a roll: the median and the worst over the rolls sampled. */
  loopDelayP99MedianMs: number;
  loopDelayP99WorstMs: number;
  /** The longest the event loop stood still during any roll sampled. */
  loopDelayMaxMs: number;
  /** V8 heap in use at the end of the leg. */
  heapUsedMb: number;
}

/**
 * One process's event-loop delay over a leg: prom-client's p99 and max since the previous scrape
 * (its histogram restarts at every scrape), read every 2 s. A process too busy to answer within
 * 10 s leaves its window out, so the worst windows may be missing.
 */
interface LoopDelaySummary {
  windows: number;
  p99MedianMs: number;
  p99WorstMs: number;
  maxMs: number;
}

interface RollReading {
  count: number;
  seconds: number;
  cpuSeconds: number;
  p99: number;
  max: number;
  heapUsed: number;
}

/**
 * Samples every process's /metrics every `everyMs`: the roll metrics of the model subgraphs
 * (`rolling`), so the event-loop delay of each roll (a gauge of the last roll) is read before the
 * next one replaces it, and every process's event-loop delay.
 */
function sampleRolls(urls: ReadonlyMap<string, string>, rolling: ReadonlySet<string>, everyMs = 2000): { take: () => { rolls: Record<string, RollSummary>; loopDelay: Record<string, LoopDelaySummary> }; stop: () => void } {
  const first = new Map<string, RollReading>();
  const last = new Map<string, RollReading>();
  const perRoll = new Map<string, { p99: number[]; max: number }>();
  const lag = new Map<string, { p99: number[]; max: number }>();
  const read = async (name: string, url: string): Promise<void> => {
    try {
      const response = await fetch(metricsUrl(url), { signal: AbortSignal.timeout(10_000) });
      const samples = parsePrometheus(await response.text());
      const windows = lag.get(name) ?? { p99: [], max: 0 };
      windows.p99.push(total(samples, 'nodejs_eventloop_lag_p99_seconds') * 1000);
      windows.max = Math.max(windows.max, total(samples, 'nodejs_eventloop_lag_max_seconds') * 1000);
      lag.set(name, windows);
      if (!rolling.has(name)) return;
      const reading: RollReading = {
        count: total(samples, 'features_roll_seconds_count'),
        seconds: total(samples, 'features_roll_seconds_sum'),
        cpuSeconds: total(samples, 'features_roll_cpu_seconds_total'),
        p99: total(samples, 'features_roll_event_loop_delay_seconds', { statistic: 'p99' }),
        max: total(samples, 'features_roll_event_loop_delay_seconds', { statistic: 'max' }),
        heapUsed: total(samples, 'nodejs_heap_size_used_bytes'),
      };
      if (!first.has(name)) first.set(name, reading);
      const previous = last.get(name);
      if (previous && reading.count > previous.count) {
        const rolls = perRoll.get(name) ?? { p99: [], max: 0 };
        rolls.p99.push(reading.p99 * 1000);
        rolls.max = Math.max(rolls.max, reading.max * 1000);
        perRoll.set(name, rolls);
      }
      last.set(name, reading);
    } catch {
      // A process too busy to answer within the timeout is read on the next tick.
    }
  };
  let reading: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    reading = Promise.all([...urls].map(([name, url]) => read(name, url)));
  }, everyMs);
  // A run that fails must still end: the sampler alone does not keep the process alive.
  timer.unref();
  return {
    take() {
      const loopDelay: Record<string, LoopDelaySummary> = {};
      for (const [name, windows] of lag) {
        const p99 = [...windows.p99].sort((a, b) => a - b);
        loopDelay[name] = { windows: p99.length, p99MedianMs: p99[Math.floor(p99.length / 2)] ?? 0, p99WorstMs: p99[p99.length - 1] ?? 0, maxMs: windows.max };
      }
      lag.clear();
      const summaries: Record<string, RollSummary> = {};
      for (const [name, end] of last) {
        const start = first.get(name) ?? end;
        const rolls = end.count - start.count;
        const p99 = [...(perRoll.get(name)?.p99 ?? [])].sort((a, b) => a - b);
        summaries[name] = {
          rolls,
          meanSeconds: rolls > 0 ? (end.seconds - start.seconds) / rolls : 0,
          meanCpuSeconds: rolls > 0 ? (end.cpuSeconds - start.cpuSeconds) / rolls : 0,
          loopDelayP99MedianMs: p99[Math.floor(p99.length / 2)] ?? 0,
          loopDelayP99WorstMs: p99[p99.length - 1] ?? 0,
          loopDelayMaxMs: perRoll.get(name)?.max ?? 0,
          heapUsedMb: end.heapUsed / 2 ** 20,
        };
      }
      first.clear();
      for (const [name, end] of last) first.set(name, end);
      perRoll.clear();
      return { rolls: summaries, loopDelay };
    },
    stop() {
      clearInterval(timer);
      void reading;
    },
  };
}

/** Copies the generated library (its WAL sidecars included) to `to`. */
function copyLibrary(from: string, to: string, force: boolean): void {
  if (existsSync(to) && !force) throw new UsageError(`${to} exists; pass --force to replace it`);
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${to}${suffix}`, { force: true });
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(`${from}${suffix}`)) copyFileSync(`${from}${suffix}`, `${to}${suffix}`);
}

async function librarySize(databaseUrl: string): Promise<{ maxMemberId: number; maxBookId: number }> {
  const store = openStore(databaseUrl, { readonly: true });
  try {
    const [members, books] = await Promise.all([
      store.db.selectFrom('members').select((eb) => eb.fn.max('id').as('max')).executeTakeFirstOrThrow(),
      store.db.selectFrom('books').select((eb) => eb.fn.max('id').as('max')).executeTakeFirstOrThrow(),
    ]);
    return { maxMemberId: Number(members.max), maxBookId: Number(books.max) };
  } finally {
    await store.close();
  }
}

/** Runs `npm run simulate`'s program for `days` more days, reporting each day lived. */
function simulate(config: Config, databaseUrl: string, days: number, daySeconds: number, onDay: (line: string) => void): Promise<void> {
  const script = path.join(config.projectRoot, 'dist', 'src', 'cli', 'simulate.js');
  const child = spawn(process.execPath, [script, '--days', String(days), '--speed', String(86_400 / daySeconds), '--db', databaseUrl], { stdio: ['ignore', 'ignore', 'pipe'] });
  let buffered = '';
  child.stderr.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) onDay(line);
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`simulate exited with code ${code}`))));
  });
}

/** Load in slices of `sliceSeconds` until `until` settles, then for `settleSeconds` more. */
async function loadWhile(send: (seconds: number) => Promise<LoadResult>, until: Promise<void>, settleSeconds: number): Promise<LoadResult[]> {
  let done = false;
  let failure: unknown;
  until.then(() => (done = true), (error: unknown) => {
    failure = error;
    done = true;
  });
  const results: LoadResult[] = [];
  while (!done) results.push(await send(5));
  if (failure) throw failure;
  results.push(await send(settleSeconds));
  return results;
}

const median = (values: readonly number[]): number => quantileOfSorted([...values].sort((a, b) => a - b), 0.5);

/** Reads every process's RSS each second from the moment `from` resolves (the settle) until `stop`, which gives the medians (MB). */
function sampleRssFrom(from: Promise<void>, pids: ReadonlyMap<string, number>): { stop: () => Leg['settleRss'] } {
  const sums: number[] = [];
  const byProcess = new Map<string, number[]>([...pids.keys()].map((name) => [name, []]));
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const read = (): void => {
    let sum = 0;
    for (const [name, pid] of pids) {
      const rss = (sampleProcess(pid)?.rssBytes ?? 0) / 2 ** 20;
      byProcess.get(name)!.push(rss);
      sum += rss;
    }
    sums.push(sum);
  };
  from.then(() => {
    if (stopped) return;
    read();
    timer = setInterval(read, 1000);
    timer.unref();
  }, () => undefined);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      return { readings: sums.length, sumMedianMb: median(sums), byProcess: Object.fromEntries([...byProcess].map(([name, values]) => [name, median(values)])) };
    },
  };
}

/** A loaded machine may keep a process from answering /metrics for minutes: every process must answer within ten tries of 30 s, or the run stops. */
async function scrapeEvery(urls: ReadonlyMap<string, string>): Promise<Map<string, ProcessCounters>> {
  for (let attempt = 1; ; attempt++) {
    const scraped = await scrapeAll(urls, 30_000);
    if (scraped.size === urls.size) return scraped;
    const missing = [...urls.keys()].filter((name) => !scraped.has(name));
    if (attempt === 10) throw new Error(`no /metrics answer from ${missing.join(', ')} in ten tries`);
  }
}

function runsPerQuery(before: Map<string, ProcessCounters>, after: Map<string, ProcessCounters>): Record<string, number> {
  const queries = difference(after.get('gateway')!, before.get('gateway')).requests;
  const runs: Record<string, number> = {};
  for (const [name, counters] of after) {
    for (const [model, count] of Object.entries(difference(counters, before.get(name)).runs)) runs[model] = (runs[model] ?? 0) + count / queries;
  }
  return runs;
}

function requestRuns(before: Map<string, ProcessCounters>, after: Map<string, ProcessCounters>): Leg['requestRuns'] {
  const byModel: Leg['requestRuns'] = {};
  for (const [name, counters] of after) {
    const { requests, runs, overOne } = difference(counters, before.get(name)).requestRuns;
    for (const [model, count] of Object.entries(requests)) {
      if (count > 0) byModel[model] = { requests: count, runsPerRequest: (runs[model] ?? 0) / count, overOne: overOne[model] ?? 0 };
    }
  }
  return byModel;
}

/** CPU seconds so far of each process (from /proc). */
function cpuSecondsOf(processes: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...processes].map(([name, pid]) => [name, sampleProcess(pid)?.cpuSeconds ?? NaN]));
}

/**
 * V8 heap in use of each process's serving thread (MB), from its /metrics, and of the library's
 * live-monitor thread as "<name> monitor thread"; `held`, the heap each holds from the system
 * (in use or not: V8 keeps what a peak needed). A process that does not answer in 30 s is left out.
 */
async function heapMbOf(urls: ReadonlyMap<string, string>): Promise<{ used: Record<string, number>; held: Record<string, number> }> {
  const used: Record<string, number> = {};
  const held: Record<string, number> = {};
  const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
  await Promise.all([...urls].map(async ([name, url]) => {
    try {
      const response = await fetch(metricsUrl(url), { signal: AbortSignal.timeout(30_000) });
      const samples = parsePrometheus(await response.text());
      used[name] = mb(total(samples, 'nodejs_heap_size_used_bytes'));
      held[name] = mb(total(samples, 'nodejs_heap_size_total_bytes'));
      const monitor = total(samples, 'monitor_thread_heap_used_bytes');
      if (monitor > 0) used[`${name} monitor thread`] = mb(monitor);
      const monitorHeld = total(samples, 'monitor_thread_heap_total_bytes');
      if (monitorHeld > 0) held[`${name} monitor thread`] = mb(monitorHeld);
    } catch {
      // Reported as missing.
    }
  }));
  return { used, held };
}

async function readClock(gatewayUrl: string, token: string): Promise<string> {
  const response = await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query: '{ clock }' }) });
  const body = (await response.json()) as { data?: { clock?: string } };
  return body.data?.clock ?? `(no clock: HTTP ${response.status})`;
}

async function live(config: Config, graph: LaunchedGraph, databaseUrl: string, settings: Settings): Promise<Leg[]> {
  const urls = new Map<string, string>([['gateway', graph.gatewayUrl], ...Object.entries<string>(graph.subgraphUrls)]);
  const pids = [...graph.processes.values()].map((child) => child.pid!);
  const pidByName = new Map([...graph.processes].map(([name, child]) => [name, child.pid!]));
  const tokens = Array.from({ length: 64 }, (_, k) => signDevelopmentToken(config, { sub: `living-bench-${k}`, role: 'staff' }, '4h'));
  const [member, page] = buildScenarios(SUBGRAPH_NAMES, await librarySize(databaseUrl), undefined);
  let sent = 0;
  const target = {
    url: graph.gatewayUrl,
    tokenFor: (_role: string, i: number) => tokens[i % tokens.length]!,
    next: (i: number) => ((sent + i) % settings.pageEvery === settings.pageEvery - 1 ? page! : member!).request(sent + i),
  };
  const send = async (seconds: number): Promise<LoadResult> => {
    const result = await fixedRate(target, { rate: settings.rate, seconds });
    sent += result.requests;
    return result;
  };

  process.stderr.write('living: waiting for every subgraph to finish warming up and the feature memos to fill...\n');
  await graph.warmed();
  await quiesce(urls, { timeoutMs: 600_000, pollMs: 2000 });
  const rolling = new Set(Object.keys(graph.subgraphUrls).filter((name) => name !== 'library'));
  const rollSampler = sampleRolls(urls, rolling);
  rollSampler.take();
  const legs: Leg[] = [];
  for (const [name, throughDay] of [['days 1..checkpoint', settings.checkpoint], ['checkpoint..end', settings.days]] as const) {
    const before = await scrapeEvery(urls);
    const cpuBefore = cpuSecondsOf(pidByName);
    const started = Date.now();
    const days = throughDay - (legs[legs.length - 1]?.throughDay ?? 0);
    // `simulate --days N` lives N more days; the control only lets the same time pass.
    const simulated = settings.noSimulator ? new Promise<void>((resolve) => setTimeout(resolve, days * settings.daySeconds * 1000)) : simulate(config, databaseUrl, days, settings.daySeconds, (line) => {
      if (/^simulate: day \d+ /.test(line) || /refused/.test(line)) process.stderr.write(`living: ${line.replace(/^simulate: /, '')}\n`);
    });
    const simulatedSeconds = simulated.then(() => (Date.now() - started) / 1000);
    // A failed simulation is reported by loadWhile; this handler only keeps it from ending the process before the graph stops.
    simulatedSeconds.catch(() => undefined);
    const settleRss = sampleRssFrom(simulated, pidByName);
    const results = await loadWhile(send, simulated, settings.settle);
    const after = await scrapeEvery(urls);
    const cpuAfter = cpuSecondsOf(pidByName);
    const memory = graphMemory(pids);
    const leg: Leg = {
      name: name.replace('checkpoint', String(settings.checkpoint)).replace('end', String(settings.days)),
      throughDay,
      simulatedSeconds: await simulatedSeconds,
      queries: results.reduce((sum, r) => sum + r.requests, 0),
      failed: results.reduce((sum, r) => sum + r.errors, 0),
      failures: [...new Set(results.flatMap((r) => r.errorSamples))].slice(0, 5),
      worstP99Ms: Math.max(...results.map((r) => r.latency.p99)),
      runsPerQuery: runsPerQuery(before, after),
      requestRuns: requestRuns(before, after),
      memory,
      rssByProcess: rssMbByProcess(pidByName),
      settleRss: settleRss.stop(),
      cpuSecondsByProcess: Object.fromEntries([...cpuAfter].map(([name, seconds]) => [name, Number((seconds - (cpuBefore.get(name) ?? NaN)).toFixed(1))])),
      ...(await heapMbOf(urls).then(({ used, held }) => ({ heapMbByProcess: used, heapHeldMbByProcess: held }))),
      ...rollSampler.take(),
      clock: await readClock(graph.gatewayUrl, tokens[0]!),
      load: loadAverage(),
    };
    legs.push(leg);
    process.stderr.write(`living: ${describeLeg(leg)}\n`);
  }
  rollSampler.stop();
  return legs;
}

const fmt = (value: number, digits = 1): string => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function describeLeg(leg: Leg): string {
  const runs = MEMBER_MODELS.map((m) => `${m} ${fmt(leg.runsPerQuery[m] ?? 0, 3)}`).join(', ');
  const inRequests = MEMBER_MODELS.filter((m) => leg.requestRuns[m])
    .map((m) => `${m} ${fmt(leg.requestRuns[m]!.runsPerRequest, 3)} over ${leg.requestRuns[m]!.requests} (${leg.requestRuns[m]!.overOne} with more than one)`).join(', ');
  return `${leg.name} (clock ${leg.clock}, simulated in ${fmt(leg.simulatedSeconds, 0)} s): ${leg.queries} queries, ${leg.failed} failed`
    + `${leg.failures.length ? ` (${leg.failures.join('; ')})` : ''}, worst 5-s p99 ${fmt(leg.worstP99Ms, 0)} ms; runs per query (background included): ${runs}; `
    + `Σ RSS ${fmt(leg.memory.rssSumMb, 0)} MB (resident, shared pages once: ${fmt(leg.memory.residentMb, 0)} MB); load average ${leg.load}`
    + `\n  inference runs per subgraph request that ran the model: ${inRequests || 'none counted'}`
    + `\n  RSS by process: ${Object.entries(leg.rssByProcess).map(([name, mb]) => `${name} ${fmt(mb, 0)} MB`).join(', ')}`
    + `\n  RSS over the settle (median of ${leg.settleRss.readings} readings): Σ ${fmt(leg.settleRss.sumMedianMb, 0)} MB; ${Object.entries(leg.settleRss.byProcess).map(([name, mb]) => `${name} ${fmt(mb, 0)} MB`).join(', ')}`
    + `\n  heap in use / held by process: ${Object.entries(leg.heapMbByProcess).map(([name, mb]) => `${name} ${fmt(mb, 0)} / ${fmt(leg.heapHeldMbByProcess[name] ?? NaN, 0)} MB`).join(', ')}`
    + `\n  CPU by process: ${Object.entries(leg.cpuSecondsByProcess).map(([name, seconds]) => `${name} ${fmt(seconds)} s`).join(', ')}`
    + `\n  event-loop delay p99 per 2-s window (median / worst of the windows), max: ${Object.entries(leg.loopDelay).map(([name, d]) => `${name} ${fmt(d.p99MedianMs, 0)} / ${fmt(d.p99WorstMs, 0)} ms, ${fmt(d.maxMs, 0)} ms (${d.windows} windows)`).join('; ')}`
    + Object.entries(leg.rolls).map(([name, r]) => `\n  ${name}: ${r.rolls} rolls, ${fmt(r.meanSeconds)} s and ${fmt(r.meanCpuSeconds)} CPU s each; `
      + `event-loop delay during a roll p99 ${fmt(r.loopDelayP99MedianMs, 0)} ms (median roll), ${fmt(r.loopDelayP99WorstMs, 0)} ms (worst), max ${fmt(r.loopDelayMaxMs, 0)} ms; heap ${fmt(r.heapUsedMb, 0)} MB`).join('');
}

async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv, {
    db: 'string', from: 'string', days: 'number', checkpoint: 'number', 'day-seconds': 'number', rate: 'number', 'page-every': 'number', settle: 'number', 'hold-features': 'boolean', 'no-simulator': 'boolean', profile: 'string', 'port-base': 'number', force: 'boolean', json: 'boolean',
  }, USAGE);
  const config = loadConfig();
  if (!flags.db) throw new UsageError(`--db is required\n${USAGE}`);
  const settings: Settings = {
    days: flags.days ?? 90,
    checkpoint: flags.checkpoint ?? 30,
    daySeconds: flags['day-seconds'] ?? 6,
    rate: flags.rate ?? 4,
    pageEvery: flags['page-every'] ?? 5,
    settle: flags.settle ?? 30,
    holdFeatures: Boolean(flags['hold-features']),
    noSimulator: Boolean(flags['no-simulator']),
  };
  if (!Number.isInteger(settings.days) || !Number.isInteger(settings.checkpoint) || settings.checkpoint < 1 || settings.checkpoint >= settings.days) {
    throw new UsageError('--checkpoint and --days must be whole numbers with 1 <= checkpoint < days');
  }
  if (!(settings.daySeconds > 0 && settings.rate > 0 && settings.settle >= 0 && settings.pageEvery >= 1)) throw new UsageError('--day-seconds and --rate must be positive, --settle at least 0, --page-every at least 1');
  const from = path.resolve(flags.from ?? sqlitePath(config.databaseUrl) ?? '');
  if (!existsSync(from)) throw new UsageError(`no library at ${from}; generate one first or pass --from`);
  const file = path.resolve(flags.db);
  copyLibrary(from, file, Boolean(flags.force));
  const databaseUrl = `sqlite:${file}`;

  process.stderr.write(`living: starting the graph on ${file} (load average ${loadAverage()})\n`);
  const base = flags['port-base'];
  if (base !== undefined && !(Number.isInteger(base) && base >= 1024 && base + SUBGRAPH_NAMES.length <= 65_535)) throw new UsageError('--port-base must be a whole number from 1024 to 65528');
  const ports = base === undefined ? undefined : Object.fromEntries([['gateway', base], ...SUBGRAPH_NAMES.map((name, i) => [name, base + 1 + i])]);
  const graph = await launchGraph({ ports, projectRoot: config.projectRoot, subgraphs: SUBGRAPH_NAMES, env: { HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: databaseUrl, FEATURES_ROLL: settings.holdFeatures ? 'off' : 'on' }, logs: 'inherit', startTimeoutMs: 300_000, execArgv: flags.profile ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(flags.profile)] : undefined });
  try {
    const legs = await live(config, graph, databaseUrl, settings);
    const [first, last] = [legs[0]!, legs[legs.length - 1]!];
    const growth = last.memory.rssSumMb / first.memory.rssSumMb - 1;
    const settleGrowth = last.settleRss.sumMedianMb / first.settleRss.sumMedianMb - 1;
    const result = { db: file, settings, legs, rssGrowth: growth, settleRssGrowth: settleGrowth };
    if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      for (const leg of legs) process.stdout.write(`${describeLeg(leg)}\n`);
      process.stdout.write(`Σ RSS from day ${first.throughDay} to day ${last.throughDay}: ${fmt(first.memory.rssSumMb, 0)} -> ${fmt(last.memory.rssSumMb, 0)} MB (${fmt(growth * 100, 1)}%) at the end of each settle; `
        + `${fmt(first.settleRss.sumMedianMb, 0)} -> ${fmt(last.settleRss.sumMedianMb, 0)} MB (${fmt(settleGrowth * 100, 1)}%) as the settle's median; the living library is kept at ${file}\n`);
    }
  } finally {
    await graph.stop();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`living: ${(error as Error).message}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
