/**
 * Sliding-window request counters whose check and count are one atomic step.
 *
 * Contract of `take(key, cost, quota)`: if `cost` more requests fit in the window, they are
 * recorded and the decision is `admitted`; otherwise nothing is recorded. `used` is the count in
 * the window before this call. Two calls never both see the last free slot: in Redis the whole
 * step is one Lua script (Redis runs scripts one at a time, across every gateway sharing it); in
 * process it is synchronous code between two awaits.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { evalScript, luaScript, RedisTimeoutError } from '../redis';

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
 * Answers [admitted, used, resetMs, retryAfterMs, now].
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
return {admitted, used, expiry(1), retryAfter, now}
`;
const TAKE = luaScript(TAKE_SCRIPT);

/** KEYS[1] the window; ARGV windowMs, then score/member pairs. Adding a member Redis still holds changes nothing. */
const RESTORE_SCRIPT = `
local key = KEYS[1]
local windowMs = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do redis.call('ZADD', key, ARGV[i], ARGV[i + 1]) end
redis.call('PEXPIRE', key, windowMs)
return 1
`;

/** One request counted: the member that stands for it in the window, and when. */
export interface CountedRequest {
  member: string;
  stamp: number;
}

/** Members of `cost` requests taken under one id, as the take script names them. */
function membersOf(id: string, cost: number): string[] {
  return Array.from({ length: cost }, (_, i) => `${id}:${i + 1}`);
}

type RedisRun = <T>(commands: (client: Redis) => Promise<T>) => Promise<T>;

const RESTORE = luaScript(RESTORE_SCRIPT);
/** Pairs per restore call, so no call carries an unbounded argument list. */
const RESTORE_CHUNK = 500;

export class RedisWindowCounter implements WindowCounter {
  constructor(
    /** Runs commands under the gateway's Redis deadline (see ../redis). */
    private readonly run: RedisRun,
    private readonly keyPrefix: string,
  ) {}

  async take(key: string, cost: number, quota: Quota): Promise<Decision> {
    return (await this.takeCounted(key, cost, quota)).decision;
  }

  /** `take`, also answering the requests it recorded (none when refused). */
  async takeCounted(key: string, cost: number, { max, windowMs }: Quota): Promise<{ decision: Decision; counted: CountedRequest[] }> {
    const id = randomUUID();
    const reply = await this.run((client) => evalScript(client, TAKE, [`${this.keyPrefix}${key}`], [max, windowMs, cost, id]));
    if (!Array.isArray(reply) || reply.length !== 5) throw new Error(`rate-limit script answered ${JSON.stringify(reply)}, expected [admitted, used, resetMs, retryAfterMs, now]`);
    const [admitted, used, resetMs, retryAfterMs, now] = reply.map(Number) as [number, number, number, number, number];
    const counted = admitted === 1 ? membersOf(id, cost).map((member) => ({ member, stamp: now })) : [];
    return { decision: { admitted: admitted === 1, used, resetMs, retryAfterMs }, counted };
  }

  /** Puts `requests` (back) into the window of `key`; those Redis still holds are unchanged. */
  async restore(key: string, requests: readonly CountedRequest[], windowMs: number): Promise<void> {
    for (let i = 0; i < requests.length; i += RESTORE_CHUNK) {
      const pairs = requests.slice(i, i + RESTORE_CHUNK).flatMap(({ member, stamp }) => [stamp, member]);
      await this.run((client) => evalScript(client, RESTORE, [`${this.keyPrefix}${key}`], [windowMs, ...pairs]));
    }
  }
}

export interface FallbackEvents {
  /** Fires each time a request is counted in process because Redis could not be used. */
  onFallback(reason: string): void;
}

/** What this gateway admitted per window, still inside it, so Redis can be given it back. */
class AdmittedLog {
  private readonly windows = new Map<string, { windowMs: number; requests: CountedRequest[] }>();

  record(key: string, windowMs: number, requests: readonly CountedRequest[]): void {
    if (requests.length === 0) return;
    let window = this.windows.get(key);
    if (!window) {
      window = { windowMs, requests: [] };
      this.windows.set(key, window);
    }
    window.requests.push(...requests);
    this.prune(key, window, Date.now());
  }

  /** Every window with the requests still inside it; empty windows are forgotten. */
  current(): [string, { windowMs: number; requests: CountedRequest[] }][] {
    const now = Date.now();
    for (const [key, window] of this.windows) this.prune(key, window, now);
    return [...this.windows];
  }

  private prune(key: string, window: { windowMs: number; requests: CountedRequest[] }, now: number): void {
    const firstInside = window.requests.findIndex((r) => r.stamp + window.windowMs > now);
    if (firstInside === -1) this.windows.delete(key);
    else if (firstInside > 0) window.requests.splice(0, firstInside);
  }
}

export interface DegradedOptions {
  /** Fraction of each quota this gateway may admit while Redis is unusable (its share of the allowance of all gateways). */
  share: number;
}

/**
 * Redis when it is usable; otherwise a degraded in-process count that admits only `share` of
 * each quota, so N gateways counting on their own while Redis is down or hung admit together
 * at most N × share of the limit (`RATE_LIMIT_DEGRADED_PERCENT`, split over `GATEWAY_INSTANCES`).
 * Every request this gateway admits, in Redis or degraded, is also kept in an in-process log
 * until it leaves its window; `restore()` writes the log back into Redis, which brings a Redis
 * restarted empty (or one that missed the degraded period) back to what every gateway admitted.
 * The gateway calls it each time Redis becomes usable again, before counting in Redis resumes.
 * Across any Redis failure the total admitted in a window is thus at most the limit plus the
 * degraded allowance.
 */
export class ResilientWindowCounter implements WindowCounter {
  private readonly admitted = new AdmittedLog();
  private readonly degraded = new MemoryWindowCounter();

  constructor(
    private readonly primary: RedisWindowCounter,
    private readonly primaryReady: () => boolean,
    private readonly events: FallbackEvents,
    private readonly options: DegradedOptions,
  ) {}

  async take(key: string, cost: number, quota: Quota): Promise<Decision> {
    if (!this.primaryReady()) {
      this.events.onFallback('disconnected');
      return this.takeDegraded(key, cost, quota);
    }
    try {
      const { decision, counted } = await this.primary.takeCounted(key, cost, quota);
      this.admitted.record(key, quota.windowMs, counted);
      return decision;
    } catch (error) {
      this.events.onFallback(error instanceof RedisTimeoutError ? 'timeout' : 'error');
      return this.takeDegraded(key, cost, quota);
    }
  }

  /** Writes every request this gateway admitted, still inside its window, into Redis. */
  async restore(): Promise<void> {
    for (const [key, { windowMs, requests }] of this.admitted.current()) await this.primary.restore(key, requests, windowMs);
  }

  close(): void {
    this.degraded.close();
  }

  private async takeDegraded(key: string, cost: number, quota: Quota): Promise<Decision> {
    const allowance = Math.floor(quota.max * this.options.share);
    const decision = await this.degraded.take(key, cost, { max: allowance, windowMs: quota.windowMs });
    if (decision.admitted) {
      const now = Date.now();
      this.admitted.record(key, quota.windowMs, membersOf(`degraded:${randomUUID()}`, cost).map((member) => ({ member, stamp: now })));
    }
    // Reported against the full quota, so RateLimit-Remaining shows what is left of the allowance.
    return { ...decision, used: decision.used + quota.max - allowance };
  }
}
