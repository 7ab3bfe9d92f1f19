/**
 * Sliding-window request counters whose check and count are one atomic step.
 *
 * Contract of `take(key, cost, quota)`: if `cost` more requests fit in the window, they are
 * recorded and the decision is `admitted`; otherwise nothing is recorded. `used` is the count in
 * the window before this call. Two calls never both see the last free slot: in Redis the whole
 * step is one Lua script (Redis runs scripts one at a time, across every gateway sharing it); in
 * process it is synchronous code between two awaits.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisTimeoutError } from '../redis';

export interface Quota {
  max: number;
  windowMs: number;
}

export interface Decision {
  admitted: boolean;
  /** Requests counted in the window before this one. */
  used: number;
  /** Milliseconds until the oldest counted request leaves the window. */
  resetMs: number;
  /** When refused: milliseconds until `cost` requests would fit. */
  retryAfterMs: number;
}

export interface WindowCounter {
  take(key: string, cost: number, quota: Quota): Promise<Decision>;
}

/** How long until the k-th oldest of `stamps` (ascending) leaves the window; the window when k is out of reach. */
function expiryOf(stamps: readonly number[], k: number, windowMs: number, now: number): number {
  const stamp = k >= 1 && k <= stamps.length ? stamps[k - 1]! : undefined;
  return stamp === undefined ? windowMs : stamp + windowMs - now;
}

/** The in-process counter: used without Redis, and as the fallback while Redis is unreachable. */
export class MemoryWindowCounter implements WindowCounter {
  private readonly windows = new Map<string, number[]>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepIntervalMs = 60_000) {
    // Identities that stop calling would otherwise keep their timestamps forever.
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  async take(key: string, cost: number, { max, windowMs }: Quota): Promise<Decision> {
    const now = Date.now();
    const stamps = (this.windows.get(key) ?? []).filter((t) => t + windowMs > now);
    const used = stamps.length;
    const admitted = used + cost <= max;
    if (admitted) for (let i = 0; i < cost; i++) stamps.push(now);
    this.windows.set(key, stamps);
    return {
      admitted,
      used,
      resetMs: expiryOf(stamps, 1, windowMs, now),
      retryAfterMs: admitted ? 0 : expiryOf(stamps, used + cost - max, windowMs, now),
    };
  }

  /** Drops windows whose every request is older than `maxWindowMs`. */
  sweep(maxWindowMs = 24 * 3600 * 1000): void {
    const now = Date.now();
    for (const [key, stamps] of this.windows) {
      if (stamps.length === 0 || stamps[stamps.length - 1]! + maxWindowMs <= now) this.windows.delete(key);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}

/**
 * KEYS[1] the window (a sorted set of request ids scored by time); ARGV max, windowMs, cost, id.
 * Time is Redis's own clock, so gateways with skewed clocks still share one window.
 */
const TAKE_SCRIPT = `
local key = KEYS[1]
local max = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local id = ARGV[4]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - windowMs)
local used = redis.call('ZCARD', key)
local admitted = 0
if used + cost <= max then
  for i = 1, cost do redis.call('ZADD', key, now, id .. ':' .. i) end
  redis.call('PEXPIRE', key, windowMs)
  admitted = 1
end
local function expiry(k)
  if k < 1 or k > redis.call('ZCARD', key) then return windowMs end
  local entry = redis.call('ZRANGE', key, k - 1, k - 1, 'WITHSCORES')
  return tonumber(entry[2]) + windowMs - now
end
local retryAfter = 0
if admitted == 0 then retryAfter = expiry(used + cost - max) end
return {admitted, used, expiry(1), retryAfter}
`;
const TAKE_SCRIPT_SHA = createHash('sha1').update(TAKE_SCRIPT).digest('hex');

export class RedisWindowCounter implements WindowCounter {
  constructor(
    /** Runs commands under the gateway's Redis deadline (see ../redis). */
    private readonly run: <T>(commands: (client: Redis) => Promise<T>) => Promise<T>,
    private readonly keyPrefix: string,
  ) {}

  async take(key: string, cost: number, { max, windowMs }: Quota): Promise<Decision> {
    const args = [`${this.keyPrefix}${key}`, max, windowMs, cost, randomUUID()] as const;
    const reply = await this.run(async (client) => {
      try {
        return await client.evalsha(TAKE_SCRIPT_SHA, 1, ...args);
      } catch (error) {
        // The first call on a Redis that has not seen the script yet (or was restarted).
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
        return client.eval(TAKE_SCRIPT, 1, ...args);
      }
    });
    if (!Array.isArray(reply) || reply.length !== 4) throw new Error(`rate-limit script answered ${JSON.stringify(reply)}, expected [admitted, used, resetMs, retryAfterMs]`);
    const [admitted, used, resetMs, retryAfterMs] = reply.map(Number) as [number, number, number, number];
    return { admitted: admitted === 1, used, resetMs, retryAfterMs };
  }
}

export interface FallbackEvents {
  /** Fires each time a request is counted in process because Redis could not be used. */
  onFallback(reason: string): void;
}

/**
 * Redis when it answers, the in-process counter when it does not: a request is never refused or
 * held because Redis is down. While it is down each gateway counts on its own.
 */
export class ResilientWindowCounter implements WindowCounter {
  constructor(
    private readonly primary: WindowCounter,
    private readonly fallback: WindowCounter,
    private readonly primaryReady: () => boolean,
    private readonly events: FallbackEvents,
  ) {}

  async take(key: string, cost: number, quota: Quota): Promise<Decision> {
    if (!this.primaryReady()) {
      this.events.onFallback('disconnected');
      return this.fallback.take(key, cost, quota);
    }
    try {
      return await this.primary.take(key, cost, quota);
    } catch (error) {
      this.events.onFallback(error instanceof RedisTimeoutError ? 'timeout' : 'error');
      return this.fallback.take(key, cost, quota);
    }
  }
}
