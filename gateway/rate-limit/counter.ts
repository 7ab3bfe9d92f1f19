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
import { evalScript, luaScript } from '../redis';
import { generationKey } from './generation';

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

/**
 * One window's request stamps, oldest first, so the expired ones are always a prefix: dropping
 * them and counting the rest costs nothing per request counted (a window of a busy circulation
 * system holds hundreds of thousands). A stamp is never earlier than the one before it, even if
 * the system clock steps back.
 */
class StampLog {
  private stamps: number[] = [];
  private head = 0;

  get size(): number {
    return this.stamps.length - this.head;
  }

  /** The newest stamp, or undefined when the log is empty. */
  get newest(): number | undefined {
    return this.size > 0 ? this.stamps[this.stamps.length - 1] : undefined;
  }

  /** How long until the k-th oldest stamp leaves the window; the window when k is out of reach. */
  expiry(k: number, windowMs: number, now: number): number {
    const stamp = k >= 1 && k <= this.size ? this.stamps[this.head + k - 1] : undefined;
    return stamp === undefined ? windowMs : stamp + windowMs - now;
  }

  expire(windowMs: number, now: number): void {
    while (this.head < this.stamps.length && (this.stamps[this.head] ?? Infinity) + windowMs <= now) this.head++;
    // Compacted once the dropped prefix is half the array: each stamp is copied at most once on average.
    if (this.head > 64 && this.head * 2 > this.stamps.length) {
      this.stamps = this.stamps.slice(this.head);
      this.head = 0;
    }
  }

  add(now: number, count: number): void {
    const stamp = Math.max(now, this.newest ?? now);
    for (let i = 0; i < count; i++) this.stamps.push(stamp);
  }
}

/** The in-process counter: used without Redis, and as the fallback while Redis is unreachable. */
export class MemoryWindowCounter implements WindowCounter {
  private readonly windows = new Map<string, StampLog>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepIntervalMs = 60_000) {
    // Identities that stop calling would otherwise keep their timestamps forever.
    this.sweeper = setInterval(() => this.sweep(), sweepIntervalMs);
    this.sweeper.unref();
  }

  async take(key: string, cost: number, quota: Quota): Promise<Decision> {
    return this.takeNow(key, cost, quota);
  }

  /** `take` without a turn of the event loop, for callers that must act on the decision before anything else runs. */
  takeNow(key: string, cost: number, { max, windowMs }: Quota): Decision {
    const now = Date.now();
    let stamps = this.windows.get(key);
    if (!stamps) this.windows.set(key, (stamps = new StampLog()));
    stamps.expire(windowMs, now);
    const used = stamps.size;
    const admitted = used + cost <= max;
    if (admitted) stamps.add(now, cost);
    return {
      admitted,
      used,
      resetMs: stamps.expiry(1, windowMs, now),
      retryAfterMs: admitted ? 0 : stamps.expiry(used + cost - max, windowMs, now),
    };
  }

  /** Drops windows whose every request is older than `maxWindowMs`. */
  sweep(maxWindowMs = 24 * 3600 * 1000): void {
    const now = Date.now();
    for (const [key, stamps] of this.windows) {
      const newest = stamps.newest;
      if (newest === undefined || newest + maxWindowMs <= now) this.windows.delete(key);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}

/**
 * KEYS[1] the window (a sorted set of request ids scored by time), KEYS[2] the generation hash
 * (see ./generation); ARGV max, windowMs, cost, id, and the generation the caller counts in ('' to
 * count in whatever Redis holds). Time is Redis's own clock, so gateways with skewed clocks still
 * share one window. Answers [admitted, used, resetMs, retryAfterMs, now]; admitted is -1, and
 * nothing is counted, when Redis no longer holds the caller's generation (it lost its counts).
 */
const TAKE_SCRIPT = `
local key = KEYS[1]
local max = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local id = ARGV[4]
if ARGV[5] ~= '' and redis.call('HGET', KEYS[2], 'id') ~= ARGV[5] then return {-1, 0, 0, 0, 0} end
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
export function membersOf(id: string, cost: number): string[] {
  return Array.from({ length: cost }, (_, i) => `${id}:${i + 1}`);
}

/** Runs commands under the gateway's Redis deadline (see ../redis). */
export type RedisRun = <T>(commands: (client: Redis) => Promise<T>) => Promise<T>;

const RESTORE = luaScript(RESTORE_SCRIPT);
/** Pairs per restore call, so no call carries an unbounded argument list. */
const RESTORE_CHUNK = 500;

/** What a take in Redis came to; `lost` when Redis no longer holds the generation it was asked to count in. */
export type RedisTake = { decision: Decision; counted: CountedRequest[] } | 'lost';

export class RedisWindowCounter implements WindowCounter {
  constructor(
    private readonly run: RedisRun,
    private readonly keyPrefix: string,
  ) {}

  async take(key: string, cost: number, quota: Quota): Promise<Decision> {
    const taken = await this.takeCounted(key, cost, quota);
    if (taken === 'lost') throw new Error('unreachable: a take without a generation is never refused as lost');
    return taken.decision;
  }

  /**
   * `take`, also answering the requests it recorded (none when refused). With a `generation`, it
   * counts only if Redis still holds that generation (see ./generation), and answers `lost` otherwise.
   */
  async takeCounted(key: string, cost: number, { max, windowMs }: Quota, generation = ''): Promise<RedisTake> {
    const id = randomUUID();
    const reply = await this.run((client) => evalScript(client, TAKE, [`${this.keyPrefix}${key}`, generationKey(this.keyPrefix)], [max, windowMs, cost, id, generation]));
    if (!Array.isArray(reply) || reply.length !== 5) throw new Error(`rate-limit script answered ${JSON.stringify(reply)}, expected [admitted, used, resetMs, retryAfterMs, now]`);
    const [admitted, used, resetMs, retryAfterMs, now] = reply.map(Number) as [number, number, number, number, number];
    if (admitted === -1) return 'lost';
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
