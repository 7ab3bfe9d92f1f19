/**
 * Memory of model subgraph processes as the library grows: starts each named model subgraph
 * alone on a library (one process each, on a port the system chooses), and reports its start
 * to ready (wall, and the CPU seconds it spent to get there), then samples its RSS every second
 * for `--watch-s` seconds: RSS at ready, peak, at the end, and the entries its feature memos
 * hold at the end (`feature_memo_entries`). Run it on libraries of several sizes, and with
 * `--project-root` on another checkout's build, to see whether memory per process grows with the
 * library (every member memoised) or stays flat (the bounded feature cache).
 *
 *   node dist/bench/feature-cache.js --db PATH [--models DIR] [--subgraphs churn,overdue,...]
 *        [--watch-s N] [--cache-entries N] [--project-root DIR] [--json]
 *
 * The processes run in development mode with the prediction log off and are stopped afterwards.
 */
import path from 'node:path';
import { parseFlags } from '../src/cli/flags';
import { findProjectRoot, MODEL_NAMES, type SubgraphName } from '../src/config';
import { launchSubgraph, type LaunchedSubgraph } from '../src/graph-launcher';
import { loadAverage, sampleProcess } from './processes';

const USAGE = 'node dist/bench/feature-cache.js --db PATH [--models DIR] [--subgraphs churn,overdue,...] [--watch-s N] [--cache-entries N] [--project-root DIR] [--json]';
const MB = 2 ** 20;

interface Watched {
  readyS: number;
  cpuToReadyS: number;
  rssAtReadyMb: number;
  peakRssMb: number;
  rssAtEndMb: number;
  cpuAtEndS: number;
  memoEntries: number;
}

async function readyWithin(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fetch(url.replace(/\/graphql$/, '/health/ready')).then((r) => r.ok, () => false)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

/** Σ feature_memo_entries on the process's /metrics (0 when it does not answer). */
async function memoEntries(url: string): Promise<number> {
  const text = await fetch(url.replace(/\/graphql$/, '/metrics')).then((r) => r.text(), () => '');
  return text
    .split('\n')
    .filter((line) => line.startsWith('feature_memo_entries{'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function watch(root: string, name: SubgraphName, env: NodeJS.ProcessEnv, watchMs: number): Promise<Watched> {
  const started = performance.now();
  const launched: LaunchedSubgraph = await launchSubgraph(root, name, env);
  try {
    const pid = launched.child.pid ?? NaN;
    if (!(await readyWithin(launched.url, 600_000))) throw new Error(`${name} was not ready within 600 s`);
    const readyS = (performance.now() - started) / 1000;
    const atReady = sampleProcess(pid);
    let peak = atReady?.rssBytes ?? 0;
    const until = Date.now() + watchMs;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      peak = Math.max(peak, sampleProcess(pid)?.rssBytes ?? 0);
    }
    const atEnd = sampleProcess(pid);
    return {
      readyS,
      cpuToReadyS: atReady?.cpuSeconds ?? NaN,
      rssAtReadyMb: (atReady?.rssBytes ?? NaN) / MB,
      peakRssMb: peak / MB,
      rssAtEndMb: (atEnd?.rssBytes ?? NaN) / MB,
      cpuAtEndS: atEnd?.cpuSeconds ?? NaN,
      memoEntries: await memoEntries(launched.url),
    };
  } finally {
    await launched.stop();
  }
}

async function main(): Promise<void> {
  const { flags } = parseFlags(
    process.argv.slice(2),
    { db: 'string', models: 'string', subgraphs: 'string', 'watch-s': 'number', 'cache-entries': 'number', 'project-root': 'string', json: 'boolean' },
    USAGE,
  );
  if (!flags.db) throw new Error(`--db is required\n${USAGE}`);
  const names = (flags.subgraphs ?? 'churn,overdue,segmentation,recommendations').split(',').map((s) => s.trim());
  for (const name of names) if (!(MODEL_NAMES as readonly string[]).includes(name)) throw new Error(`--subgraphs: "${name}" is not a model subgraph (${MODEL_NAMES.join(', ')})\n${USAGE}`);
  const watchS = flags['watch-s'] ?? 60;
  if (!(watchS >= 0 && watchS <= 3600)) throw new Error(`--watch-s must be between 0 and 3600\n${USAGE}`);
  const root = flags['project-root'] ? path.resolve(flags['project-root']) : findProjectRoot(__dirname);
  const databaseUrl = flags.db.includes('://') || flags.db.startsWith('sqlite:') ? flags.db : `sqlite:${path.resolve(flags.db)}`;
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: databaseUrl,
    MODELS_DIR: path.resolve(flags.models ?? path.join(root, 'models')),
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    PREDICTION_LOG: 'off',
    REDIS_URL: '',
    ...(flags['cache-entries'] === undefined ? {} : { FEATURE_CACHE_ENTRIES: String(flags['cache-entries']) }),
  };
  const loadAtStart = loadAverage();
  // One at a time: each process's figures are its own, not shared with a neighbour's start.
  const processes: Record<string, Watched> = {};
  for (const name of names) {
    process.stderr.write(`${name}...\n`);
    processes[name] = await watch(root, name as SubgraphName, env, watchS * 1000);
  }
  const result = { database: databaseUrl, projectRoot: root, cacheEntries: flags['cache-entries'] ?? 'default', watchS, loadAtStart, loadAtEnd: loadAverage(), processes };
  console.log(flags.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
