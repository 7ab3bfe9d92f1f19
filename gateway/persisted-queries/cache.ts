/**
 * The automatic-persisted-query cache: Redis when configured, shared by every gateway; in
 * process without Redis, and while Redis is unusable. A Redis failure is a cache miss, never a
 * failed request: the client then sends the full query.
 *
 * Bounded, whatever clients send: only documents that parsed and validated reach `register`
 * (see ./index), each at most `maxDocumentBytes`; each subject keeps at most `maxPerSubject`
 * documents (its oldest registration goes first); all documents together, each charged its
 * bytes plus `ENTRY_OVERHEAD_BYTES` for its index entries, stay under `maxBytes` (the least
 * recently used go first); a document unused for `ttlSeconds` is dropped. In Redis the cache
 * has its own key space (`<prefix>apq:*`), and its memory is at most `maxBytes` plus the
 * per-subject indexes, so registrations can never crowd out the rate-limit counters.
 */
import type { Redis } from 'ioredis';
import { evalScript, luaScript } from '../redis';

export interface ApqBounds {
  maxDocumentBytes: number;
  maxPerSubject: number;
  maxBytes: number;
  ttlSeconds: number;
}

export interface ApqCache {
  /** The document registered under `id`; a hit makes it the most recently used. */
  get(id: string): Promise<string | undefined>;
  /** Stores a document that parsed and validated, on behalf of `subject` (role:sub). */
  register(id: string, document: string, subject: string): Promise<void>;
}

/** What one entry costs besides its document: the key, the LRU and size index entries. */
export const ENTRY_OVERHEAD_BYTES = 256;

function chargeOf(document: string): number {
  return Buffer.byteLength(document, 'utf8') + ENTRY_OVERHEAD_BYTES;
}

export class MemoryApqCache implements ApqCache {
  /** In least-recently-used order. */
  private readonly entries = new Map<string, { document: string; owner: string; charge: number; usedAt: number }>();
  /** Each subject's documents, in registration order. */
  private readonly bySubject = new Map<string, Set<string>>();
  private bytes = 0;

  constructor(private readonly bounds: ApqBounds) {}

  async get(id: string): Promise<string | undefined> {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    if (entry.usedAt + this.bounds.ttlSeconds * 1000 <= Date.now()) {
      this.forget(id, entry);
      return undefined;
    }
    entry.usedAt = Date.now();
    this.entries.set(id, entry);
    return entry.document;
  }

  async register(id: string, document: string, subject: string): Promise<void> {
    if (Buffer.byteLength(document, 'utf8') > this.bounds.maxDocumentBytes) return;
    if ((await this.get(id)) !== undefined) return;
    const entry = { document, owner: subject, charge: chargeOf(document), usedAt: Date.now() };
    this.entries.set(id, entry);
    this.bytes += entry.charge;
    let mine = this.bySubject.get(subject);
    if (!mine) this.bySubject.set(subject, (mine = new Set()));
    mine.add(id);
    while (mine.size > this.bounds.maxPerSubject) this.evict(mine.values().next().value as string);
    while (this.bytes > this.bounds.maxBytes && this.entries.size > 0) this.evict(this.entries.keys().next().value as string);
  }

  /** Bytes charged for the documents held (documents plus their overhead). */
  get chargedBytes(): number {
    return this.bytes;
  }

  private evict(id: string): void {
    const entry = this.entries.get(id);
    if (entry) {
      this.entries.delete(id);
      this.forget(id, entry);
    }
  }

  private forget(id: string, entry: { owner: string; charge: number }): void {
    this.bytes -= entry.charge;
    const mine = this.bySubject.get(entry.owner);
    mine?.delete(id);
    if (mine?.size === 0) this.bySubject.delete(entry.owner);
  }
}

/**
 * ARGV prefix, id, document, subject, ttlMs, maxPerSubject, maxBytes, overhead. Keys:
 * apq:doc:<id> the document; apq:lru (id by last use); apq:charge and apq:owner (per id);
 * apq:bytes (total charged); apq:subject:<subject> (the subject's ids by registration).
 * Scores are microseconds from Redis' clock, strictly increasing (apq:clock), so two uses in one
 * millisecond still have an order; they pass as integer strings, since Lua would print a number
 * this large with 14 digits.
 */
const TICK = `
local function tick(p, ttlMs)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('GET', p .. 'apq:clock') or '0')
  if now <= last then now = last + 1 end
  redis.call('SET', p .. 'apq:clock', string.format('%d', now), 'PX', ttlMs)
  return now
end
`;

const REGISTER_SCRIPT = `${TICK}
local p, id, doc, subject = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local ttlMs, maxPerSubject, maxBytes, overhead = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local now = tick(p, ttlMs)
local score = string.format('%d', now)
local lru = p .. 'apq:lru'
local function evict(victim)
  local charge = tonumber(redis.call('HGET', p .. 'apq:charge', victim) or '0')
  local owner = redis.call('HGET', p .. 'apq:owner', victim)
  redis.call('DEL', p .. 'apq:doc:' .. victim)
  redis.call('ZREM', lru, victim)
  redis.call('HDEL', p .. 'apq:charge', victim)
  redis.call('HDEL', p .. 'apq:owner', victim)
  if owner then redis.call('ZREM', p .. 'apq:subject:' .. owner, victim) end
  redis.call('DECRBY', p .. 'apq:bytes', charge)
end
for _, victim in ipairs(redis.call('ZRANGEBYSCORE', lru, '-inf', string.format('%d', now - ttlMs * 1000), 'LIMIT', 0, 100)) do evict(victim) end
if redis.call('ZSCORE', lru, id) then
  redis.call('ZADD', lru, score, id)
  redis.call('PEXPIRE', p .. 'apq:doc:' .. id, ttlMs)
  return 0
end
local charge = string.len(doc) + overhead
redis.call('SET', p .. 'apq:doc:' .. id, doc, 'PX', ttlMs)
redis.call('ZADD', lru, score, id)
redis.call('HSET', p .. 'apq:charge', id, charge)
redis.call('HSET', p .. 'apq:owner', id, subject)
redis.call('INCRBY', p .. 'apq:bytes', charge)
local mine = p .. 'apq:subject:' .. subject
redis.call('ZADD', mine, score, id)
redis.call('PEXPIRE', mine, ttlMs)
for _, index in ipairs({lru, p .. 'apq:charge', p .. 'apq:owner', p .. 'apq:bytes'}) do redis.call('PEXPIRE', index, ttlMs) end
while redis.call('ZCARD', mine) > maxPerSubject do evict(redis.call('ZRANGE', mine, 0, 0)[1]) end
while tonumber(redis.call('GET', p .. 'apq:bytes') or '0') > maxBytes do
  local oldest = redis.call('ZRANGE', lru, 0, 0)[1]
  if not oldest then break end
  evict(oldest)
end
return 1
`;

/** ARGV prefix, id, ttlMs: the document, made the most recently used. */
const GET_SCRIPT = `${TICK}
local p, id, ttlMs = ARGV[1], ARGV[2], tonumber(ARGV[3])
local doc = redis.call('GET', p .. 'apq:doc:' .. id)
if doc then
  redis.call('ZADD', p .. 'apq:lru', string.format('%d', tick(p, ttlMs)), id)
  redis.call('PEXPIRE', p .. 'apq:doc:' .. id, ttlMs)
end
return doc
`;

const SCRIPTS = { register: luaScript(REGISTER_SCRIPT), get: luaScript(GET_SCRIPT) };

export class RedisApqCache implements ApqCache {
  constructor(
    /** Runs commands under the gateway's Redis deadline (see ../redis). */
    private readonly run: <T>(commands: (client: Redis) => Promise<T>) => Promise<T>,
    private readonly keyPrefix: string,
    private readonly isReady: () => boolean,
    private readonly bounds: ApqBounds,
    private readonly fallback: ApqCache,
    private readonly onFallback: (reason: string) => void,
  ) {}

  async get(id: string): Promise<string | undefined> {
    if (!this.isReady()) return this.fallback.get(id);
    try {
      const document = await this.run((client) => evalScript(client, SCRIPTS.get, [], [this.keyPrefix, id, this.bounds.ttlSeconds * 1000]));
      return typeof document === 'string' ? document : undefined;
    } catch (error) {
      this.onFallback((error as Error).message);
      return this.fallback.get(id);
    }
  }

  async register(id: string, document: string, subject: string): Promise<void> {
    if (Buffer.byteLength(document, 'utf8') > this.bounds.maxDocumentBytes) return;
    if (!this.isReady()) return this.fallback.register(id, document, subject);
    const { ttlSeconds, maxPerSubject, maxBytes } = this.bounds;
    try {
      await this.run((client) => evalScript(client, SCRIPTS.register, [], [this.keyPrefix, id, document, subject, ttlSeconds * 1000, maxPerSubject, maxBytes, ENTRY_OVERHEAD_BYTES]));
    } catch (error) {
      this.onFallback((error as Error).message);
      await this.fallback.register(id, document, subject);
    }
  }
}
