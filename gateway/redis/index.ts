/**
 * The gateway's one Redis connection (rate-limit counters, APQ cache), set up so that Redis
 * being slow or gone never holds a request: no offline queue (a command fails at once while
 * disconnected), no retries per command, a deadline on every command, a circuit breaker that
 * stops sending commands to a Redis that keeps failing or hanging (see ./breaker), and
 * reconnection in the background. When Redis is usable again after being unusable, the
 * `onRecovered` hooks run before `isReady()` says so (the rate limit starts merging what it
 * counted meanwhile back into Redis; see ../rate-limit/resilient).
 *
 * The deadline is not ioredis's `commandTimeout`: a busy gateway's event loop runs due timers
 * before it reads sockets, so under a burst that timeout fires for replies that have already
 * arrived, and every such request would be counted in process instead of exactly in Redis.
 * `withDeadline` declares a timeout only after one more pass over pending I/O found no reply.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../../src/logging';
import { CircuitBreaker, type BreakerState } from './breaker';

export { CircuitBreaker, type BreakerState } from './breaker';

export interface GatewayRedis {
  client: Redis;
  /** True while commands can be sent and the breaker is closed; callers skip Redis (and fall back) otherwise. */
  isReady(): boolean;
  /** Registers work to run each time Redis becomes usable again, before `isReady()` turns true. */
  onRecovered(hook: () => Promise<void>): void;
  /** Runs commands under the deadline; rejects with RedisTimeoutError when Redis does not answer in time. */
  run<T>(commands: (client: Redis) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export class RedisTimeoutError extends Error {}

/** `work`, or a RedisTimeoutError once `ms` have passed and a poll of pending I/O brought no answer. */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    // setImmediate runs after the event loop's poll phase: a reply already in the socket is read first.
    const timer = setTimeout(() => setImmediate(() => {
      if (settled) return;
      settled = true;
      reject(new RedisTimeoutError(`Redis did not answer within ${ms} ms`));
    }), ms);
    work.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export interface GatewayRedisOptions {
  url: string;
  commandTimeoutMs: number;
  logger: Logger;
  /** How long start-up waits for a first connection before serving with the fallbacks. */
  connectWaitMs?: number;
  breaker?: { failures: number; cooldownMs: number };
  onBreakerChange?: (state: BreakerState) => void;
}

export async function connectGatewayRedis({ url, commandTimeoutMs, logger, connectWaitMs = 2000, breaker: breakerOptions = { failures: 3, cooldownMs: 5000 }, onBreakerChange }: GatewayRedisOptions): Promise<GatewayRedis> {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  let reportedDown = false;
  client.on('error', (error: Error) => {
    // ioredis emits an error per failed reconnect; one line per outage is enough.
    if (!reportedDown) logger.warn({ err: error.message }, 'Redis unreachable; rate limits and APQ use in-process fallbacks until it is back');
    reportedDown = true;
  });
  const hooks: (() => Promise<void>)[] = [];
  let recovering = false;
  const recover = async () => {
    if (recovering) return;
    recovering = true;
    try {
      for (const hook of hooks) await hook();
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'Redis recovery step failed; it runs again on the next recovery');
    } finally {
      recovering = false;
    }
  };
  const breaker = new CircuitBreaker({
    ...breakerOptions,
    onChange: (state) => {
      onBreakerChange?.(state);
      if (state === 'open') logger.warn({ cooldownMs: breakerOptions.cooldownMs }, 'Redis keeps failing or hanging: circuit breaker open, using in-process fallbacks');
      if (state === 'closed') {
        logger.info('Redis answers again: circuit breaker closed');
        void recover();
      }
    },
  });
  const run = async <T>(commands: (redis: Redis) => Promise<T>): Promise<T> => {
    try {
      const result = await withDeadline(commands(client), commandTimeoutMs);
      breaker.succeeded();
      return result;
    } catch (error) {
      breaker.failed();
      throw error;
    }
  };
  // A half-open breaker is tried by one PING, never by a request.
  const prober = setInterval(() => {
    if (breaker.state === 'half-open' && client.status === 'ready') run((redis) => redis.ping()).catch(() => undefined);
  }, Math.max(50, Math.min(breakerOptions.cooldownMs, 1000)));
  prober.unref();
  client.on('ready', () => {
    if (reportedDown) logger.info('Redis reachable again');
    reportedDown = false;
    // A reconnection may be to a Redis restarted empty, or one that missed what was counted meanwhile.
    void recover();
  });

  await new Promise<void>((resolve) => {
    if (client.status === 'ready') return resolve();
    const timer = setTimeout(resolve, connectWaitMs);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });

  return {
    client,
    isReady: () => client.status === 'ready' && !recovering && breaker.allows(),
    onRecovered: (hook) => hooks.push(hook),
    run,
    close: async () => {
      clearInterval(prober);
      client.disconnect();
    },
  };
}

/** A Lua script and its SHA-1, for EVALSHA. */
export interface LuaScript {
  source: string;
  sha: string;
}

export function luaScript(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** EVALSHA, falling back to EVAL on a Redis that has not seen the script (a new or restarted one). */
export async function evalScript(client: Redis, script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  try {
    return await client.evalsha(script.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    return client.eval(script.source, keys.length, ...keys, ...args);
  }
}
