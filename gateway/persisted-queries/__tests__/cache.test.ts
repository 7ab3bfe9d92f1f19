/**
 * The APQ cache's bounds, in process and in Redis (the machine's Redis, under a key prefix of
 * this run's own): documents per subject, total bytes with the least recently used going
 * first, and the document size.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { ENTRY_OVERHEAD_BYTES, MemoryApqCache, RedisApqCache, type ApqBounds, type ApqCache } from '../cache';

const document = (i: number) => `{ models { name } } # ${String(i).padStart(100, '0')}`;
const DOCUMENT_CHARGE = document(0).length + ENTRY_OVERHEAD_BYTES;
const bounds: ApqBounds = { maxDocumentBytes: 1000, maxPerSubject: 5, maxBytes: 8 * DOCUMENT_CHARGE, ttlSeconds: 3600 };

const client = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 0 });
const prefixes: string[] = [];
afterAll(async () => {
  for (const prefix of prefixes) {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
  }
  client.disconnect();
});

function redisCache(prefix: string): ApqCache {
  prefixes.push(prefix);
  return new RedisApqCache((commands) => commands(client), prefix, () => true, bounds, new MemoryApqCache(bounds), (reason) => {
    throw new Error(`unexpected fallback: ${reason}`);
  });
}

const kinds: [string, () => ApqCache][] = [
  ['MemoryApqCache', () => new MemoryApqCache(bounds)],
  ['RedisApqCache', () => redisCache(`shelfmark-test:apq:${randomUUID()}:`)],
];

describe.each(kinds)('%s', (_kind, make) => {
  it('keeps at most maxPerSubject documents per subject, dropping that subject\'s oldest', async () => {
    const cache = make();
    for (let i = 0; i < 7; i++) await cache.register(`id${i}`, document(i), 'analyst:a');
    expect(await cache.get('id0')).toBeUndefined();
    expect(await cache.get('id1')).toBeUndefined();
    for (let i = 2; i < 7; i++) expect(await cache.get(`id${i}`)).toBe(document(i));
  });

  it('keeps the total under maxBytes, dropping the least recently used first', async () => {
    const cache = make();
    for (let i = 0; i < 8; i++) await cache.register(`id${i}`, document(i), `analyst:s${i}`);
    // Using id0 makes id1 the least recently used.
    expect(await cache.get('id0')).toBe(document(0));
    await cache.register('id8', document(8), 'analyst:s8');
    expect(await cache.get('id1')).toBeUndefined();
    for (const i of [0, 2, 3, 4, 5, 6, 7, 8]) expect(await cache.get(`id${i}`)).toBe(document(i));
  });

  it('does not store a document above maxDocumentBytes', async () => {
    const cache = make();
    await cache.register('big', `{ models { name } } # ${'x'.repeat(1000)}`, 'analyst:a');
    expect(await cache.get('big')).toBeUndefined();
  });
});

describe('RedisApqCache memory', () => {
  it('charges what it holds, and holds no more than maxBytes however many subjects register', async () => {
    const prefix = `shelfmark-test:apq:${randomUUID()}:`;
    const cache = redisCache(prefix);
    for (let i = 0; i < 40; i++) await cache.register(`id${i}`, document(i), `analyst:s${i % 10}`);
    expect(Number(await client.get(`${prefix}apq:bytes`))).toBe(8 * DOCUMENT_CHARGE);
    expect(await client.zcard(`${prefix}apq:lru`)).toBe(8);
    const keys = await client.keys(`${prefix}apq:doc:*`);
    expect(keys).toHaveLength(8);
  });
});
