/**
 * The graph on a library of any size, as a library's IT team meets it: start to ready, to every
 * model subgraph warmed up (its caches filled and first background rankings run, after readiness), the
 * first answers of the aggregates (segments and the watchlists: answered, pending or timed out,
 * and how long until each first holds data), member insights p50 at concurrency 1 once the graph
 * is at rest, and the graph's memory at rest (shared pages counted once, and each process's RSS).
 * Then a page of 100 members (scenario 2) `--pages-asked` times, and member insights with a cold
 * and a warm feature cache, interleaved: a member nobody asked for yet, then the same member
 * again, `--cold-asked` times. Each run of requests also reports the CPU the graph's processes
 * spent per request, and each process's CPU from the aggregates' first data to rest says what
 * background work ran on after them.
 *
 * With `--recommendations-replicas 2`, a second recommendations subgraph on the same store (and
 * the same shared feature store) and a second gateway that lists both replicas are started last:
 * `--replica-asked` members' recommendations are asked of the first gateway (one instance) and
 * of the second (both replicas), and the answers compared; each replica's inference runs (its
 * /metrics) and RSS before and after say how the requests split and whether memory stays flat.
 *
 *   node dist/bench/scale.js --db PATH [--models DIR] [--port-base N] [--members-asked N] [--pages-asked N] [--cold-asked N] [--idle-share X]
 *        [--redis URL] [--feature-store memory|redis] [--cache-entries N] [--recommendations-replicas 1|2] [--replica-asked N]
 *        [--project-root DIR] [--profile DIR] [--json]
 *
 * At rest means no request being answered, no memo filling, and every process under `--idle-share`
 * of a core (0.1); a large share (100) leaves out the last, waiting as the bench did before
 * 0b0e987, so that background work still running is counted in the requests' CPU.
 *
 * It starts its own graph on fixed loopback ports (--port-base for the gateway, the next six for
 * the subgraphs, the next two for the second replica and its gateway), in development mode, and
 * stops it afterwards. `--project-root` runs another
 * checkout's built graph (its dist/) under the same measurement, for a before/after comparison.
 * `--profile DIR` has every process write a V8 CPU profile into DIR when it stops; each run of
 * requests reports its `window` on the monotonic clock, so `profile-summary --window` can show
 * where the CPU of those requests went.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { parseFlags } from '../src/cli/flags';
import { DEVELOPMENT_JWT_SECRET, findProjectRoot, SUBGRAPH_NAMES, type SubgraphName } from '../src/config';
import { launchGateway, launchGraph, launchSubgraph, type LaunchedGraph } from '../src/graph-launcher';
import { openStore } from '../src/store';
import { summarise } from './load';
import { parsePrometheus, quiesce, total } from './metrics';
import { graphMemory, loadAverage, rssMbByProcess, sampleProcess } from './processes';
import { buildScenarios } from './scenarios';

const USAGE =
  'node dist/bench/scale.js --db PATH [--models DIR] [--port-base N] [--members-asked N] [--pages-asked N] [--cold-asked N] [--idle-share X] [--redis URL] [--feature-store memory|redis] [--cache-entries N] [--recommendations-replicas 1|2] [--replica-asked N] [--project-root DIR] [--profile DIR] [--json]';

const RECOMMENDATIONS = 'query Recommendations($id: ID!) { member(id: $id) { id recommendations(first: 10) { book { id } score reason } } }';

const AGGREGATES = {
  segments: '{ segments { name size computedAt ageSeconds } }',
  overdueWatchlist: '{ overdueWatchlist(first: 20) { loan { id } risk { probability } computedAt ageSeconds } }',
  churnWatchlist: '{ churnWatchlist(first: 20) { member { id } risk { probability } computedAt ageSeconds } }',
} as const;
type Aggregate = keyof typeof AGGREGATES;

interface Answered {
  ms: number;
  /** 'data', or the first error's code ('timeout' when the gateway gave up on the subgraph). */
  outcome: string;
  ageSeconds?: number;
}

async function ask(url: string, bearer: string, body: unknown): Promise<Answered & { data?: unknown }> {
  const started = performance.now();
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify(body) });
  } catch (error) {
    // Counted as an answer that is not data, with its cause, rather than ending the run.
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { ms: performance.now() - started, outcome: `fetch failed${cause ? ` (${cause})` : ''}` };
  }
  const parsed = (await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}, not JSON` }] }))) as { data?: Record<string, { ageSeconds?: number }[] | null>; errors?: { message: string; extensions?: { code?: string; reason?: string } }[] };
  const ms = performance.now() - started;
  const error = parsed.errors?.[0];
  if (error) return { ms, outcome: error.extensions?.reason === 'timeout' ? 'timeout' : String(error.extensions?.code ?? error.message) };
  const first = Object.values(parsed.data ?? {})[0];
  return { ms, outcome: 'data', ageSeconds: first?.[0]?.ageSeconds, data: parsed.data };
}

/** Microseconds on the monotonic clock V8's CPU profiles are stamped with. */
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** User + system CPU seconds of each process so far, by name. */
function cpuSecondsOf(pids: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...pids].map(([name, pid]) => [name, sampleProcess(pid)?.cpuSeconds ?? 0]));
}

/**
 * `bodies` asked one after another: latencies, answers that were not data, and the CPU the
 * graph's processes spent per request, in all and per process. Background work running meanwhile
 * is included: at 100,000 members churn's and segmentation's was most of theirs (BENCHMARKS.md).
 */
async function timedRequests(url: string, bearer: string, pids: ReadonlyMap<string, number>, bodies: readonly unknown[]) {
  const latencies: number[] = [];
  let errors = 0;
  // What the answers that were not data were, by kind (an error code, `timeout`, a fetch failure).
  const failures: Record<string, number> = {};
  const cpuBefore = cpuSecondsOf(pids);
  const fromUs = monotonicUs();
  for (const body of bodies) {
    const { ms, outcome } = await ask(url, bearer, body);
    latencies.push(ms);
    if (outcome !== 'data') {
      errors += 1;
      failures[outcome] = (failures[outcome] ?? 0) + 1;
    }
  }
  const window = `${fromUs},${monotonicUs()}`;
  const cpuAfter = cpuSecondsOf(pids);
  const perRequest = (seconds: number) => (bodies.length > 0 ? (seconds * 1000) / bodies.length : NaN);
  const cpuMsPerRequestByProcess = Object.fromEntries([...cpuAfter].map(([name, seconds]) => [name, perRequest(seconds - (cpuBefore.get(name) ?? 0))]));
  const graphCpuMsPerRequest = Object.values(cpuMsPerRequestByProcess).reduce((sum, ms) => sum + ms, 0);
  return { asked: bodies.length, errors, failures, graphCpuMsPerRequest, cpuMsPerRequestByProcess, window, ...summarise(latencies) };
}

async function inferenceRuns(graphqlUrl: string): Promise<number> {
  const text = await fetch(graphqlUrl.replace(/\/graphql$/, '/metrics')).then((r) => r.text(), () => '');
  return total(parsePrometheus(text), 'model_inference_runs_total', { model: 'recommendations' });
}

interface ReplicaRunOptions {
  root: string;
  env: NodeJS.ProcessEnv;
  graph: LaunchedGraph;
  bearer: string;
  /** Ports of the second replica and of the gateway listing both. */
  replicaPort: number;
  gatewayPort: number;
  memberIds: readonly number[];
}

/**
 * A second recommendations replica and a gateway balancing over both: the same members'
 * recommendations asked of one instance (the graph's gateway) and of the pair, compared.
 */
async function twoReplicas({ root, env, graph, bearer, replicaPort, gatewayPort, memberIds }: ReplicaRunOptions) {
  const firstUrl = graph.subgraphUrls.recommendations;
  const firstPid = graph.processes.get('recommendations')?.pid;
  if (!firstUrl || firstPid === undefined) throw new Error('the graph has no recommendations subgraph');
  const second = await launchSubgraph(root, 'recommendations', env, 'ignore', replicaPort);
  try {
    const balanced = await launchGateway(root, { ...graph.subgraphUrls, recommendations: `${firstUrl},${second.url}` }, env, 'ignore', gatewayPort);
    try {
      await readyWithin(balanced.url, 600_000);
      await quiesce(new Map([['second', second.url]]), { pollMs: 2000, timeoutMs: 600_000 });
      const pids = { first: firstPid, second: second.child.pid ?? NaN };
      const rssBefore = rssMbByProcess(new Map(Object.entries(pids)));
      const [firstBefore, secondBefore] = await Promise.all([inferenceRuns(firstUrl), inferenceRuns(second.url)]);
      let identical = 0;
      let different = 0;
      let errors = 0;
      for (const id of memberIds) {
        const body = { query: RECOMMENDATIONS, variables: { id: String(id) } };
        const one = await ask(graph.gatewayUrl, bearer, body);
        const both = await ask(balanced.url, bearer, body);
        if (one.outcome !== 'data' || both.outcome !== 'data') errors += 1;
        else if (JSON.stringify(one.data) === JSON.stringify(both.data)) identical += 1;
        else different += 1;
      }
      const [firstAfter, secondAfter] = await Promise.all([inferenceRuns(firstUrl), inferenceRuns(second.url)]);
      // The first replica also served the one-instance gateway's requests: one run each.
      const viaBalanced = { first: firstAfter - firstBefore - memberIds.length, second: secondAfter - secondBefore };
      return { asked: memberIds.length, identical, different, errors, inferenceRunsViaBalancedGateway: viaBalanced, rssBeforeMb: rssBefore, rssAfterMb: rssMbByProcess(new Map(Object.entries(pids))) };
    } finally {
      await balanced.stop();
    }
  } finally {
    await second.stop();
  }
}

async function readyWithin(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url.replace(/\/graphql$/, '/health/ready')).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`the graph was not ready within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  const { flags } = parseFlags(
    process.argv.slice(2),
    {
      db: 'string',
      models: 'string',
      'port-base': 'number',
      'members-asked': 'number',
      'pages-asked': 'number',
      'cold-asked': 'number',
      'idle-share': 'number',
      'recommendations-replicas': 'number',
      'replica-asked': 'number',
      redis: 'string',
      'feature-store': 'string',
      'cache-entries': 'number',
      'project-root': 'string',
      profile: 'string',
      json: 'boolean',
    },
    USAGE,
  );
  if (!flags.db) throw new Error(`--db is required\n${USAGE}`);
  const featureStore = flags['feature-store'] ?? 'memory';
  if (featureStore !== 'memory' && featureStore !== 'redis') throw new Error(`--feature-store must be memory or redis, got "${featureStore}"\n${USAGE}`);
  if (featureStore === 'redis' && !flags.redis) throw new Error(`--feature-store redis needs --redis URL\n${USAGE}`);
  const coldAsked = flags['cold-asked'] ?? 100;
  const idleShare = flags['idle-share'] ?? 0.1;
  if (!(idleShare > 0)) throw new Error(`--idle-share must be above 0\n${USAGE}`);
  if (!Number.isInteger(coldAsked) || coldAsked < 0 || coldAsked > 10_000) throw new Error(`--cold-asked must be between 0 and 10000\n${USAGE}`);
  const replicas = flags['recommendations-replicas'] ?? 1;
  if (replicas !== 1 && replicas !== 2) throw new Error(`--recommendations-replicas must be 1 or 2\n${USAGE}`);
  const root = flags['project-root'] ? path.resolve(flags['project-root']) : findProjectRoot(__dirname);
  const base = flags['port-base'] ?? 4800;
  const asked = flags['members-asked'] ?? 300;
  const pagesAsked = flags['pages-asked'] ?? 30;
  const databaseUrl = flags.db.includes('://') || flags.db.startsWith('sqlite:') ? flags.db : `sqlite:${path.resolve(flags.db)}`;

  const store = openStore(databaseUrl, { readonly: databaseUrl.startsWith('sqlite:') });
  const count = async (table: 'members' | 'books') => Number((await store.db.selectFrom(table).select((eb) => eb.fn.max('id').as('max')).executeTakeFirstOrThrow()).max);
  const size = { maxMemberId: await count('members'), maxBookId: await count('books') };
  await store.close();

  const ports: Partial<Record<SubgraphName | 'gateway', number>> = { gateway: base };
  SUBGRAPH_NAMES.forEach((name, i) => (ports[name] = base + 1 + i));
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: databaseUrl,
    MODELS_DIR: path.resolve(flags.models ?? path.join(root, 'models')),
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    REDIS_URL: flags.redis ?? '',
    REDIS_KEY_PREFIX: `shelfmark-bench-scale:${randomUUID()}:`,
    FEATURE_STORE: featureStore,
    ...(flags['cache-entries'] === undefined ? {} : { FEATURE_CACHE_ENTRIES: String(flags['cache-entries']) }),
  };
  const bearer = jwt.sign({ role: 'staff' }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256', subject: 'bench-scale', issuer: 'shelfmark', audience: 'shelfmark-graph', expiresIn: '2h' });

  const load = loadAverage();
  const started = performance.now();
  if (flags.profile) mkdirSync(flags.profile, { recursive: true });
  const execArgv = flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(flags.profile)}`] : undefined;
  const graph = await launchGraph({ projectRoot: root, subgraphs: SUBGRAPH_NAMES, env, ports, logs: 'ignore', startTimeoutMs: 1_800_000, execArgv });
  try {
    await readyWithin(graph.gatewayUrl, 1_800_000);
    const readyMs = performance.now() - started;
    // CPU each process spent to get there: on a loaded machine, wall time mostly measures the others.
    const cpuToReadyS = Object.fromEntries([...graph.processes].map(([name, child]) => [name, child.pid === undefined ? NaN : sampleProcess(child.pid)?.cpuSeconds ?? NaN]));
    process.stderr.write(`ready after ${(readyMs / 1000).toFixed(1)} s; asking the aggregates\n`);
    // Each model subgraph warms up once it has answered "ready" (a build without the readiness
    // body's `warmed` counts as warmed once ready); nothing below is timed before all have.
    const warmedAt = graph.warmed().then(() => performance.now());

    const first = {} as Record<Aggregate, Answered>;
    const firstData = {} as Record<Aggregate, Answered & { afterReadyMs: number }>;
    await Promise.all(
      (Object.keys(AGGREGATES) as Aggregate[]).map(async (name) => {
        const readyAt = performance.now();
        const { data: _data, ...answer } = await ask(graph.gatewayUrl, bearer, { query: AGGREGATES[name] });
        first[name] = answer;
        let latest = answer;
        while (latest.outcome !== 'data' && performance.now() - readyAt < 600_000) {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          const { data: _again, ...next } = await ask(graph.gatewayUrl, bearer, { query: AGGREGATES[name] });
          latest = next;
        }
        firstData[name] = { ...latest, afterReadyMs: performance.now() - readyAt };
      }),
    );

    const urls = new Map<string, string>([['gateway', graph.gatewayUrl], ...SUBGRAPH_NAMES.map((name) => [name, `http://127.0.0.1:${ports[name]}/graphql`] as [string, string])]);
    const pidByProcess = new Map([...graph.processes].flatMap(([name, child]) => (child.pid === undefined ? [] : [[name, child.pid] as [string, number]])));
    const restStarted = performance.now();
    const cpuAtFirstData = cpuSecondsOf(pidByProcess);
    const warmedMs = (await warmedAt) - started;
    process.stderr.write(`warmed up after ${(warmedMs / 1000).toFixed(1)} s; waiting for the graph to be at rest before timing requests\n`);
    const memoEntries = await quiesce(urls, { pollMs: 2000, timeoutMs: 900_000, idleShare });
    const restMs = performance.now() - restStarted;
    // Background work still running after every aggregate answered (its later runs, the memos' fill).
    const cpuFromFirstDataToRestS = Object.fromEntries([...cpuSecondsOf(pidByProcess)].map(([name, seconds]) => [name, seconds - (cpuAtFirstData.get(name) ?? 0)]));
    const memory = graphMemory(pidByProcess.values());
    const rssAtRestMb = rssMbByProcess(pidByProcess);

    const scenarios = buildScenarios(SUBGRAPH_NAMES, size, undefined);
    const member = scenarios.find((s) => s.id === 'member');
    const page = scenarios.find((s) => s.id === 'page');
    if (!member || !page) throw new Error('no member or page scenario');
    const memberBodies = Array.from({ length: asked }, (_, i) => JSON.parse(member.request(i).body) as { variables: { id: string } });
    const askedIds = new Set(memberBodies.map((body) => body.variables.id));
    const memberFigures = await timedRequests(graph.gatewayUrl, bearer, pidByProcess, memberBodies);
    let errors = memberFigures.errors;
    const pageFigures = await timedRequests(graph.gatewayUrl, bearer, pidByProcess, Array.from({ length: pagesAsked }, (_, i) => JSON.parse(page.request(i).body) as unknown));
    // Cold and warm, interleaved: a member not asked for before (from the far end of the id range,
    // which the p50 loop above does not reach), then the same member again.
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < coldAsked; i++) {
      let id = size.maxMemberId - 1 - Math.floor((i * size.maxMemberId) / (2 * Math.max(1, coldAsked)));
      while (askedIds.has(String(id)) && id > 1) id -= 1;
      askedIds.add(String(id));
      const body = { query: member.document, variables: { id: String(id) } };
      const first = await ask(graph.gatewayUrl, bearer, body);
      const again = await ask(graph.gatewayUrl, bearer, body);
      cold.push(first.ms);
      warm.push(again.ms);
      if (first.outcome !== 'data' || again.outcome !== 'data') errors += 1;
    }
    const replicaFigures =
      replicas === 2
        ? await twoReplicas({ root, env, graph, bearer, replicaPort: base + 7, gatewayPort: base + 8, memberIds: Array.from({ length: flags['replica-asked'] ?? 100 }, (_, i) => 1 + Math.floor((i * size.maxMemberId) / (flags['replica-asked'] ?? 100))) })
        : undefined;
    const result = {
      members: size.maxMemberId,
      database: databaseUrl.split(':')[0],
      runner: flags.redis ? 'bullmq' : 'in-process',
      loadAverageAtStart: load,
      startToReadyS: readyMs / 1000,
      startToWarmedS: warmedMs / 1000,
      cpuToReadyS,
      firstAnswers: first,
      firstData,
      restAfterAggregatesS: restMs / 1000,
      cpuFromFirstDataToRestS,
      memoEntries,
      memoryAtRestMb: memory,
      rssAtRestMb,
      featureStore,
      cacheEntries: flags['cache-entries'] ?? 'default',
      projectRoot: root,
      member: { ...memberFigures, errors },
      page: pageFigures,
      memberColdCache: { asked: coldAsked, ...summarise(cold) },
      memberWarmCache: { asked: coldAsked, ...summarise(warm) },
      recommendationsReplicas: replicaFigures,
      loadAverageAtEnd: loadAverage(),
    };
    if (flags.json) console.log(JSON.stringify(result));
    else console.log(JSON.stringify(result, null, 2));
  } finally {
    await graph.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
