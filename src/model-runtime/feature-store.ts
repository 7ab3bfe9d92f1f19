/**
 * The shared online store of feature values, the way Feast serves online features from Redis:
 * a value computed by one process (a replica of a subgraph, or another subgraph keeping the same
 * memo) is read by the others instead of being computed again from the store, and no process has
 * to hold every member's values itself. It sits behind each memo's bounded in-process cache
 * (./as-of-memo): a lookup goes LRU → this store (one MGET per batch) → the feature function for
 * what is still missing → written back here (one script call per batch, with a TTL).
 *
 * Keys: `<prefix>features:<memo>:<as-of date>:<entity id>` for a value, and
 * `<prefix>features:<memo>:v:<entity id>` for the entity's version, a counter the change feed
 * moves. A memo's name stands for its feature function (two subgraphs that keep a memo of the
 * same name, churn's and segmentation's `memberActivity`, share its values).
 *
 * Freshness with several processes. A stored value carries the version of its entity that was
 * read *before* its rows were read from the store; it answers only while that is still the
 * entity's version. Invalidation (each process's change follower, see ./follow) increments the
 * version, which makes every stored value of the entity unreadable at once, for every date. The
 * write-back is a Lua script that stores a value only if the entity's version is still the one it
 * was computed at, so a process that read the rows before a change and writes back after the
 * change has been seen cannot bring the stale value back: either its write lands before the
 * increment (and is made unreadable by it) or after (and is refused). Version keys are given the
 * same TTL as values on every increment, so a version key never expires before a value written
 * under an earlier version of it.
 *
 * Redis slow or gone: every command has a deadline, there is no offline queue, and a failure is
 * counted (`feature_store_errors_total`) and answered by computing from the store: a client never
 * sees an error for it. Invalidations that could not be sent are kept (bounded) and sent before
 * the next read; until they are, this process neither reads nor writes the shared store, so it
 * never serves a value it was told is stale. If more were pending than the bound, the process
 * bypasses the shared store until it restarts (logged): correctness first.
 */
import { deserialize, serialize } from 'node:v8';
import { Redis } from 'ioredis';
import type { Logger } from '../logging';

/** What one batch read from the shared store found. */
export interface SharedRead<V> {
  /** The value of each id, in id order; undefined where the store has no readable value. */
  values: (V | undefined)[];
  /** The version of each id as read, to be passed back with the values computed for the misses. */
  versions: string[];
}

/** The shared store as a memo sees it. Every method resolves (never rejects): a failure is a miss. */
export interface SharedFeatureStore {
  read<V>(memo: string, asOf: string, ids: readonly number[]): Promise<SharedRead<V> | undefined>;
  /** Stores values computed after reading `versions`; those whose entity changed since are refused. */
  write<V>(memo: string, asOf: string, entries: readonly { id: number; version: string; value: V }[]): Promise<void>;
  /** Makes every stored value of `ids` in `memo` unreadable (their rows changed). Synchronous gate: reads wait for it. */
  invalidate(memo: string, ids: Iterable<number>): void;
  close(): Promise<void>;
}

/** What the shared store reports, per memo. */
export interface SharedStoreEvents {
  /** Values found in the shared store. */
  hits?(memo: string, n: number): void;
  /** A Redis command failed or timed out: the batch was computed from the store instead. */
  error?(memo: string): void;
  /** Values not written back because their entity changed while they were computed. */
  refused?(memo: string, n: number): void;
}

export interface RedisFeatureStoreOptions {
  url: string;
  /** Prefix of every key (e.g. `shelfmark:`). */
  keyPrefix: string;
  /** Seconds a value (and a version key, from its last increment) is kept. */
  ttlSeconds: number;
  /** Longest wait for one command; a slower Redis counts as down. */
  commandTimeoutMs: number;
  logger: Logger;
  events?: SharedStoreEvents;
  /** Most entity ids whose invalidation may wait for Redis to come back. */
  maxPendingInvalidations?: number;
}

/**
 * Stores each `(version key, value key)` pair's value only if the version key still holds the
 * version the value was computed at (absent counts as "0"). ARGV: ttl, then per pair the
 * expected version and the value (`<version>|<bytes>`). Answers how many were refused.
 */
const WRITE_IF_CURRENT = `
local refused = 0
for i = 1, #KEYS, 2 do
  local current = redis.call('GET', KEYS[i]) or '0'
  local j = i + 1
  if current == ARGV[j] then
    redis.call('SET', KEYS[j], ARGV[j + 1], 'EX', ARGV[1])
  else
    refused = refused + 1
  end
end
return refused
`;

const SEPARATOR = 0x7c; // '|'

/** A value as stored: its entity's version, a separator and the V8 serialisation (keeps typed arrays, Maps, Sets). */
export function encodeStored(version: string, value: unknown): Buffer {
  return Buffer.concat([Buffer.from(`${version}|`), serialize(value)]);
}

/** The version and value of a stored buffer. */
export function decodeStored<V>(stored: Buffer): { version: string; value: V } {
  const at = stored.indexOf(SEPARATOR);
  return { version: stored.subarray(0, at).toString(), value: deserialize(stored.subarray(at + 1)) as V };
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

export class RedisFeatureStore implements SharedFeatureStore {
  private readonly client: Redis;
  /** Invalidations not yet acknowledged by Redis, by memo. */
  private readonly pending = new Map<string, Set<number>>();
  private pendingCount = 0;
  /** Set when more invalidations were pending than the bound: the shared store is no longer trusted. */
  private bypass = false;
  private flushing: Promise<boolean> | undefined;
  private reportedDown = false;
  private readonly maxPending: number;

  constructor(private readonly options: RedisFeatureStoreOptions) {
    this.maxPending = options.maxPendingInvalidations ?? 100_000;
    this.client = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      lazyConnect: false,
      connectTimeout: Math.max(options.commandTimeoutMs, 1000),
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    this.client.on('error', (error: Error) => {
      if (!this.reportedDown) options.logger.warn({ err: error.message }, 'the shared feature store (Redis) is unreachable; features are computed from the store until it is back');
      this.reportedDown = true;
    });
    this.client.on('ready', () => {
      if (this.reportedDown) options.logger.info('the shared feature store (Redis) is reachable again');
      this.reportedDown = false;
    });
  }

  private valueKey(memo: string, asOf: string, id: number): string {
    return `${this.options.keyPrefix}features:${memo}:${asOf}:${id}`;
  }

  private versionKey(memo: string, id: number): string {
    return `${this.options.keyPrefix}features:${memo}:v:${id}`;
  }

  private failed(memo: string, error: unknown): undefined {
    this.options.events?.error?.(memo);
    if (!this.reportedDown) this.options.logger.debug({ memo, err: (error as Error).message }, 'a shared feature store command failed; computing from the store');
    return undefined;
  }

  /**
   * Resolves once connected, or after `waitMs` (then the process serves from the feature function
   * until Redis answers): commands are never queued while disconnected, so one sent before the
   * first connection would only fail.
   */
  async connected(waitMs = 2000): Promise<boolean> {
    if (this.client.status === 'ready') return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        resolve(false);
      }, waitMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.client.once('ready', onReady);
    });
  }

  /** Sends the invalidations still pending; true when none is left (Redis took them all). */
  sync(): Promise<boolean> {
    return this.flushed();
  }

  /** True when nothing is pending (or everything pending was sent now). */
  private async flushed(): Promise<boolean> {
    if (this.bypass) return false;
    if (this.pendingCount === 0) return true;
    this.flushing ??= this.flush().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async flush(): Promise<boolean> {
    const batch = [...this.pending.entries()].map(([memo, ids]) => [memo, [...ids]] as const);
    if (batch.length === 0) return true;
    try {
      const pipeline = this.client.pipeline();
      for (const [memo, ids] of batch) {
        for (const id of ids) {
          const key = this.versionKey(memo, id);
          pipeline.incr(key).expire(key, this.options.ttlSeconds);
        }
      }
      const results = await withDeadline(pipeline.exec(), this.options.commandTimeoutMs);
      const failure = results?.find(([error]) => error);
      if (!results || failure) throw failure?.[0] ?? new Error('the pipeline was not run');
    } catch (error) {
      for (const [memo] of batch) this.failed(memo, error);
      return false;
    }
    // Only what was sent is done: ids invalidated meanwhile stay pending.
    for (const [memo, ids] of batch) {
      const set = this.pending.get(memo);
      for (const id of ids) if (set?.delete(id)) this.pendingCount -= 1;
      if (set?.size === 0) this.pending.delete(memo);
    }
    return this.pendingCount === 0;
  }

  invalidate(memo: string, ids: Iterable<number>): void {
    if (this.bypass) return;
    let set = this.pending.get(memo);
    if (!set) this.pending.set(memo, (set = new Set()));
    for (const id of ids) {
      if (set.has(id)) continue;
      set.add(id);
      this.pendingCount += 1;
    }
    if (this.pendingCount > this.maxPending) {
      this.bypass = true;
      this.pending.clear();
      this.pendingCount = 0;
      this.options.logger.warn({ max: this.maxPending }, 'too many invalidations could not reach the shared feature store; this process stops using it until it restarts');
      return;
    }
    void this.flushed();
  }

  async read<V>(memo: string, asOf: string, ids: readonly number[]): Promise<SharedRead<V> | undefined> {
    if (ids.length === 0) return { values: [], versions: [] };
    if (!(await this.flushed())) return undefined;
    try {
      const keys = [...ids.map((id) => this.versionKey(memo, id)), ...ids.map((id) => this.valueKey(memo, asOf, id))];
      const found = await withDeadline(this.client.mgetBuffer(...keys), this.options.commandTimeoutMs);
      const versions = ids.map((_, i) => found[i]?.toString() ?? '0');
      let hits = 0;
      const values = ids.map((_, i) => {
        const stored = found[ids.length + i];
        if (!stored) return undefined;
        const { version, value } = decodeStored<V>(stored);
        if (version !== versions[i]) return undefined;
        hits += 1;
        return value;
      });
      if (hits > 0) this.options.events?.hits?.(memo, hits);
      return { values, versions };
    } catch (error) {
      return this.failed(memo, error);
    }
  }

  async write<V>(memo: string, asOf: string, entries: readonly { id: number; version: string; value: V }[]): Promise<void> {
    if (entries.length === 0 || !(await this.flushed())) return;
    const keys: string[] = [];
    const args: (string | Buffer)[] = [String(this.options.ttlSeconds)];
    for (const { id, version, value } of entries) {
      keys.push(this.versionKey(memo, id), this.valueKey(memo, asOf, id));
      args.push(version, encodeStored(version, value));
    }
    try {
      const refused = Number(await withDeadline(this.client.eval(WRITE_IF_CURRENT, keys.length, ...keys, ...args), this.options.commandTimeoutMs));
      if (refused > 0) this.options.events?.refused?.(memo, refused);
    } catch (error) {
      this.failed(memo, error);
    }
  }

  async close(): Promise<void> {
    await this.flushed().catch(() => false);
    // QUIT lets Redis close the connection once it answered; a client that never connected just stops retrying.
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }
}
