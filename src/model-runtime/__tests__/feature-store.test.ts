/**
 * The shared online feature store on a real Redis (SHELFMARK_TEST_REDIS_URL, by default the
 * machine's at 127.0.0.1:6379), with several memos standing for several processes: a value one
 * computes is read by another, a change's invalidation is never undone by a write-back of a value
 * computed before the change (whichever lands first), and with Redis gone every load still
 * answers, from the feature function, and the failure is counted.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../config';
import { createLogger } from '../../logging';
import { AsOfMemo, SlicePacer } from '../as-of-memo';
import { decodeStored, encodeStored, RedisFeatureStore } from '../feature-store';

const url = process.env.SHELFMARK_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const keyPrefix = `${process.env.SHELFMARK_TEST_REDIS_PREFIX ?? 'shelfmark-test:'}features:${randomUUID()}:`;
const logger = createLogger('feature-store-test', 'error');
const opened: RedisFeatureStore[] = [];

/** One process's connection to the shared store, counting what it reports. */
async function connect(storeUrl = url) {
  const counts = { hits: 0, errors: 0, refused: 0 };
  let onRefused: () => void = () => undefined;
  const store = new RedisFeatureStore({
    url: storeUrl,
    keyPrefix,
    ttlSeconds: 60,
    commandTimeoutMs: 300,
    logger,
    events: {
      hits: (_memo, n) => (counts.hits += n),
      error: () => (counts.errors += 1),
      refused: (_memo, n) => {
        counts.refused += n;
        onRefused();
      },
    },
  });
  opened.push(store);
  await store.connected(storeUrl === url ? 5000 : 300);
  const refusal = (): Promise<void> => new Promise((resolve) => (onRefused = resolve));
  return { store, counts, refusal };
}

/** The library's rows as the feature function reads them: a value per member, changed by the test. */
const rows = new Map<number, string>([[1, 'before'], [2, 'before'], [3, 'before']]);

/** A memo over `rows` on `store`, whose feature function can be held after it has read the rows. */
function memoOn(shared: RedisFeatureStore | undefined) {
  const computed: number[] = [];
  let gate: Promise<void> | undefined;
  const compute = async (ids: number[]): Promise<Map<number, { text: string; values: Float32Array }>> => {
    computed.push(...ids);
    const read = new Map(ids.filter((id) => rows.has(id)).map((id) => [id, { text: rows.get(id)!, values: new Float32Array([id, 0.5]) }]));
    await gate;
    return read;
  };
  const memo = new AsOfMemo(compute, '2026-01-01', undefined, 'activity', new SlicePacer(), { maxEntries: 100, shared });
  return {
    memo,
    computed,
    /** Holds the next computations after their read until the returned release is called. */
    hold: (): (() => void) => {
      let release: () => void = () => undefined;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

/** Waits until `check` holds (the write-back is not awaited by the load that caused it). */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('condition not met in 2 s');
}

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  const redis = new Redis(url);
  const keys = await redis.keys(`${keyPrefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

describe('the feature cache and store settings', () => {
  it('default to a bounded in-process cache and refuse what they cannot serve with', () => {
    expect(loadConfig({}).features).toMatchObject({ cacheEntries: 20_000, store: 'memory' });
    expect(loadConfig({ FEATURE_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379' }).features.store).toBe('redis');
    expect(() => loadConfig({ FEATURE_STORE: 'redis' })).toThrow('FEATURE_STORE=redis needs REDIS_URL');
    expect(() => loadConfig({ FEATURE_STORE: 'disk' })).toThrow('FEATURE_STORE must be memory or redis');
    expect(() => loadConfig({ FEATURE_CACHE_ENTRIES: '0' })).toThrow('FEATURE_CACHE_ENTRIES must be between 1 and');
    expect(() => loadConfig({ FEATURE_CACHE_ENTRIES: '9000000' })).toThrow('FEATURE_CACHE_ENTRIES must be between 1 and');
  });
});

describe('the shared feature store (Redis) behind the memos', () => {
  it('keeps typed arrays intact through its encoding', () => {
    const stored = decodeStored<{ values: Float32Array }>(encodeStored('7', { values: new Float32Array([1.5, 2]) }));
    expect(stored.version).toBe('7');
    expect(stored.value.values).toBeInstanceOf(Float32Array);
    expect([...stored.value.values]).toEqual([1.5, 2]);
  });

  it('serves a value one process computed to another without computing it again', async () => {
    const a = await connect();
    const b = await connect();
    const first = memoOn(a.store);
    const second = memoOn(b.store);
    const [value] = await first.memo.load([1]);
    expect(value?.text).toBe('before');
    await eventually(async () => (await b.store.read('activity', '2026-01-01', [1]))?.values[0] !== undefined);
    b.counts.hits = 0;
    const [shared] = await second.memo.load([1]);
    expect(second.computed).toEqual([]);
    expect(shared?.text).toBe('before');
    expect([...(shared?.values ?? [])]).toEqual([1, 0.5]);
    expect(b.counts.hits).toBe(1);
  });

  it('refuses the write-back of a value computed before a change another process has invalidated', async () => {
    const a = await connect();
    const b = await connect();
    const slow = memoOn(a.store);
    const release = slow.hold();
    // Process A reads member 2's rows (before the change) and is held before writing back.
    const answer = slow.memo.load([2]);
    await eventually(async () => slow.computed.includes(2));
    rows.set(2, 'after');
    // Process B's change follower sees the change and invalidates member 2.
    memoOn(b.store).memo.invalidate([2]);
    expect(await b.store.sync()).toBe(true);
    const refused = a.refusal();
    release();
    expect((await answer)[0]?.text).toBe('before'); // the request that asked before the change
    await refused;
    expect(a.counts.refused).toBe(1);
    // A third process, with nothing cached, reads the change.
    const c = memoOn((await connect()).store);
    expect((await c.memo.load([2]))[0]?.text).toBe('after');
    expect(c.computed).toEqual([2]);
  });

  it('makes a stale value written back just before the invalidation unreadable', async () => {
    const a = await connect();
    const b = await connect();
    const read = await a.store.read('activity', '2026-01-01', [3]);
    expect(read?.values).toEqual([undefined]);
    await a.store.write('activity', '2026-01-01', [{ id: 3, version: read!.versions[0]!, value: { text: 'before', values: new Float32Array() } }]);
    expect((await b.store.read<{ text: string }>('activity', '2026-01-01', [3]))?.values[0]?.text).toBe('before');
    rows.set(3, 'after');
    b.store.invalidate('activity', [3]);
    expect(await b.store.sync()).toBe(true);
    expect((await a.store.read('activity', '2026-01-01', [3]))?.values).toEqual([undefined]);
    const c = memoOn((await connect()).store);
    expect((await c.memo.load([3]))[0]?.text).toBe('after');
  });

  it('answers from the feature function and counts the failure when Redis is unreachable', async () => {
    // Nothing listens on this port (the range this test's branch was given): every command fails.
    const down = await connect('redis://127.0.0.1:4199');
    const memo = memoOn(down.store);
    const [value] = await memo.memo.load([1]);
    expect(value?.text).toBe('before');
    expect(memo.computed).toEqual([1]);
    expect(down.counts.errors).toBeGreaterThanOrEqual(1);
    // An invalidation that cannot reach Redis keeps this process off the shared store until it can.
    memo.memo.invalidate([1]);
    expect(await down.store.sync()).toBe(false);
    expect(await down.store.read('activity', '2026-01-01', [1])).toBeUndefined();
  });
});
