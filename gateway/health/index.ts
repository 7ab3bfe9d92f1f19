/**
 * Readiness, computed in the background: every `intervalMs` the gateway asks each subgraph's
 * `/health/ready` once, and `GET /health/ready` only reads the last answer. However often the
 * endpoint is called (it needs no token), the subgraphs see one check per interval, so readiness
 * probes cannot add load to the graph. Liveness stays trivial: the process answers.
 *
 * A replica that answers "not ready" or refuses the connection is not ready from that round on.
 * One that was ready and then misses the check's deadline is busy, not gone (a model subgraph
 * warming its caches on a large library holds its event loop for a second at times): it stays
 * ready until it has missed `BUSY_ROUNDS` checks in a row, as a Kubernetes readiness probe's
 * failure threshold does.
 *
 * On shutdown `drain()` flips readiness to 503 first; from then on every request is answered
 * 503 SHUTTING_DOWN with `Connection: close` (so a client on a kept-alive socket gets an
 * answer and opens its next connection elsewhere, never a reset), while requests already in
 * flight finish.
 */
import type { Express, RequestHandler } from 'express';
import { ErrorCode } from '../../src/errors';
import { healthUrl } from '../subgraphs';

export interface ReadinessOptions {
  /** Subgraph name → its replicas' GraphQL URLs: a subgraph is ready when one of them is. */
  subgraphs: Readonly<Record<string, readonly string[]>>;
  /** Fires for every replica after each round, with its answer (the replica sets follow it). */
  onReplica?: (subgraph: string, url: string, ready: boolean) => void;
  intervalMs: number;
  /** Each check's deadline; a subgraph slower than this counts as not ready. */
  timeoutMs: number;
}

export interface Readiness {
  /** The last completed round: whether every subgraph answered, and each one's result. */
  current(): { ready: boolean; subgraphs: Record<string, boolean>; checkedAt: string | null };
  /** Runs one round now (start-up, tests); rounds never overlap. */
  check(): Promise<void>;
  /** Marks the gateway unready from now on (shutdown), whatever the subgraphs say. */
  drain(): void;
  readonly draining: boolean;
  stop(): void;
}

/** Checks in a row a ready replica may miss the deadline of before it counts as not ready. */
export const BUSY_ROUNDS = 3;

type Answer = 'ready' | 'not ready' | 'no answer in time';

async function subgraphAnswer(url: string, timeoutMs: number): Promise<Answer> {
  try {
    const response = await fetch(healthUrl(url, 'ready'), { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.ok ? 'ready' : 'not ready';
  } catch (error) {
    return (error as Error).name === 'TimeoutError' ? 'no answer in time' : 'not ready';
  }
}

export function readinessMonitor({ subgraphs, intervalMs, timeoutMs, onReplica }: ReadinessOptions): Readiness {
  const names = Object.keys(subgraphs);
  let results: Record<string, boolean> = Object.fromEntries(names.map((name) => [name, false]));
  let checkedAt: string | null = null;
  let draining = false;
  let round: Promise<void> | undefined;
  /** By replica URL: whether it counted as ready after the last round, and the checks it has missed in a row since. */
  const replicaState = new Map<string, { ready: boolean; missed: number }>();
  const replicaReady = async (url: string): Promise<boolean> => {
    const answer = await subgraphAnswer(url, timeoutMs);
    const last = replicaState.get(url) ?? { ready: false, missed: 0 };
    const missed = answer === 'no answer in time' ? last.missed + 1 : 0;
    const ready = answer === 'ready' || (answer === 'no answer in time' && last.ready && missed < BUSY_ROUNDS);
    replicaState.set(url, { ready, missed });
    return ready;
  };

  const check = (): Promise<void> => {
    round ??= (async () => {
      const checks = await Promise.all(
        names.map(async (name) => {
          const replicas = await Promise.all((subgraphs[name] ?? []).map(async (url) => [url, await replicaReady(url)] as const));
          for (const [url, ready] of replicas) onReplica?.(name, url, ready);
          return [name, replicas.some(([, ready]) => ready)] as const;
        }),
      );
      results = Object.fromEntries(checks);
      checkedAt = new Date().toISOString();
    })().finally(() => {
      round = undefined;
    });
    return round;
  };
  const timer = setInterval(() => void check(), intervalMs);
  timer.unref();
  void check();

  return {
    current: () => ({ ready: !draining && checkedAt !== null && Object.values(results).every(Boolean), subgraphs: { ...results }, checkedAt }),
    check,
    drain: () => {
      draining = true;
    },
    get draining() {
      return draining;
    },
    stop: () => clearInterval(timer),
  };
}

/**
 * `GET /health/live` and `GET /health/ready`; the latter answers from `readiness` without any
 * I/O. `details` adds state that is shown but never makes the gateway unready (Redis).
 */
export function healthRoutes(app: Express, readiness: Readiness, details: () => Record<string, unknown> = () => ({})): void {
  app.use(shutdownGuard(readiness));
  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', (_req, res) => {
    const { ready, subgraphs, checkedAt } = readiness.current();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', subgraphs, checkedAt, ...details() });
  });
}

/** Express middleware: while draining, closes every connection after its answer, and refuses new work with 503. */
function shutdownGuard(readiness: Readiness): RequestHandler {
  return (req, res, next) => {
    if (!readiness.draining) return next();
    res.setHeader('Connection', 'close');
    if (req.path === '/health/live' || req.path === '/health/ready') return next();
    res.status(503).setHeader('Retry-After', '1');
    res.type('application/json').send(JSON.stringify({ errors: [{ message: 'the gateway is shutting down; retry the request', extensions: { code: ErrorCode.SHUTTING_DOWN } }] }));
  };
}
