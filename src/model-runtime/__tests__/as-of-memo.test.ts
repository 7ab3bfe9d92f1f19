/**
 * A roll of the memos to a new date runs beside the requests: every slice of it holds the event
 * loop for about the pacer's budget, so a request arriving during the roll waits for one short
 * slice at most and answers from the old date's values until the roll commits.
 *
 * The entities' cost is counted on a clock of busy milliseconds that the feature function moves
 * (1 ms per entity computed), so what a request waits for is counted, not timed.
 */
import { describe, expect, it } from '@jest/globals';
import { AsOfMemo, SlicePacer } from '../as-of-memo';

const BUDGET_MS = 5;

/** A memo whose feature function costs 1 busy ms per entity, with the slice sizes it was called with. */
function costlyMemo(pacer?: (busy: () => number) => SlicePacer) {
  let busyMs = 0;
  const slices: number[] = [];
  const compute = async (ids: number[], asOf: string): Promise<Map<number, string>> => {
    busyMs += ids.length;
    slices.push(ids.length);
    return new Map(ids.map((id) => [id, `${asOf}:${id}`]));
  };
  const busy = (): number => busyMs;
  const memo = new AsOfMemo<string>(compute, 'd1', undefined, 'test', pacer?.(busy) ?? new SlicePacer({ budgetMs: BUDGET_MS, busyMs: busy }));
  return { memo, slices, busy };
}

/** A request as the server meets one: it arrives with I/O (a later turn of the event loop), then reads the memo. */
async function request(memo: AsOfMemo<string>, id: number, busy: () => number): Promise<{ value: string | undefined; waitedMs: number }> {
  const arrived = busy();
  await new Promise((resolve) => setImmediate(resolve));
  const [value] = await memo.load([id]);
  return { value, waitedMs: busy() - arrived };
}

describe('AsOfMemo rolling forward beside requests', () => {
  it('answers a request during a roll from the old values after one short slice at most', async () => {
    const { memo, slices, busy } = costlyMemo();
    const ids = Array.from({ length: 400 }, (_, i) => i + 1);
    await memo.warm(ids);
    slices.length = 0;

    let rolled = false;
    const rolling = memo.prepare('d2').then((commit) => {
      rolled = true;
      return commit;
    });
    const answers: { value: string | undefined; waitedMs: number }[] = [];
    for (let k = 0; !rolled; k++) answers.push(await request(memo, ids[k % ids.length]!, busy));
    (await rolling)();

    expect(answers.length).toBeGreaterThan(20);
    for (const [k, answer] of answers.entries()) {
      expect(answer.value).toBe(`d1:${ids[k % ids.length]}`);
      expect(answer.waitedMs).toBeLessThanOrEqual(2 * BUDGET_MS);
    }
    expect(Math.max(...slices)).toBeLessThanOrEqual(2 * BUDGET_MS);
    expect(slices.reduce((a, b) => a + b, 0)).toBe(ids.length);
    expect(await memo.load([1, 400])).toEqual(['d2:1', 'd2:400']);
  });

  it('grows its slices while they are cheap, up to its largest size', async () => {
    let busyMs = 0;
    const slices: number[] = [];
    const memo = new AsOfMemo<number>(async (ids) => {
      busyMs += ids.length / 100;
      slices.push(ids.length);
      return new Map(ids.map((id) => [id, id]));
    }, 'd1', undefined, 'cheap', new SlicePacer({ budgetMs: BUDGET_MS, bounds: { min: 1, max: 300, first: 4 }, busyMs: () => busyMs }));
    await memo.warm(Array.from({ length: 2000 }, (_, i) => i));
    expect(slices.slice(0, 4)).toEqual([4, 8, 16, 32]);
    expect(Math.max(...slices)).toBe(300);
  });

  it('shrinks its slices after a costly one, to no fewer than its smallest size', async () => {
    const { memo, slices } = costlyMemo((busy) => new SlicePacer({ budgetMs: 1, bounds: { min: 3, max: 100, first: 50 }, busyMs: busy }));
    await memo.warm(Array.from({ length: 100 }, (_, i) => i));
    // 50 entities cost 50 ms against a budget of 1: from then on the smallest slice, 3 (the last one holds what is left).
    expect(slices).toEqual([50, ...Array.from({ length: 16 }, () => 3), 2]);
  });
});

/** A memo of at most `maxEntries` entities whose feature function records the ids it was asked for. */
function boundedMemo(maxEntries: number) {
  const computed: number[][] = [];
  const evicted: number[] = [];
  const compute = async (ids: number[], asOf: string): Promise<Map<number, string>> => {
    computed.push([...ids].sort((a, b) => a - b));
    // Ids above 1000 are not entities: the feature function has no value for them.
    return new Map(ids.filter((id) => id <= 1000).map((id) => [id, `${asOf}:${id}`]));
  };
  const memo = new AsOfMemo<string>(compute, 'd1', undefined, 'test', new SlicePacer(), { maxEntries, events: { evictions: (n) => evicted.push(n) } });
  return { memo, computed, evicted };
}

describe('AsOfMemo bounded by its cache size', () => {
  it('keeps at most its capacity and evicts the least recently used entity', async () => {
    const { memo, computed, evicted } = boundedMemo(3);
    await memo.load([1, 2, 3]);
    await memo.load([1]); // 1 is now more recent than 2 and 3
    await memo.load([4]); // evicts 2, the least recently used
    expect(memo.size).toBe(3);
    expect(evicted.reduce((a, b) => a + b, 0)).toBe(1);
    computed.length = 0;
    expect(await memo.load([1, 3, 4])).toEqual(['d1:1', 'd1:3', 'd1:4']);
    expect(computed).toEqual([]);
    expect(await memo.load([2])).toEqual(['d1:2']);
    expect(computed).toEqual([[2]]);
    expect(memo.size).toBe(3);
  });

  it('never keeps ids that are not entities, so unknown ids cannot push out known ones', async () => {
    const { memo, computed } = boundedMemo(2);
    await memo.load([1, 2]);
    expect(await memo.load([5001, 5002, 5003])).toEqual([undefined, undefined, undefined]);
    computed.length = 0;
    await memo.load([1, 2]);
    expect(computed).toEqual([]);
  });

  it('warms at most its capacity, and a roll recomputes only what it holds', async () => {
    const { memo, computed } = boundedMemo(5);
    await memo.warm(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(memo.size).toBe(5);
    expect(computed.flat().sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    computed.length = 0;
    (await memo.prepare('d2'))();
    expect(computed.flat().sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
    expect(memo.asOf).toBe('d2');
    expect(await memo.load([3])).toEqual(['d2:3']);
  });

  it('scans the whole library a slice at a time without growing or reordering the cache', async () => {
    const { memo, computed, evicted } = boundedMemo(3);
    await memo.load([1, 2, 3]);
    computed.length = 0;
    const ids = Array.from({ length: 50 }, (_, i) => i + 1);
    const seen: (string | undefined)[] = [];
    const asOf = await memo.scan(ids, (values, slice) => {
      expect(values).toHaveLength(slice.length);
      seen.push(...values);
    });
    expect(asOf).toBe('d1');
    expect(seen).toEqual(ids.map((id) => `d1:${id}`));
    // The held entities were read, not computed; the rest computed and not kept.
    expect(computed.flat().sort((a, b) => a - b)).toEqual(ids.slice(3));
    expect(memo.size).toBe(3);
    expect(evicted).toEqual([]);
    computed.length = 0;
    await memo.load([1, 2, 3]);
    expect(computed).toEqual([]);
  });
});
