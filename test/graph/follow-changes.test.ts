/**
 * Memos follow the write path: a checkout applied through `applyEvent` reaches the member's
 * memoised open loans; when the clock moves, every held member is recomputed at the new date
 * while the old values keep answering, and one answer never mixes two dates.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { applyEvent, parseEvent } from '../../src/circulation';
import { memberActivityById } from '../../src/features/member-activity';
import { memberOpenLoanFeatures } from '../../src/features/overdue';
import { createLogger } from '../../src/logging';
import { createProcessMetrics } from '../../src/metrics';
import { AsOfMemo } from '../../src/model-runtime/as-of-memo';
import { followChanges, type ChangeFollower, type Freshness } from '../../src/model-runtime/follow';
import { openMemos } from '../../src/model-runtime/model-subgraph';
import type { Store } from '../../src/store';
import { tinyLibrary } from '../fixtures/tiny-library';

/** Polls `check` until it holds, failing after `timeoutMs`: asserts that a change becomes visible, not how fast. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not visible within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('following the change records', () => {
  let store: Store;
  let follower: ChangeFollower;
  const metrics = createProcessMetrics('follow-test');
  const freshness: Freshness = { asOf: '2025-06-30', memos: new Set(), inputs: 0 };

  beforeEach(async () => {
    ({ store } = await tinyLibrary(10, 5));
    freshness.asOf = '2025-06-30';
    freshness.memos.clear();
    freshness.inputs = 0;
  });
  afterEach(async () => {
    await follower?.stop();
    await store.close();
  });

  const start = async (): Promise<ChangeFollower> => {
    follower = await followChanges({ store, freshness, config: { clock: 'stored', follow: { intervalMs: 50, rankingRefreshMs: 0 } }, logger: createLogger('test', 'silent'), metrics, models: ['overdue'] });
    return follower;
  };

  it('a checkout reaches the member’s memoised open loans; other members keep their values', async () => {
    const memos = openMemos({ store, asOf: freshness.asOf, metrics, memos: freshness.memos }, { openLoans: memberOpenLoanFeatures });
    await memos.openLoans.warm([1, 2]);
    const [before, other] = await memos.openLoans.load([1, 2]);
    await start();
    const applied = await applyEvent(store, parseEvent({ id: 'co-1', type: 'checkOut', at: '2025-06-30T12:00:00Z', memberId: '1', bookId: '3', branchId: '1' }));
    await eventually(async () => {
      const [now] = await memos.openLoans.load([1]);
      return now?.loans.some((loan) => loan.id === applied.loanId) ?? false;
    });
    const [after, otherAfter] = await memos.openLoans.load([1, 2]);
    expect(after?.loans).toHaveLength((before?.loans.length ?? 0) + 1);
    expect(otherAfter).toBe(other);
    expect(freshness.inputs).toBeGreaterThan(0);
    expect((await metrics.registry.getSingleMetric('features_refresh_lag_seconds')?.get())?.values[0]?.labels).toMatchObject({ model: 'overdue' });
  });

  it('when the clock moves, the time-dependent features roll forward and the as-of date moves with them', async () => {
    const memos = openMemos({ store, asOf: freshness.asOf, metrics, memos: freshness.memos }, { memberActivity: memberActivityById });
    await memos.memberActivity.warm([1, 2, 3]);
    const [before] = await memos.memberActivity.load([1]);
    await start();
    await applyEvent(store, parseEvent({ id: 'tick-1', type: 'advanceClock', to: '2025-07-05T00:00:00Z' }));
    await eventually(async () => freshness.asOf === '2025-07-05');
    expect(memos.memberActivity.asOf).toBe('2025-07-05');
    const [after] = await memos.memberActivity.load([1]);
    expect(after).not.toEqual(before);
    expect(after).toEqual((await memberActivityById(store, [1], '2025-07-05')).get(1));
  });
});

describe('AsOfMemo while it refreshes', () => {
  it('answers wholly from the old date until the new one is committed, then wholly from the new one', async () => {
    let gate: () => void = () => undefined;
    const gated = new Set<string>();
    const memo = new AsOfMemo<string>(async (ids, asOf) => {
      if (gated.has(asOf)) await new Promise<void>((resolve) => (gate = resolve));
      return new Map(ids.map((id) => [id, `${asOf}:${id}`]));
    }, 'd1');
    const ids = [1, 2, 3, 4, 5];
    await memo.warm(ids);
    gated.add('d2');
    const preparing = memo.prepare('d2');
    await new Promise((resolve) => setImmediate(resolve));
    expect(await memo.load(ids)).toEqual(ids.map((id) => `d1:${id}`));
    gated.delete('d2');
    gate();
    const commit = await preparing;
    expect(await memo.load(ids)).toEqual(ids.map((id) => `d1:${id}`));
    commit();
    expect(memo.asOf).toBe('d2');
    expect(await memo.load(ids)).toEqual(ids.map((id) => `d2:${id}`));
  });

  it('does not keep a value computed before its entity changed', async () => {
    let version = 1;
    let release: () => void = () => undefined;
    const memo = new AsOfMemo<string>(async (ids) => {
      const seen = version;
      if (seen === 1) await new Promise<void>((resolve) => (release = resolve));
      return new Map(ids.map((id) => [id, `v${seen}`]));
    }, 'd1');
    const first = memo.load([7]);
    await new Promise((resolve) => setImmediate(resolve));
    version = 2;
    memo.invalidate([7]);
    release();
    expect(await first).toEqual(['v1']);
    expect(await memo.load([7])).toEqual(['v2']);
  });
});
