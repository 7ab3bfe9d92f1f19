import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { latestWithin, openBackgroundResults, type BackgroundResults } from '..';
import { createLogger } from '../../logging';

const logger = createLogger('jobs-test', 'silent');

/** A computation the test releases by hand, counting its runs. */
function gated(): { compute: () => Promise<string>; release: () => void; runs: () => number } {
  let runs = 0;
  let open: (() => void)[] = [];
  return {
    compute: async () => {
      const run = ++runs;
      await new Promise<void>((resolve) => open.push(resolve));
      return `run ${run}`;
    },
    release: () => {
      const waiting = open;
      open = [];
      for (const resolve of waiting) resolve();
    },
    runs: () => runs,
  };
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('background results in process (no REDIS_URL)', () => {
  it('runs off the caller\'s path, merges requests made during a run into one more run, and keeps the last result', async () => {
    const results = openBackgroundResults({ redisUrl: undefined, keyPrefix: 'x:', queue: 'q', logger });
    expect(results.runner).toBe('in-process');
    const work = gated();
    const result = results.define('r', work.compute);
    expect(await result.latest()).toBeUndefined();
    expect(await result.pending()).toBe(false);
    result.request();
    result.request();
    result.request();
    expect(work.runs()).toBe(1);
    expect(await result.pending()).toBe(true);
    work.release();
    await until(() => work.runs() === 2);
    expect((await result.latest())?.value).toBe('run 1');
    expect(await result.pending()).toBe(true);
    work.release();
    await until(async () => (await result.latest())?.value === 'run 2');
    expect(work.runs()).toBe(2);
    await until(async () => !(await result.pending()));
    expect(Date.parse((await result.latest())!.computedAt)).toBeLessThanOrEqual(Date.now());
    await results.close();
  });

  it('keeps answering the previous result when a run fails', async () => {
    const results = openBackgroundResults({ redisUrl: undefined, keyPrefix: 'x:', queue: 'q', logger });
    let fail = false;
    let runs = 0;
    const result = results.define('r', async () => {
      runs += 1;
      if (fail) throw new Error('store unavailable');
      return runs;
    });
    result.request();
    expect((await latestWithin(result, 5000))?.value).toBe(1);
    fail = true;
    result.request();
    await until(() => runs === 2);
    await results.close();
    expect((await result.latest())?.value).toBe(1);
  });

  it('latestWithin waits for a wanted result, and answers what there is at its deadline', async () => {
    const results = openBackgroundResults({ redisUrl: undefined, keyPrefix: 'x:', queue: 'q', logger });
    const work = gated();
    const result = results.define('r', work.compute);
    expect(await latestWithin(result, 30)).toBeUndefined();
    result.request();
    setTimeout(work.release, 50);
    expect((await latestWithin(result, 5000))?.value).toBe('run 1');
    result.request();
    expect((await latestWithin(result, 30, (r) => r.value === 'run 2'))?.value).toBe('run 1');
    work.release();
    expect((await latestWithin(result, 5000, (r) => r.value === 'run 2'))?.value).toBe('run 2');
    await results.close();
  });
});

describe("background results on BullMQ (the machine's Redis at 127.0.0.1:6379)", () => {
  const url = 'redis://127.0.0.1:6379';
  const keyPrefix = `shelfmark-test:jobs:${randomUUID()}:`;
  const opened: BackgroundResults[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((r) => r.close()));
    const redis = new Redis(url);
    const keys = await redis.keys(`${keyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('two replicas on one queue compute once per request burst and serve the same stored result; a new replica serves it at once', async () => {
    const replicas = [0, 1].map(() => openBackgroundResults({ redisUrl: url, keyPrefix, queue: 'aggregates-test', logger }));
    opened.push(...replicas);
    expect(replicas.map((r) => r.runner)).toEqual(['bullmq', 'bullmq']);
    let runs = 0;
    const compute = async () => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 200));
      return { ranked: [3, 2, 1], run: runs };
    };
    const [a, b] = replicas.map((r) => r.define('ranking', compute));
    a!.request();
    b!.request();
    a!.request();
    const first = await latestWithin(a!, 10_000);
    expect(first?.value.ranked).toEqual([3, 2, 1]);
    // The burst: one run, and at most one more queued behind it while it was active.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(runs).toBeGreaterThanOrEqual(1);
    expect(runs).toBeLessThanOrEqual(2);
    expect(await b!.latest()).toEqual(await a!.latest());

    await until(async () => !(await a!.pending()) && !(await b!.pending()));
    const beforeGated = runs;
    const work = gated();
    // Defined in both replicas, as a subgraph's results are: either worker may take the job.
    const [gatedResult] = replicas.map((r) => r.define('gated', work.compute));
    if (!gatedResult) throw new Error('no replica');
    expect(await gatedResult.pending()).toBe(false);
    gatedResult.request();
    await until(() => work.runs() === 1);
    expect(await gatedResult.pending()).toBe(true);
    work.release();
    await until(async () => (await gatedResult.latest())?.value === 'run 1');
    await until(async () => !(await gatedResult.pending()));
    expect(work.runs()).toBe(1);
    expect(runs).toBe(beforeGated);

    const late = openBackgroundResults({ redisUrl: url, keyPrefix, queue: 'aggregates-test', logger });
    opened.push(late);
    const c = late.define('ranking', compute);
    expect((await c.latest())?.value.ranked).toEqual([3, 2, 1]);
  }, 30_000);
});
