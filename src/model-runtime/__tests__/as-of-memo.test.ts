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
  const memo = new AsOfMemo<string>(compute, 'd1', undefined, 'test', pacer?.(busy) ?? new SlicePacer(BUDGET_MS, undefined, busy));
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
    }, 'd1', undefined, 'cheap', new SlicePacer(BUDGET_MS, { min: 1, max: 300, first: 4 }, () => busyMs));
    await memo.warm(Array.from({ length: 2000 }, (_, i) => i));
    expect(slices.slice(0, 4)).toEqual([4, 8, 16, 32]);
    expect(Math.max(...slices)).toBe(300);
  });

  it('shrinks its slices after a costly one, to no fewer than its smallest size', async () => {
    const { memo, slices } = costlyMemo((busy) => new SlicePacer(1, { min: 3, max: 100, first: 50 }, busy));
    await memo.warm(Array.from({ length: 100 }, (_, i) => i));
    // 50 entities cost 50 ms against a budget of 1: from then on the smallest slice, 3 (the last one holds what is left).
    expect(slices).toEqual([50, ...Array.from({ length: 16 }, () => 3), 2]);
  });
});
