/**
 * Starts the whole graph as real processes: one per subgraph, and the gateway, which starts
 * alongside them when their ports are fixed and after them when the system chooses the ports.
 * Used by `npm start`, the integration tests and the benchmark, so all three run the graph the
 * same way.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { SubgraphName } from '../config';

export interface LaunchOptions {
  /** Directory holding dist/ (the project root). */
  projectRoot: string;
  subgraphs: readonly SubgraphName[];
  /** Environment for every process (DATABASE_URL, MODELS_DIR, ...). */
  env?: NodeJS.ProcessEnv;
  /** Fixed ports; 0 or absent lets the system choose (tests). */
  ports?: Partial<Record<SubgraphName | 'gateway', number>>;
  /** 'inherit' shows the processes' logs; 'ignore' keeps a test's output clean. */
  logs?: 'inherit' | 'ignore';
  startTimeoutMs?: number;
  /** Node flags for every process, e.g. ['--cpu-prof'] (the benchmark's --profile). */
  execArgv?: string[];
}

/** How long a stopped process may take before SIGKILL: 5 s, or 60 s under --cpu-prof, whose profile is written at exit (a busy process reaches its exit late). */
function stopGraceMs(execArgv: readonly string[] | undefined): number {
  return execArgv?.some((flag) => flag.startsWith('--cpu-prof')) ? 60_000 : 5000;
}

export interface LaunchedGraph {
  gatewayUrl: string;
  subgraphUrls: Partial<Record<SubgraphName, string>>;
  processes: Map<string, ChildProcess>;
  /** Stops one subgraph process (to test partial answers). */
  stopProcess(name: string): Promise<void>;
  /** Starts a stopped subgraph again on its previous port. */
  restartSubgraph(name: SubgraphName): Promise<void>;
  /**
   * Settles once every subgraph (or those named) has finished its warm-up (see `untilWarmed`):
   * what a test or a bench that counts its requests' work waits for first.
   */
  warmed(names?: readonly SubgraphName[]): Promise<void>;
  stop(): Promise<void>;
}

/** How long `untilWarmed` waits by default: a small library warms in seconds, a large one in minutes. */
const WARMED_TIMEOUT_MS = 300_000;

/** How often `untilWarmed` asks; each ask is a readiness probe, which also starts the warm-up. */
const WARMED_POLL_MS = 50;

/**
 * Settles once the subgraph at `url` (its GraphQL URL) says `warmed: true` in its readiness body:
 * a model subgraph's caches are filled and its first background rankings computed (or failed),
 * so their inference runs are over. A model subgraph with no version to serve is not ready but
 * still warms (2 s after listening), so its 503 counts too. A subgraph without `warmed` in its
 * body (the library, or a build from before the field) settles once it answers "ready". Rejects
 * after `timeoutMs`.
 */
export async function untilWarmed(url: string, timeoutMs = WARMED_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const readyUrl = url.replace(/\/graphql$/, '/health/ready');
  for (;;) {
    const answer = await fetch(readyUrl).then(
      async (response) => ({ ok: response.ok, body: (await response.json().catch(() => ({}))) as { warmed?: boolean } }),
      () => undefined,
    );
    if (answer && (answer.body.warmed === true || (answer.ok && answer.body.warmed === undefined))) return;
    if (Date.now() > deadline) throw new Error(`${readyUrl} was not ready and warmed within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, WARMED_POLL_MS));
  }
}

interface Listening {
  type: 'listening';
  name: string;
  url: string;
}

function spawnAndWait(script: string, args: string[], env: NodeJS.ProcessEnv, logs: 'inherit' | 'ignore', timeoutMs: number, execArgv?: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(script, args, { env, stdio: ['ignore', logs, logs, 'ipc'], ...(execArgv ? { execArgv } : {}) });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`${args[0] ?? path.basename(script)} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (message: Listening) => {
      if (message?.type === 'listening') {
        clearTimeout(timer);
        resolve({ child, url: message.url });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0] ?? path.basename(script)} exited with code ${code} before listening`));
    });
  });
}

function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The subgraphs' ports when every one is fixed (not chosen by the system), else undefined. */
function fixedSubgraphPorts(subgraphs: readonly SubgraphName[], ports: LaunchOptions['ports']): [SubgraphName, number][] | undefined {
  const fixed = subgraphs.map((name) => [name, ports?.[name] ?? 0] as [SubgraphName, number]);
  return fixed.every(([, port]) => port > 0) ? fixed : undefined;
}

export async function launchGraph(options: LaunchOptions): Promise<LaunchedGraph> {
  const dist = path.join(options.projectRoot, 'dist', 'src', 'cli');
  const logs = options.logs ?? 'inherit';
  const timeout = options.startTimeoutMs ?? 60_000;
  const grace = stopGraceMs(options.execArgv);
  const baseEnv = { ...process.env, ...options.env };
  const processes = new Map<string, ChildProcess>();
  const subgraphUrls: Partial<Record<SubgraphName, string>> = {};
  const ports: Partial<Record<SubgraphName, string>> = {};

  const startSubgraph = async (name: SubgraphName, port: number) => {
    const { child, url } = await spawnAndWait(path.join(dist, 'subgraph.js'), [name, '--port', String(port)], baseEnv, logs, timeout, options.execArgv);
    processes.set(name, child);
    subgraphUrls[name] = url;
    ports[name] = new URL(url).port;
  };

  const startGateway = (gatewayEnv: NodeJS.ProcessEnv) =>
    spawnAndWait(path.join(dist, 'gateway.js'), ['--port', String(options.ports?.gateway ?? 0)], gatewayEnv, logs, timeout, options.execArgv).then((started) => {
      processes.set('gateway', started.child);
      return started;
    });

  try {
    const fixedPorts = fixedSubgraphPorts(options.subgraphs, options.ports);
    let gateway: { url: string };
    if (fixedPorts) {
      // Every subgraph's address is known before it listens, and the gateway runs from the static
      // supergraph without calling them at start, so it starts alongside them.
      const gatewayEnv: NodeJS.ProcessEnv = { ...baseEnv };
      for (const [name, port] of fixedPorts) gatewayEnv[`${name.toUpperCase()}_PORT`] = String(port);
      [gateway] = await Promise.all([startGateway(gatewayEnv), ...options.subgraphs.map((name) => startSubgraph(name, options.ports?.[name] ?? 0))]);
    } else {
      await Promise.all(options.subgraphs.map((name) => startSubgraph(name, options.ports?.[name] ?? 0)));
      const gatewayEnv: NodeJS.ProcessEnv = { ...baseEnv };
      for (const [name, url] of Object.entries(subgraphUrls)) gatewayEnv[`${name.toUpperCase()}_URL`] = url;
      gateway = await startGateway(gatewayEnv);
    }
    return {
      gatewayUrl: gateway.url,
      subgraphUrls,
      processes,
      stopProcess: async (name) => {
        const child = processes.get(name);
        if (child) await stopChild(child, grace);
      },
      restartSubgraph: (name) => startSubgraph(name, Number(ports[name] ?? 0)),
      warmed: async (names = options.subgraphs) => {
        await Promise.all(
          names.map((name) => {
            const url = subgraphUrls[name];
            if (!url) throw new Error(`subgraph ${name} was not launched`);
            return untilWarmed(url, Math.max(timeout, WARMED_TIMEOUT_MS));
          }),
        );
      },
      stop: async () => {
        const gatewayProcess = processes.get('gateway');
        if (gatewayProcess) await stopChild(gatewayProcess, grace);
        await Promise.all([...processes.values()].map((child) => stopChild(child, grace)));
      },
    };
  } catch (error) {
    await Promise.all([...processes.values()].map((child) => stopChild(child, grace)));
    throw error;
  }
}

export interface LaunchedSubgraph {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** One more process of subgraph `name` on `port` (0: one the system chooses): a replica beside a launched graph's. */
export async function launchSubgraph(projectRoot: string, name: SubgraphName, env: NodeJS.ProcessEnv = {}, logs: 'inherit' | 'ignore' = 'ignore', port = 0): Promise<LaunchedSubgraph> {
  const script = path.join(projectRoot, 'dist', 'src', 'cli', 'subgraph.js');
  const { child, url } = await spawnAndWait(script, [name, '--port', String(port)], { ...process.env, ...env }, logs, 60_000);
  return { url, child, stop: () => stopChild(child) };
}

export interface LaunchedGateway {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** One more gateway process in front of running subgraphs (several gateways sharing Redis), on `port` (0: one the system chooses). */
export async function launchGateway(projectRoot: string, subgraphUrls: Partial<Record<SubgraphName, string>>, env: NodeJS.ProcessEnv = {}, logs: 'inherit' | 'ignore' = 'ignore', port = 0): Promise<LaunchedGateway> {
  const gatewayEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [name, url] of Object.entries(subgraphUrls)) gatewayEnv[`${name.toUpperCase()}_URL`] = url;
  const { child, url } = await spawnAndWait(path.join(projectRoot, 'dist', 'src', 'cli', 'gateway.js'), ['--port', String(port)], gatewayEnv, logs, 60_000);
  return { url, child, stop: () => stopChild(child) };
}
