/**
 * Rankings over the whole library come from a background job: a request answers the last result
 * with its age, waits for a first result only up to a bound (then AGGREGATE_PENDING), waits
 * as long for a newly promoted version's result, and a change of inputs is ranked again in the
 * background at most once per interval while the previous ranking answers.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { GraphQLError } from 'graphql';
import { ErrorCode } from '../../errors';
import { openBackgroundResults, type BackgroundResults } from '../../jobs';
import { createLogger } from '../../logging';
import type { ModelSlot } from '../model-slot';
import { rankedWatchlist, refreshedRanking, type RankingDeps } from '../watchlist';

const logger = createLogger('test', 'silent');
let background: BackgroundResults;
const stops: (() => void)[] = [];

afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await background?.close();
});

function setup(firstResultWaitMs: number, rankingRefreshMs = 60_000) {
  let version = 'v1';
  const slot = { isReady: () => true, current: () => ({ version }) } as unknown as ModelSlot;
  background = openBackgroundResults({ redisUrl: undefined, keyPrefix: '', queue: 'test', logger });
  const deps: RankingDeps = { inputs: 0, logger, background, config: { follow: { rankingRefreshMs }, aggregates: { firstResultWaitMs, checkIntervalMs: 10 } } };
  return { slot, deps, setVersion: (v: string) => (version = v), version: () => version };
}

async function rejection(promise: Promise<unknown>): Promise<GraphQLError> {
  try {
    await promise;
  } catch (error) {
    return error as GraphQLError;
  }
  throw new Error('expected a rejection');
}

describe('refreshedRanking', () => {
  it('answers the first result with its age, and the same result again without a new run', async () => {
    const { slot, deps, version } = setup(5000);
    let runs = 0;
    const ranking = refreshedRanking('ranking', slot, deps, async () => ({ version: version(), value: `run ${++runs}` }));
    stops.push(ranking.stop);
    const first = await ranking.current();
    expect(first).toMatchObject({ value: 'run 1', version: 'v1' });
    expect(first.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(Date.parse(first.computedAt)).toBeLessThanOrEqual(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await ranking.current();
    expect(again.value).toBe('run 1');
    expect(again.computedAt).toBe(first.computedAt);
    expect(again.ageSeconds).toBeGreaterThan(first.ageSeconds);
    expect(runs).toBe(1);
  });

  it('answers AGGREGATE_PENDING, not a wait, while the first run takes longer than the first wait', async () => {
    const { slot, deps, version } = setup(30);
    let release = () => {};
    const ranking = refreshedRanking('segments', slot, deps, async () => {
      await new Promise<void>((resolve) => (release = resolve));
      return { version: version(), value: 'done' };
    });
    stops.push(ranking.stop);
    const started = Date.now();
    const error = await rejection(ranking.current());
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.extensions).toMatchObject({ code: ErrorCode.AGGREGATE_PENDING, retryAfterSeconds: 5 });
    expect(error.message).toMatch(/segments is being computed/);
    release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await ranking.current()).value).toBe('done');
  });

  it('ranks changed inputs in the background at most once per interval, answering the previous ranking meanwhile', async () => {
    const { slot, deps, version } = setup(5000);
    let runs = 0;
    let release: (() => void) | undefined;
    const ranking = refreshedRanking('ranking', slot, deps, async () => {
      const run = ++runs;
      if (run > 1) await new Promise<void>((resolve) => (release = resolve));
      return { version: version(), value: `run ${run}` };
    });
    stops.push(ranking.stop);
    expect((await ranking.current()).value).toBe('run 1');
    deps.inputs += 1;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runs).toBe(1);
    deps.config.follow.rankingRefreshMs = 0;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runs).toBe(2);
    expect((await ranking.current()).value).toBe('run 1');
    release?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await ranking.current()).value).toBe('run 2');
    expect(runs).toBe(2);
  });

  it('does not ask for a first run again while it is still running, however long it takes', async () => {
    const { slot, deps, version } = setup(30, 0);
    let runs = 0;
    let release: (() => void) | undefined;
    const ranking = refreshedRanking('segments', slot, deps, async () => {
      const run = ++runs;
      if (run === 1) await new Promise<void>((resolve) => (release = resolve));
      return { version: version(), value: `run ${run}` };
    });
    stops.push(ranking.stop);
    void ranking.warm();
    // Many checks (every 10 ms) pass while the first run goes on, each past the refresh interval.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(runs).toBe(1);
    release?.();
    expect((await ranking.current()).value).toBe('run 1');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(runs).toBe(1);
  });

  it('settles its warm-up only once the first run has finished, and once a failed first run has ended', async () => {
    const { slot, deps, version } = setup(5000);
    let release: (() => void) | undefined;
    let runs = 0;
    const ranking = refreshedRanking('segments', slot, deps, async () => {
      runs++;
      await new Promise<void>((resolve) => (release = resolve));
      return { version: version(), value: 'ranked' };
    });
    stops.push(ranking.stop);
    let settled = false;
    const warming = ranking.warm().then(() => (settled = true));
    // Resolved by the run itself, once it has started: the warm-up is still waiting then.
    while (!release) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    release();
    await warming;
    expect((await ranking.current()).value).toBe('ranked');
    expect(runs).toBe(1);

    let failed = 0;
    const broken = refreshedRanking('broken', slot, deps, async () => {
      failed++;
      throw new Error('store unavailable');
    });
    stops.push(broken.stop);
    await broken.warm();
    expect(failed).toBe(1);
  });

  it('asks again after a first run that failed', async () => {
    const { slot, deps, version } = setup(5000, 0);
    let runs = 0;
    const ranking = refreshedRanking('segments', slot, deps, async () => {
      if (++runs === 1) throw new Error('store unavailable');
      return { version: version(), value: `run ${runs}` };
    });
    stops.push(ranking.stop);
    expect((await ranking.current()).value).toBe('run 2');
    expect(runs).toBe(2);
  });

  it("waits for a newly promoted version's result, and answers the previous version's when it takes longer", async () => {
    const { slot, deps, setVersion, version } = setup(200);
    let slow = false;
    const ranking = refreshedRanking('ranking', slot, deps, async () => {
      const at = version();
      if (slow) await new Promise((resolve) => setTimeout(resolve, 1000));
      return { version: at, value: `ranked by ${at}` };
    });
    stops.push(ranking.stop);
    expect((await ranking.current()).value).toBe('ranked by v1');
    setVersion('v2');
    expect(await ranking.current()).toMatchObject({ value: 'ranked by v2', version: 'v2' });
    slow = true;
    setVersion('v3');
    expect(await ranking.current()).toMatchObject({ value: 'ranked by v2', version: 'v2' });
  });

  it('answers MODEL_UNAVAILABLE while no version is loaded, and runs nothing', async () => {
    const { deps } = setup(5000);
    const unloaded = {
      isReady: () => false,
      current: () => {
        throw new GraphQLError('no production version of the churn model is loaded', { extensions: { code: ErrorCode.MODEL_UNAVAILABLE } });
      },
    } as unknown as ModelSlot;
    let runs = 0;
    const ranking = refreshedRanking('churnWatchlist', unloaded, deps, async () => ({ version: 'v1', value: ++runs }));
    stops.push(ranking.stop);
    expect((await rejection(ranking.current())).extensions?.code).toBe(ErrorCode.MODEL_UNAVAILABLE);
    void ranking.warm();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(runs).toBe(0);
  });
});

describe('rankedWatchlist', () => {
  it('keeps the highest `maximum` entries, answers a prefix above the threshold, and refuses bad bounds', async () => {
    const { slot, deps } = setup(5000);
    const probabilities = [0.1, 0.9, 0.5, 0.7, 0.3];
    const watchlist = rankedWatchlist('overdueWatchlist', 3, slot, deps, async () => ({ version: 'v1', ranked: probabilities.map((probability, key) => ({ key, probability })) }));
    stops.push(watchlist.stop);
    const answer = await watchlist.top(3, 0);
    expect(answer.entries.map((e) => e.probability)).toEqual([0.9, 0.7, 0.5]);
    expect(answer.version).toBe('v1');
    expect((await watchlist.top(3, 0.6)).entries.map((e) => e.key)).toEqual([1, 3]);
    expect((await watchlist.top(1, 0)).entries.map((e) => e.key)).toEqual([1]);
    expect((await rejection(watchlist.top(4, 0))).extensions?.code).toBe(ErrorCode.BAD_USER_INPUT);
    expect((await rejection(watchlist.top(2, 1.5))).extensions?.code).toBe(ErrorCode.BAD_USER_INPUT);
  });
});
