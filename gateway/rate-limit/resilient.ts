/**
 * The gateway's rate-limit counter when it has Redis: exact in Redis while Redis is usable, and a
 * bounded in-process count while it is not.
 *
 * Contract: across any Redis failure (killed, hung, restarted empty, restarted mid-window,
 * flushed) the gateways together admit at most the limit plus the degraded allowance in a
 * window, provided `instances` is at least the number of gateways and each reaches Redis again
 * within `mergeWaitMs` of its coming back. Why it holds:
 *
 * - Degraded, each gateway admits at most `share` of each quota per window, counted in process
 *   over every degraded spell in that window, so N gateways admit at most N × share of it.
 * - In Redis, a gateway counts only in a generation (see ./generation) that it merged into and
 *   found open, and only after writing back every request it admitted still in its window; the
 *   take script refuses a generation Redis no longer holds. So whenever Redis admits, it already
 *   holds every request any live gateway admitted through Redis in that window, and those are at
 *   most the limit.
 *
 * A spell of counting in process while Redis was unusable (disconnected, or the breaker open)
 * ends in a merge before this gateway counts in Redis again, so Redis also gets back the degraded
 * requests it missed; a single failed or slow take does not stop counting in Redis.
 */
import { randomUUID } from 'node:crypto';
import { RedisTimeoutError } from '../redis';
import { membersOf, MemoryWindowCounter, type CountedRequest, type Decision, type Quota, type RedisWindowCounter, type WindowCounter } from './counter';
import type { CountGenerations } from './generation';

export interface FallbackEvents {
  /** Fires each time a request is counted in process because Redis could not be used. */
  onFallback(reason: 'disconnected' | 'timeout' | 'error' | 'merging'): void;
}

export interface ResilienceOptions {
  /** Fraction of each quota this gateway may admit while it cannot count in Redis (its share of the allowance of all gateways). */
  share: number;
  /** How often a gateway waiting for a new generation to open asks again. */
  pollMs?: number;
}

/** Requests of one window still inside it; `unsynced` are those Redis may not hold. */
interface LoggedWindow {
  windowMs: number;
  requests: CountedRequest[];
  unsynced: CountedRequest[];
}

/** One window's requests to write back. */
type Unsynced = [key: string, windowMs: number, requests: CountedRequest[]];

/** What this gateway admitted per window, still inside it, and which of it Redis may be missing. */
class AdmittedLog {
  private readonly windows = new Map<string, LoggedWindow>();

  record(key: string, windowMs: number, requests: readonly CountedRequest[], synced: boolean): void {
    if (requests.length === 0) return;
    let window = this.windows.get(key);
    if (!window) {
      window = { windowMs, requests: [], unsynced: [] };
      this.windows.set(key, window);
    }
    window.requests.push(...requests);
    if (!synced) window.unsynced.push(...requests);
    this.prune(key, window, Date.now());
  }

  /** Every request still in its window becomes unsynced (Redis may have lost any of them). */
  unsyncAll(): void {
    const now = Date.now();
    for (const [key, window] of this.windows) {
      this.prune(key, window, now);
      window.unsynced = [...window.requests];
    }
  }

  hasUnsynced(): boolean {
    for (const window of this.windows.values()) if (window.unsynced.length > 0) return true;
    return false;
  }

  /** Hands over the unsynced requests still in their windows; `giveBack` returns them when writing failed. */
  takeUnsynced(): Unsynced[] {
    const now = Date.now();
    const taken: Unsynced[] = [];
    for (const [key, window] of this.windows) {
      this.prune(key, window, now);
      if (window.unsynced.length > 0) taken.push([key, window.windowMs, window.unsynced]);
      window.unsynced = [];
    }
    return taken;
  }

  giveBack(unsynced: readonly Unsynced[]): void {
    for (const [key, windowMs, requests] of unsynced) {
      const window = this.windows.get(key);
      if (window) window.unsynced.unshift(...requests);
      else this.record(key, windowMs, requests, false);
    }
  }

  private prune(key: string, window: LoggedWindow, now: number): void {
    const inside = (r: CountedRequest) => r.stamp + window.windowMs > now;
    const firstInside = window.requests.findIndex(inside);
    if (firstInside === -1) {
      this.windows.delete(key);
      return;
    }
    if (firstInside > 0) window.requests.splice(0, firstInside);
    if (window.unsynced.length > 0 && !inside(window.unsynced[0]!)) window.unsynced = window.unsynced.filter(inside);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ResilientWindowCounter implements WindowCounter {
  private readonly admitted = new AdmittedLog();
  private readonly degraded = new MemoryWindowCounter();
  /** Names this gateway in the generations it merges into. */
  private readonly gatewayId = randomUUID();
  /** The generation this gateway counts in; undefined while it counts in process. */
  private generation: string | undefined;
  /** Bumped when a merge starts, so a Redis answer that arrives after it is not taken as synced. */
  private merges = 0;
  private merging: Promise<boolean> | undefined;
  private closed = false;

  constructor(
    private readonly primary: RedisWindowCounter,
    private readonly generations: CountGenerations,
    private readonly primaryReady: () => boolean,
    private readonly events: FallbackEvents,
    private readonly options: ResilienceOptions,
  ) {}

  async take(key: string, cost: number, quota: Quota): Promise<Decision> {
    if (!this.primaryReady()) {
      // Redis may come back without what it held, and without this gateway's requests meanwhile: merge first.
      this.generation = undefined;
      return this.takeDegraded('disconnected', key, cost, quota);
    }
    const generation = this.generation;
    if (generation === undefined) {
      void this.sync();
      return this.takeDegraded('merging', key, cost, quota);
    }
    const merges = this.merges;
    let taken;
    try {
      taken = await this.primary.takeCounted(key, cost, quota, generation);
    } catch (error) {
      // One failed take: Redis still holds the generation (the next take checks), so counting there
      // goes on; this request, if admitted here, is written back at the next merge.
      return this.takeDegraded(error instanceof RedisTimeoutError ? 'timeout' : 'error', key, cost, quota);
    }
    if (taken === 'lost') {
      this.generation = undefined;
      void this.sync();
      return this.takeDegraded('merging', key, cost, quota);
    }
    this.admitted.record(key, quota.windowMs, taken.counted, merges === this.merges);
    return taken.decision;
  }

  /**
   * Merges this gateway into Redis's current generation (a new one if Redis lost its counts):
   * writes back every request it admitted still in its window, waits until the generation is
   * open, writes back what it admitted meanwhile, then counts in Redis again. Answers whether it
   * does; false when Redis failed on the way (a later take or recovery tries again).
   */
  sync(): Promise<boolean> {
    this.merging ??= this.merge().then(
      () => true,
      () => false,
    ).finally(() => {
      this.merging = undefined;
    });
    return this.merging;
  }

  close(): void {
    this.closed = true;
    this.degraded.close();
  }

  private async merge(): Promise<void> {
    this.generation = undefined;
    this.merges += 1;
    this.admitted.unsyncAll();
    for (;;) {
      const generation = await this.generations.join(randomUUID());
      let state;
      do {
        await this.writeBack();
        state = await this.generations.merged(generation, this.gatewayId);
        if (state === 'waiting') await sleep(this.options.pollMs ?? 100);
        if (this.closed) return;
      } while (state === 'waiting');
      if (state === 'lost') {
        // Redis lost its counts again while this gateway merged: everything goes back again.
        this.admitted.unsyncAll();
        continue;
      }
      while (this.admitted.hasUnsynced()) await this.writeBack();
      // Nothing runs between the check above and this: no request is admitted in process unwritten.
      this.generation = generation;
      return;
    }
  }

  /** Writes the unsynced requests back into Redis. */
  private async writeBack(): Promise<void> {
    const unsynced = this.admitted.takeUnsynced();
    let written = 0;
    try {
      for (const [key, windowMs, requests] of unsynced) {
        await this.primary.restore(key, requests, windowMs);
        written += 1;
      }
    } catch (error) {
      this.admitted.giveBack(unsynced.slice(written));
      throw error;
    }
  }

  private takeDegraded(reason: Parameters<FallbackEvents['onFallback']>[0], key: string, cost: number, quota: Quota): Decision {
    this.events.onFallback(reason);
    const allowance = Math.floor(quota.max * this.options.share);
    const decision = this.degraded.takeNow(key, cost, { max: allowance, windowMs: quota.windowMs });
    if (decision.admitted) {
      const now = Date.now();
      this.admitted.record(key, quota.windowMs, membersOf(`degraded:${randomUUID()}`, cost).map((member) => ({ member, stamp: now })), false);
    }
    // Reported against the full quota, so RateLimit-Remaining shows what is left of the allowance.
    return { ...decision, used: decision.used + quota.max - allowance };
  }
}
