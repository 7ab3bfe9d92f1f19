import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryWindowCounter, RedisWindowCounter, ResilientWindowCounter, type WindowCounter } from '..';
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

describe('ResilientWindowCounter', () => {
  const client = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 0 });
  const prefix = `shelfmark-test:resilient:${randomUUID()}:`;
  let redisUsable = true;
  let failNext = false;
  const primary = new RedisWindowCounter((commands) => (failNext ? Promise.reject(new RedisTimeoutError('Redis did not answer within 1 ms')) : commands(client)), prefix);
  const reasons: string[] = [];
  const counter = new ResilientWindowCounter(primary, () => redisUsable, { onFallback: (r) => reasons.push(r) }, { share: 0.05 });
  afterAll(() => {
    counter.close();
    client.disconnect();
  });

  it('while Redis is unusable admits only its share of the quota, and reports why', async () => {
    redisUsable = false;
    const degraded = await Promise.all(Array.from({ length: 20 }, () => counter.take('degraded', 1, quota)));
    expect(degraded.filter((d) => d.admitted)).toHaveLength(5);
    failNext = true;
    redisUsable = true;
    expect((await counter.take('degraded', 1, quota)).admitted).toBe(false);
    expect(reasons).toEqual([...new Array(20).fill('disconnected'), 'timeout']);
    failNext = false;
  });

  it('gives a Redis restarted empty back every request it admitted, in Redis or degraded', async () => {
    const key = 'restarted';
    for (let i = 0; i < 30; i++) await counter.take(key, 1, quota);
    redisUsable = false;
    for (let i = 0; i < 10; i++) await counter.take(key, 1, quota);
    // Redis comes back empty.
    await client.del(`${prefix}${key}`);
    await counter.restore();
    redisUsable = true;
    // 30 counted in Redis and 5 degraded (the share of 100) are back; the restore is idempotent.
    await counter.restore();
    expect((await counter.take(key, 1, quota)).used).toBe(35);
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
