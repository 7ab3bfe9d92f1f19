/**
 * The benchmark's optimisations keep answers identical: predictions served with the per-member
 * feature memos (cold, then warm, then for batches mixing cached and new members) equal those of
 * the plain path that reads every row from the store, for the same keys, for every model
 * subgraph that serves members.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config';
import { AsOfMemo } from '../../src/model-runtime/as-of-memo';
import { closeModelDeps, createServingMemos, openModelDeps, type ModelSubgraphDeps } from '../../src/model-runtime/model-subgraph';
import { predictChurn } from '../../subgraphs/churn';
import { predictOverdue, type OverdueKey } from '../../subgraphs/overdue';
import { createCatalogue, recommendForMembers, validateRecommendationsVersion } from '../../subgraphs/recommendations';
import { createSegmentOverview, predictSegments, validateSegmentationVersion } from '../../subgraphs/segmentation';
import { smallLibrary } from '../fixtures/small-library';

let withMemo: ModelSubgraphDeps;
let plain: ModelSubgraphDeps;
let memberCount: number;
let loanIds: number[];

beforeAll(async () => {
  const library = await smallLibrary();
  const config = loadConfig({ ...process.env, ...library.env, SHELFMARK_ROOT: `${__dirname}/../..`, LOG_LEVEL: 'error' });
  withMemo = await openModelDeps(config, 'memo-test', [
    { model: 'overdue' },
    { model: 'churn' },
    { model: 'segmentation', validate: validateSegmentationVersion },
    { model: 'recommendations', extraGraphs: ['similar'], artefacts: ['index'], validate: validateRecommendationsVersion },
  ]);
  plain = { ...withMemo, memos: undefined };
  memberCount = Number((await withMemo.store.db.selectFrom('members').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  const loans = await withMemo.store.db.selectFrom('loans').select('id').where('returned_at', 'is', null).limit(40).execute();
  loanIds = loans.map((l) => l.id);
}, 300_000);

afterAll(async () => {
  await closeModelDeps(withMemo);
});

/** Keys as a federated request sends them: known, unknown, malformed and repeated ids. */
function memberKeys(from: number, n: number): string[] {
  const ids = Array.from({ length: n }, (_, k) => String(from + k));
  return [...ids, '0', String(memberCount + 1000), 'x', ids[0]!];
}

describe('churn with the member-activity memo', () => {
  it('answers exactly what the plain path answers, cold and warm', async () => {
    const keys = memberKeys(1, 60);
    const expected = await predictChurn(plain, keys);
    expect(expected.filter((r) => r !== null).length).toBeGreaterThan(50);
    expect(await predictChurn(withMemo, keys)).toEqual(expected);
    expect(await predictChurn(withMemo, keys)).toEqual(expected);
    const mixed = memberKeys(31, 80);
    expect(await predictChurn(withMemo, mixed)).toEqual(await predictChurn(plain, mixed));
  });

  it('answers the same to concurrent requests for the same members', async () => {
    const keys = memberKeys(200, 30);
    const [a, b] = await Promise.all([predictChurn(withMemo, keys), predictChurn(withMemo, keys.slice().reverse())]);
    const expected = await predictChurn(plain, keys);
    expect(a).toEqual(expected);
    expect(b).toEqual(expected.slice().reverse());
  });
});

describe('overdue with the open-loan memo', () => {
  it('answers exactly what the plain path answers for members and loans together, cold and warm', async () => {
    const keys: OverdueKey[] = [
      ...memberKeys(1, 80).map((id) => `M:${id}` as const),
      ...loanIds.map((id) => `L:${id}` as const),
      'L:999999999',
      'L:nope',
    ];
    const expected = await predictOverdue(plain, keys);
    expect(expected.filter((r) => r !== null && r.probability > 0).length).toBeGreaterThan(10);
    expect(await predictOverdue(withMemo, keys)).toEqual(expected);
    expect(await predictOverdue(withMemo, keys)).toEqual(expected);
    const mixed: OverdueKey[] = memberKeys(50, 100).map((id) => `M:${id}` as const);
    expect(await predictOverdue(withMemo, mixed)).toEqual(await predictOverdue(plain, mixed));
  });

  it('answers a whole page the same, every member of the library', async () => {
    const fresh = { ...withMemo, memos: createServingMemos(withMemo.store, withMemo.asOf) };
    const keys: OverdueKey[] = Array.from({ length: memberCount }, (_, k) => `M:${k + 1}` as const);
    expect(await predictOverdue(fresh, keys)).toEqual(await predictOverdue(plain, keys));
    expect(fresh.memos!.openLoans.size).toBe(memberCount);
  });
});

describe('segmentation with the member-activity memo', () => {
  it('answers exactly what the plain path answers, cold and warm', async () => {
    const keys = memberKeys(100, 70);
    const expected = await predictSegments(plain, keys);
    expect(expected.filter((s) => s !== null).length).toBeGreaterThan(60);
    expect(await predictSegments(withMemo, keys)).toEqual(expected);
    expect(await predictSegments(withMemo, keys)).toEqual(expected);
  });

  it('gives the same overview of every segment from the memo as from the store', async () => {
    const expected = await createSegmentOverview(plain).summaries();
    expect(expected.reduce((n, s) => n + s.size, 0)).toBe(memberCount);
    expect(await createSegmentOverview(withMemo).summaries()).toEqual(expected);
  });
});

describe('recommendations with the borrowing-history memo', () => {
  it('answers exactly what the plain path answers, cold and warm', async () => {
    const catalogue = createCatalogue(withMemo.store);
    const keys = memberKeys(150, 40);
    const expected = await recommendForMembers(plain, catalogue, keys, 5);
    expect(expected.filter((r) => r !== null && r.length === 5).length).toBeGreaterThan(30);
    expect(await recommendForMembers(withMemo, catalogue, keys, 5)).toEqual(expected);
    expect(await recommendForMembers(withMemo, catalogue, keys, 5)).toEqual(expected);
    const mixed = memberKeys(170, 40);
    expect(await recommendForMembers(withMemo, catalogue, mixed, 10)).toEqual(await recommendForMembers(plain, catalogue, mixed, 10));
  });
});

describe('AsOfMemo', () => {
  it('computes each id once, concurrently or not, and keeps only ids the feature function answers', async () => {
    const calls: number[][] = [];
    const memo = new AsOfMemo<string>(async (ids) => {
      calls.push(ids);
      await new Promise((resolve) => setImmediate(resolve));
      return new Map(ids.filter((id) => id <= 10).map((id) => [id, `member ${id}`]));
    });
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
    });
    await expect(Promise.all([memo.load([1]), memo.load([1, 2])])).rejects.toThrow('store unavailable');
    fail = false;
    expect(await memo.load([1, 2])).toEqual([2, 4]);
  });
});
