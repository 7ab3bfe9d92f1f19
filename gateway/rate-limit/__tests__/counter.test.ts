import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { CountGenerations, MemoryWindowCounter, RedisWindowCounter, ResilientWindowCounter, type WindowCounter } from '..';
import type { RedisRun } from '../counter';
import { RedisTimeoutError, withDeadline } from '../../redis';

const quota = { max: 100, windowMs: 60_000 };

async function burst(counter: WindowCounter, key: string, n: number, cost = 1) {
  const decisions = await Promise.all(Array.from({ length: n }, () => counter.take(key, cost, quota)));
  return { admitted: decisions.filter((d) => d.admitted).length, decisions };
}

describe('MemoryWindowCounter', () => {
  const counter = new MemoryWindowCounter();
  afterAll(() => counter.close());

  it('admits exactly the quota out of 300 concurrent takes', async () => {
    const { admitted, decisions } = await burst(counter, 'burst', 300);
    expect(admitted).toBe(100);
    expect(decisions.filter((d) => d.admitted).map((d) => d.used).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('counts a batch as its cost, and refuses one that does not fit whole', async () => {
    expect((await counter.take('batch', 60, quota)).admitted).toBe(true);
    const refused = await counter.take('batch', 50, quota);
    expect(refused).toMatchObject({ admitted: false, used: 60 });
    expect((await counter.take('batch', 40, quota)).admitted).toBe(true);
  });

  it('frees slots as the window slides, and says when', async () => {
    const short = { max: 2, windowMs: 200 };
    await counter.take('slide', 1, short);
    await counter.take('slide', 1, short);
    const refused = await counter.take('slide', 1, short);
    expect(refused.admitted).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(200);
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs + 20));
    expect((await counter.take('slide', 1, short)).admitted).toBe(true);
  });

  it('counts right across many expiries, the oldest stamps dropped in order', async () => {
    // A window long enough that no stall of a loaded machine between two takes outlasts it.
    const short = { max: 1000, windowMs: 1500 };
    for (let round = 0; round < 2; round++) {
      expect(await counter.take('many', 300, short)).toMatchObject({ admitted: true, used: 0 });
      expect(await counter.take('many', 300, short)).toMatchObject({ admitted: true, used: 300 });
      expect(await counter.take('many', 401, short)).toMatchObject({ admitted: false, used: 600 });
      expect(await counter.take('many', 400, short)).toMatchObject({ admitted: true, used: 600 });
      await new Promise((resolve) => setTimeout(resolve, 1600));
    }
  });
});

describe('RedisWindowCounter (the machine\'s Redis at 127.0.0.1:6379)', () => {
  const clients = [new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 0 }), new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 0 })];
  const prefix = `shelfmark-test:counter:${randomUUID()}:`;
  const counters = clients.map((client) => new RedisWindowCounter((commands) => commands(client), prefix));
  afterAll(() => clients.forEach((c) => c.disconnect()));

  it('admits exactly the quota out of 300 concurrent takes over two connections', async () => {
    const decisions = await Promise.all(Array.from({ length: 300 }, (_, i) => counters[i % 2]!.take('burst', 1, quota)));
    expect(decisions.filter((d) => d.admitted)).toHaveLength(100);
    const refused = decisions.find((d) => !d.admitted)!;
    expect(refused.retryAfterMs).toBeGreaterThan(59_000);
  });

  it('agrees with the in-process counter on batches', async () => {
    expect((await counters[0]!.take('batch', 60, quota)).admitted).toBe(true);
    expect(await counters[1]!.take('batch', 50, quota)).toMatchObject({ admitted: false, used: 60 });
    expect((await counters[1]!.take('batch', 40, quota)).admitted).toBe(true);
  });

  it('sends its script in full when Redis does not know it (a new or restarted Redis)', async () => {
    const client = clients[0]!;
    // Answers NOSCRIPT as a Redis that has never seen the script would, without flushing the shared one.
    const forgetful = new Proxy(client, {
      get: (target, property) => (property === 'evalsha' ? () => Promise.reject(new Error('NOSCRIPT No matching script. Please use EVAL.')) : Reflect.get(target, property)),
    });
    const counter = new RedisWindowCounter((commands) => commands(forgetful), prefix);
    expect((await counter.take('noscript', 1, quota)).admitted).toBe(true);
    expect((await counters[1]!.take('noscript', 1, quota)).used).toBe(1);
  });
});

describe('ResilientWindowCounter (the machine\'s Redis at 127.0.0.1:6379, a key prefix of its own per test)', () => {
  const client = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 0 });
  afterAll(() => client.disconnect());

  /** One gateway's counter; `usable` stands for its connection being up, `failing` for Redis timing out. */
  function gateway(prefix: string, { instances = 1, mergeWaitMs = 60_000 } = {}) {
    const state = { usable: true, failing: false, reasons: [] as string[] };
    const run: RedisRun = (commands) => (state.failing ? Promise.reject(new RedisTimeoutError('Redis did not answer within 1 ms')) : commands(client));
    const counter = new ResilientWindowCounter(
      new RedisWindowCounter(run, prefix),
      new CountGenerations(run, prefix, { instances, waitMs: mergeWaitMs }),
      () => state.usable,
      { onFallback: (reason) => state.reasons.push(reason) },
      { share: 0.05, pollMs: 20 },
    );
    return Object.assign(state, { counter });
  }
  const counters: ResilientWindowCounter[] = [];
  afterAll(() => counters.forEach((c) => c.close()));
  const started = (prefix: string, options?: { instances?: number; mergeWaitMs?: number }) => {
    const g = gateway(prefix, options);
    counters.push(g.counter);
    return g;
  };
  async function admittedOf(counter: WindowCounter, key: string, n: number): Promise<number> {
    let admitted = 0;
    for (let i = 0; i < n; i++) if ((await counter.take(key, 1, quota)).admitted) admitted += 1;
    return admitted;
  }
  /** What a Redis restarted without persistence holds of this test's keys: nothing. */
  async function forget(prefix: string): Promise<void> {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
  }

  it('while Redis is unusable admits only its share of the quota, reports why, and writes those requests back before counting in Redis again', async () => {
    const a = started(`shelfmark-test:resilient:${randomUUID()}:`);
    expect(await a.counter.sync()).toBe(true);
    a.failing = true;
    expect((await a.counter.take('degraded', 1, quota)).admitted).toBe(true);
    a.failing = false;
    // One slow answer does not stop counting in Redis.
    expect(await a.counter.take('degraded', 1, quota)).toMatchObject({ admitted: true, used: 0 });
    a.usable = false;
    expect(await admittedOf(a.counter, 'degraded', 20)).toBe(4);
    a.usable = true;
    // Back, but not counting in Redis before it has merged: still degraded, its allowance spent.
    expect((await a.counter.take('degraded', 1, quota)).admitted).toBe(false);
    expect(await a.counter.sync()).toBe(true);
    // 1 counted in Redis, and the 5 admitted in process written back.
    expect((await a.counter.take('degraded', 1, quota)).used).toBe(6);
    expect(a.reasons).toEqual(['timeout', ...new Array(20).fill('disconnected'), 'merging']);
  });

  it('gives a Redis that lost its counts every request it admitted, in Redis or degraded, in a new generation', async () => {
    const prefix = `shelfmark-test:resilient:${randomUUID()}:`;
    const a = started(prefix);
    expect(await a.counter.sync()).toBe(true);
    const first = await client.hget(`${prefix}rate:generation`, 'id');
    expect(await admittedOf(a.counter, 'restarted', 30)).toBe(30);
    a.usable = false;
    expect(await admittedOf(a.counter, 'restarted', 10)).toBe(5);
    a.usable = true;
    await forget(prefix);
    expect(await a.counter.sync()).toBe(true);
    expect(await client.hget(`${prefix}rate:generation`, 'id')).not.toBe(first);
    // 30 counted in Redis and 5 degraded (the share of 100) are back.
    expect((await a.counter.take('restarted', 1, quota)).used).toBe(35);
    // Flushed while connected: the take script notices the generation is gone and counts nothing in it.
    await forget(prefix);
    expect(await a.counter.take('restarted', 1, quota)).toMatchObject({ admitted: false, used: 100 });
    expect(a.reasons.at(-1)).toBe('merging');
    expect(await a.counter.sync()).toBe(true);
    expect((await a.counter.take('restarted', 1, quota)).used).toBe(36);
  });

  it('two gateways, limit 100, Redis restarted empty and one gateway back first: it does not count in Redis until the other wrote its requests back, so exactly 110 are admitted', async () => {
    const prefix = `shelfmark-test:resilient:${randomUUID()}:`;
    const [a, b] = [started(prefix, { instances: 2 }), started(prefix, { instances: 2 })] as const;
    expect(await Promise.all([a.counter.sync(), b.counter.sync()])).toEqual([true, true]);
    const both = async (n: number) => (await admittedOf(a.counter, 'pair', n)) + (await admittedOf(b.counter, 'pair', n));
    expect(await both(60)).toBe(100);
    a.usable = false;
    b.usable = false;
    // Each may admit 5% of 100 on its own.
    expect(await both(20)).toBe(10);
    await forget(prefix);
    a.usable = true;
    expect(await admittedOf(a.counter, 'pair', 5)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Counting in the restarted Redis now would start from A's 55 and admit 45 more.
    expect(await admittedOf(a.counter, 'pair', 50)).toBe(0);
    b.usable = true;
    expect(await Promise.all([b.counter.sync(), a.counter.sync()])).toEqual([true, true]);
    expect(await both(50)).toBe(0);
    expect(await client.zcard(`${prefix}pair`)).toBe(110);
  });

  it('a gateway that never comes back holds the others for at most the merge wait', async () => {
    const prefix = `shelfmark-test:resilient:${randomUUID()}:`;
    const a = started(prefix, { instances: 2, mergeWaitMs: 300 });
    const begun = Date.now();
    expect(await a.counter.sync()).toBe(true);
    expect(Date.now() - begun).toBeGreaterThanOrEqual(280);
    expect(await admittedOf(a.counter, 'alone', 3)).toBe(3);
    expect(a.reasons).toEqual([]);
  });
});

describe('withDeadline', () => {
  it('passes on the answer, or rejects with RedisTimeoutError when there is none in time', async () => {
    await expect(withDeadline(Promise.resolve(7), 50)).resolves.toBe(7);
    await expect(withDeadline(new Promise(() => undefined), 20)).rejects.toThrow(new RedisTimeoutError('Redis did not answer within 20 ms'));
  });

  it('does not time out an answer that arrived while the event loop was busy', async () => {
    const client = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 0 });
    try {
      await client.ping();
      const guarded = withDeadline(client.ping(), 30);
      // Busy past the deadline, as a gateway under a burst is: Redis's answer is in the socket when the timer comes due.
      const until = Date.now() + 150;
      while (Date.now() < until);
      await expect(guarded).resolves.toBe('PONG');
    } finally {
      client.disconnect();
    }
  });
});
