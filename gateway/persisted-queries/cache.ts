/**
 * The automatic-persisted-query cache (Apollo's `KeyValueCache` shape): Redis when configured,
 * shared by every gateway; an in-process LRU without Redis, and while Redis is unreachable.
 * A Redis failure is a cache miss, never a failed request: the client then sends the full query.
 */
import type { Redis } from 'ioredis';

export interface KeyValueCache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, options?: { ttl?: number | null }): Promise<void>;
  delete(key: string): Promise<boolean | void>;
}

/** Least recently used entries go first once `maxEntries` is reached. */
export class MemoryKeyValueCache implements KeyValueCache {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();

  constructor(private readonly maxEntries = 2000) {}

  async get(key: string): Promise<string | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= Date.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: options?.ttl ? Date.now() + options.ttl * 1000 : Infinity });
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  async delete(key: string): Promise<boolean> {
    return this.entries.delete(key);
  }
}

export class RedisKeyValueCache implements KeyValueCache {
  constructor(
    /** Runs commands under the gateway's Redis deadline (see ../redis). */
    private readonly run: <T>(commands: (client: Redis) => Promise<T>) => Promise<T>,
    private readonly keyPrefix: string,
    private readonly isReady: () => boolean,
    private readonly fallback: KeyValueCache,
    private readonly onFallback: (reason: string) => void,
  ) {}

  async get(key: string): Promise<string | undefined> {
    if (!this.isReady()) return this.fallback.get(key);
    try {
      return (await this.run((client) => client.get(this.keyPrefix + key))) ?? undefined;
    } catch (error) {
      this.onFallback((error as Error).message);
      return this.fallback.get(key);
    }
  }

  async set(key: string, value: string, options?: { ttl?: number | null }): Promise<void> {
    if (!this.isReady()) return this.fallback.set(key, value, options);
    try {
      const ttl = options?.ttl;
      await this.run((client) => (ttl ? client.set(this.keyPrefix + key, value, 'EX', ttl) : client.set(this.keyPrefix + key, value)));
    } catch (error) {
      this.onFallback((error as Error).message);
      await this.fallback.set(key, value, options);
    }
  }

  async delete(key: string): Promise<boolean> {
    if (!this.isReady()) return Boolean(await this.fallback.delete(key));
    try {
      return (await this.run((client) => client.del(this.keyPrefix + key))) > 0;
    } catch (error) {
      this.onFallback((error as Error).message);
      return Boolean(await this.fallback.delete(key));
    }
  }
}
