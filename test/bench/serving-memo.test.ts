/**
 * The benchmark's optimisations keep answers identical: predictions served from the per-member
 * feature memos, warm and for batches mixing cached and new members, equal those of a cold
 * subgraph that computes every member from the store, for the same keys, for every model
 * subgraph that serves members. The memo values themselves equal the store path's feature rows.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config';
import { OVERDUE_FEATURE_NAMES, overdueServingFeatures } from '../../src/features/overdue';
import { RiskLevel } from '../../src/graphql/prediction-types';
import { AsOfMemo } from '../../src/model-runtime/as-of-memo';
import { closeModelDeps, openModelDeps, recentlyActiveMembers, type ModelSubgraphDeps } from '../../src/model-runtime/model-subgraph';
import { scoreRisks } from '../../src/model-runtime/risk';
import { CHURN_SLOT } from '../../src/models/churn';
import { OVERDUE_SLOT } from '../../src/models/overdue';
import { SEGMENTATION_SLOT } from '../../src/models/segmentation';
import { createChurnServices, predictChurn } from '../../subgraphs/churn';
import { createOverdueServices, predictOverdue, type OverdueKey } from '../../subgraphs/overdue';
import { createRecommendationsServices, recommendForMembers, RECOMMENDATIONS_SUBGRAPH_SLOT } from '../../subgraphs/recommendations';
import { createSegmentationServices, predictSegments } from '../../subgraphs/segmentation';
import { smallLibrary } from '../fixtures/small-library';

let deps: ModelSubgraphDeps;
let memberCount: number;
let loanIds: number[];

/** Services whose memos start empty: every member of a call is computed from the store, as a cold subgraph does. */
const cold = {
  churn: () => createChurnServices(deps),
  overdue: () => createOverdueServices(deps),
  segmentation: () => createSegmentationServices(deps),
  recommendations: () => createRecommendationsServices(deps),
};

beforeAll(async () => {
  const library = await smallLibrary();
  const config = loadConfig({ ...process.env, ...library.env, SHELFMARK_ROOT: `${__dirname}/../..`, LOG_LEVEL: 'error' });
  deps = await openModelDeps(config, 'memo-test', [OVERDUE_SLOT, CHURN_SLOT, SEGMENTATION_SLOT, RECOMMENDATIONS_SUBGRAPH_SLOT]);
  memberCount = Number((await deps.store.db.selectFrom('members').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const loans = await deps.store.db.selectFrom('loans').select('id').where('returned_at', 'is', null).limit(40).execute();
  loanIds = loans.map((l) => l.id);
}, 300_000);

afterAll(async () => {
  await closeModelDeps(deps);
});

/** Keys as a federated request sends them: known, unknown, malformed and repeated ids. */
function memberKeys(from: number, n: number): string[] {
  const ids = Array.from({ length: n }, (_, k) => String(from + k));
  return [...ids, '0', String(memberCount + 1000), 'x', ids[0]!];
}

describe('churn with the member-activity memo', () => {
  it('answers exactly what a cold subgraph answers, cold and warm', async () => {
    const withMemo = cold.churn();
    const keys = memberKeys(1, 60);
    const expected = await predictChurn(cold.churn(), keys);
    expect(expected.filter((r) => r !== null).length).toBeGreaterThan(50);
    expect(await predictChurn(withMemo, keys)).toEqual(expected);
    expect(await predictChurn(withMemo, keys)).toEqual(expected);
    const mixed = memberKeys(31, 80);
    expect(await predictChurn(withMemo, mixed)).toEqual(await predictChurn(cold.churn(), mixed));
  });

  it('answers the same to concurrent requests for the same members', async () => {
    const withMemo = cold.churn();
    const keys = memberKeys(200, 30);
    const [a, b] = await Promise.all([predictChurn(withMemo, keys), predictChurn(withMemo, keys.slice().reverse())]);
    const expected = await predictChurn(cold.churn(), keys);
    expect(a).toEqual(expected);
    expect(b).toEqual(expected.slice().reverse());
  });
});

describe('overdue with the open-loan memo', () => {
  it('holds for each member the rows the store path computes for the same members', async () => {
    const memberIds = Array.from({ length: 120 }, (_, k) => k + 1);
    const fromStore = await overdueServingFeatures(deps.store, { memberIds }, deps.asOf);
    const memo = await cold.overdue().memos.openLoans.load(memberIds);
    const d = OVERDUE_FEATURE_NAMES.length;
    const rowsOf = (member: number) =>
      fromStore.loans.flatMap((loan, i) => (loan.member_id === member ? [{ loan: loan.id, row: Array.from(fromStore.features.values.subarray(i * d, (i + 1) * d)) }] : []));
    expect(fromStore.loans.length).toBeGreaterThan(10);
    memberIds.forEach((member, k) => {
      const open = memo[k];
      const held = open ? open.loans.map((loan, i) => ({ loan: loan.id, row: Array.from(open.values.subarray(i * d, (i + 1) * d)) })) : [];
      expect({ member, rows: held }).toEqual({ member, rows: rowsOf(member) });
    });
  });

  it('answers exactly what a cold subgraph answers for members and loans together, cold and warm', async () => {
    const withMemo = cold.overdue();
    const keys: OverdueKey[] = [
      ...memberKeys(1, 80).map((id) => `M:${id}` as const),
      ...loanIds.map((id) => `L:${id}` as const),
      'L:999999999',
      'L:nope',
    ];
    const expected = await predictOverdue(cold.overdue(), keys);
    expect(expected.filter((r) => r !== null && r.probability > 0).length).toBeGreaterThan(10);
    expect(await predictOverdue(withMemo, keys)).toEqual(expected);
    expect(await predictOverdue(withMemo, keys)).toEqual(expected);
    const mixed: OverdueKey[] = memberKeys(50, 100).map((id) => `M:${id}` as const);
    expect(await predictOverdue(withMemo, mixed)).toEqual(await predictOverdue(cold.overdue(), mixed));
  });

  it('answers a whole page the same, every member of the library, after warming the memo', async () => {
    const fresh = cold.overdue();
    await fresh.warm?.();
    // Warming fills the cache with the members who borrowed most recently (every borrower, in a library this small).
    const borrowers = await recentlyActiveMembers(deps.store, fresh.memos.openLoans.capacity);
    expect(borrowers.length).toBeGreaterThan(memberCount / 2);
    expect(fresh.memos.openLoans.size).toBe(borrowers.length);
    const keys: OverdueKey[] = Array.from({ length: memberCount }, (_, k) => `M:${k + 1}` as const);
    expect(await predictOverdue(fresh, keys)).toEqual(await predictOverdue(cold.overdue(), keys));
  });
});

describe('segmentation with the member-activity memo', () => {
  it('answers exactly what a cold subgraph answers, cold and warm', async () => {
    const withMemo = cold.segmentation();
    const keys = memberKeys(100, 70);
    const expected = await predictSegments(cold.segmentation(), keys);
    expect(expected.filter((s) => s !== null).length).toBeGreaterThan(60);
    expect(await predictSegments(withMemo, keys)).toEqual(expected);
    expect(await predictSegments(withMemo, keys)).toEqual(expected);
  });

  it('counts in its overview every member in the segment Member.segment gives them', async () => {
    const summaries = await cold.segmentation().overview.summaries();
    expect(summaries.reduce((n, s) => n + s.size, 0)).toBe(memberCount);
    const segments = await predictSegments(cold.segmentation(), Array.from({ length: memberCount }, (_, k) => String(k + 1)));
    const sizes = new Map<string, number>();
    for (const s of segments) if (s) sizes.set(s.name, (sizes.get(s.name) ?? 0) + 1);
    expect(summaries.map((s) => [s.name, s.size])).toEqual(summaries.map((s) => [s.name, sizes.get(s.name) ?? 0]));
  });
});

describe('recommendations with the borrowing-history memo', () => {
  it('answers exactly what a cold subgraph answers, cold and warm', async () => {
    const withMemo = cold.recommendations();
    const keys = memberKeys(150, 40);
    const expected = await recommendForMembers(cold.recommendations(), keys, 5);
    expect(expected.filter((r) => r !== null && r.length === 5).length).toBeGreaterThan(30);
    expect(await recommendForMembers(withMemo, keys, 5)).toEqual(expected);
    expect(await recommendForMembers(withMemo, keys, 5)).toEqual(expected);
    const mixed = memberKeys(170, 40);
    expect(await recommendForMembers(withMemo, mixed, 10)).toEqual(await recommendForMembers(cold.recommendations(), mixed, 10));
  });
});

describe('AsOfMemo', () => {
  it('computes each id once, concurrently or not, and keeps only ids the feature function answers', async () => {
    const calls: number[][] = [];
    const memo = new AsOfMemo<string>(async (ids) => {
      calls.push(ids);
      await new Promise((resolve) => setImmediate(resolve));
      return new Map(ids.filter((id) => id <= 10).map((id) => [id, `member ${id}`]));
    }, '2025-01-01');
    const [a, b] = await Promise.all([memo.load([1, 2, 11, 2]), memo.load([2, 3, 11])]);
    expect(a).toEqual(['member 1', 'member 2', undefined, 'member 2']);
    expect(b).toEqual(['member 2', 'member 3', undefined]);
    expect(calls).toEqual([[1, 2, 11], [3]]);
    expect(await memo.load([1, 3, 12])).toEqual(['member 1', 'member 3', undefined]);
    expect(calls).toEqual([[1, 2, 11], [3], [12]]);
    expect(memo.size).toBe(3);
  });

  it('passes a failed computation to every waiting request and tries again next time', async () => {
    let fail = true;
    const memo = new AsOfMemo<number>(async (ids) => {
      if (fail) throw new Error('store unavailable');
      return new Map(ids.map((id) => [id, id * 2]));
    }, '2025-01-01');
    await expect(Promise.all([memo.load([1]), memo.load([1, 2])])).rejects.toThrow('store unavailable');
    fail = false;
    expect(await memo.load([1, 2])).toEqual([2, 4]);
  });
});

/** A watchlist's first ranking: asked for until the background run has finished one. */
async function firstRanking<T>(top: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await top();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

describe('the watchlists read from the memos', () => {
  it('churn ranks first the members a ranking of every member from the store ranks first', async () => {
    const services = cold.churn();
    services.watchlist.warm();
    const ranked = await firstRanking(() => services.watchlist.top(15, 0));
    services.watchlist.stop();
    const ids = Array.from({ length: memberCount }, (_, k) => String(k + 1));
    const fromStore = (await predictChurn(cold.churn(), ids)).filter((r) => r !== null && r.level !== RiskLevel.LAPSED);
    const expected = fromStore.map((r) => r!.probability).sort((a, b) => b - a).slice(0, 15);
    expect(ranked).toHaveLength(15);
    expect(ranked.map((e) => e.risk.probability)).toEqual(expected);
  }, 180_000);

  it('overdue ranks first the loans a ranking of every open loan from the store ranks first', async () => {
    const services = cold.overdue();
    services.watchlist.warm();
    const ranked = await firstRanking(() => services.watchlist.top(15, 0));
    services.watchlist.stop();
    const open = await deps.store.db.selectFrom('loans').select('member_id').distinct().where('returned_at', 'is', null).where('due_at', '>=', deps.asOf).execute();
    const batch = await overdueServingFeatures(deps.store, { memberIds: open.map((r) => r.member_id) }, deps.asOf);
    const { risks } = await scoreRisks(services.slot, { values: batch.features.values, n: batch.loans.length, names: OVERDUE_FEATURE_NAMES }, { explain: false });
    const expected = risks.flatMap((r) => (r ? [r.probability] : [])).sort((a, b) => b - a).slice(0, 15);
    expect(ranked).toHaveLength(15);
    expect(ranked.map((e) => e.risk.probability)).toEqual(expected);
  }, 180_000);
});
