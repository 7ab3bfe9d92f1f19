/**
 * A roll carries the members who were not active between the two days and computes the others,
 * and every value it commits is the one the feature function answers at the new day: for each
 * memo a model subgraph serves from, after checkouts, returns and loans falling due in between.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { applyEvent, parseEvent } from '../../src/circulation';
import { createLogger } from '../../src/logging';
import { createProcessMetrics } from '../../src/metrics';
import { AsOfMemo, memoCarry, memoCompute, type MemoSource } from '../../src/model-runtime/as-of-memo';
import { followChanges, membersActiveBetween, type ChangeFollower, type Freshness } from '../../src/model-runtime/follow';
import { openMemos } from '../../src/model-runtime/model-subgraph';
import { CHURN_MEMOS } from '../../src/models/churn';
import { OVERDUE_MEMOS } from '../../src/models/overdue';
import { RECOMMENDATIONS_MEMOS } from '../../src/models/recommendations';
import type { Store } from '../../src/store';
import { tinyLibrary } from '../fixtures/tiny-library';

const FROM = '2025-06-30';
const TO = '2025-07-20';
const MEMBERS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const SOURCES: Record<string, MemoSource<unknown>> = { ...CHURN_MEMOS, ...OVERDUE_MEMOS, ...RECOMMENDATIONS_MEMOS };

/**
 * Member 1 borrows on 2 July, member 2 returns their open loan (id 12) on 3 July, and the clock
 * moves to 20 July, after every open loan of the tiny library fell due (11 July).
 */
async function liveBetween(store: Store): Promise<void> {
  await applyEvent(store, parseEvent({ id: 'co-1', type: 'checkOut', at: '2025-07-02T10:00:00Z', memberId: '1', bookId: '3', branchId: '1' }));
  await applyEvent(store, parseEvent({ id: 'ret-12', type: 'returnLoan', at: '2025-07-03T10:00:00Z', loanId: '12' }));
  await applyEvent(store, parseEvent({ id: 'tick', type: 'advanceClock', to: `${TO}T00:00:00Z` }));
}

describe('rolling memos forward by carrying the members not active in between', () => {
  let store: Store;
  beforeEach(async () => {
    ({ store } = await tinyLibrary(MEMBERS.length, 5));
  });
  afterEach(async () => {
    await store.close();
  });

  it('names the members with a checkout or a return between the two days', async () => {
    await liveBetween(store);
    expect([...(await membersActiveBetween(store, FROM, TO))].sort()).toEqual([1, 2]);
    expect((await membersActiveBetween(store, TO, '2025-07-21')).size).toBe(0);
  });

  it.each(Object.keys(SOURCES))('%s: every rolled value equals a fresh computation at the new day, and only active members are read again', async (name) => {
    const source = SOURCES[name]!;
    const compute = memoCompute(source);
    const asked: number[] = [];
    const memo = new AsOfMemo<unknown>(
      async (ids, asOf) => {
        if (asOf === TO) asked.push(...ids);
        return compute(store, ids, asOf);
      },
      FROM,
      undefined,
      name,
      undefined,
      { carry: memoCarry(source) },
    );
    // The rows change first and the values are computed at the old day afterwards, as a request
    // would between a change and the clock's move: the carried values must still be right.
    await liveBetween(store);
    await memo.warm(MEMBERS);
    const before = await memo.load(MEMBERS);
    (await memo.prepare(TO, await membersActiveBetween(store, FROM, TO)))();
    const fresh = await compute(store, MEMBERS, TO);
    expect(await memo.load(MEMBERS)).toEqual(MEMBERS.map((id) => fresh.get(id)));
    expect([...new Set(asked)].sort()).toEqual([1, 2]);
    if (name !== 'borrowingHistory') expect(await memo.load([5])).not.toEqual([before[4]]);
  });
});

describe('the change follower rolls with carried values', () => {
  let store: Store;
  let follower: ChangeFollower | undefined;
  const metrics = createProcessMetrics('roll-carry-test');

  beforeEach(async () => {
    ({ store } = await tinyLibrary(MEMBERS.length, 5));
  });
  afterEach(async () => {
    await follower?.stop();
    await store.close();
  });

  it('after checkouts, returns and a clock move, every memo answers what a fresh computation answers', async () => {
    const freshness: Freshness = { asOf: FROM, memos: new Set(), inputs: 0 };
    const memos = openMemos({ store, asOf: FROM, metrics, memos: freshness.memos }, SOURCES);
    for (const memo of Object.values(memos)) await memo.warm(MEMBERS);
    follower = await followChanges({ store, freshness, config: { clock: 'stored', follow: { intervalMs: 20, rankingRefreshMs: 0 } }, logger: createLogger('test', 'silent'), metrics, models: ['churn'] });
    await liveBetween(store);
    const deadline = Date.now() + 5000;
    while (freshness.asOf !== TO && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(freshness.asOf).toBe(TO);
    for (const [name, memo] of Object.entries(memos)) {
      const fresh = await memoCompute(SOURCES[name]!)(store, MEMBERS, TO);
      expect({ name, values: await memo.load(MEMBERS) }).toEqual({ name, values: MEMBERS.map((id) => fresh.get(id)) });
    }
  });
});
