import { describe, expect, it } from '@jest/globals';
import { buildUserRows } from '../../ml/recommender/sparse-rows';
import type { Interaction } from '../../ml/recommender';
import { Random } from '../../util/random';
import {
  chooseEaseLambda,
  chooseItemKnnShrinkage,
  easeScores,
  evaluateRecommenderBaselines,
  fitEase,
  fitItemKnn,
  invertSymmetricPositiveDefinite,
  itemKnnScores,
  listMetrics,
  type InteractionSplit,
} from '../recommender-baselines';

/**
 * Two tastes: members of taste g take items of block g (items 20g..20g+19), the lower-numbered
 * ones more often; item 40 is taken by everyone (the popular one). One item of the block per
 * member is held out.
 */
function twoTastes(members: number, seed: number): InteractionSplit {
  const random = new Random(seed);
  const interactions: Interaction[] = [];
  const heldOut: Set<number>[] = [];
  for (let u = 0; u < members; u++) {
    const block = (u % 2) * 20;
    const items = new Set<number>();
    while (items.size < 7) items.add(block + Math.min(19, Math.floor(Math.abs(random.normal(0, 8)))));
    const [hidden, ...kept] = [...items];
    heldOut.push(new Set([hidden!]));
    for (const itemIndex of [...kept, 40]) interactions.push({ userIndex: u, itemIndex, weight: 1 });
  }
  const training = buildUserRows({ userCount: members, itemCount: 41, interactions });
  const seen = Array.from({ length: members }, (_, u) => Array.from(training.column.subarray(training.rowStart[u], training.rowStart[u + 1])));
  return { training, seen, heldOut };
}

/** Training rows from (member, item) pairs, each taken once. */
function tookRows(userCount: number, itemCount: number, pairs: [number, number][]) {
  return buildUserRows({ userCount, itemCount, interactions: pairs.map(([userIndex, itemIndex]) => ({ userIndex, itemIndex, weight: 1 })) });
}

describe('invertSymmetricPositiveDefinite', () => {
  it('inverts, leaving its input alone', () => {
    const a = Float64Array.from([4, 2, 0.6, 2, 2, 0.5, 0.6, 0.5, 3]);
    const copy = Float64Array.from(a);
    const inverse = invertSymmetricPositiveDefinite(a, 3);
    expect(a).toEqual(copy);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let sum = 0;
        for (let p = 0; p < 3; p++) sum += a[i * 3 + p]! * inverse[p * 3 + j]!;
        expect(sum).toBeCloseTo(i === j ? 1 : 0, 12);
      }
    }
    expect(() => invertSymmetricPositiveDefinite(Float64Array.from([1, 2, 2, 1]), 2)).toThrow('not positive definite at pivot 1');
  });
});

describe('item-kNN', () => {
  it('scores items of the member\'s own taste, by cosine similarity', () => {
    const { training } = twoTastes(200, 1);
    const knn = fitItemKnn(training, { neighbours: 10 });
    const scores = itemKnnScores(knn, [0, 1, 2], 41);
    const ownBlock = Math.max(...Array.from(scores.subarray(3, 20)));
    const otherBlock = Math.max(...Array.from(scores.subarray(20, 40)));
    expect(ownBlock).toBeGreaterThan(otherBlock);
    // Cosine of the item everyone took with one taken by a member of each taste is below 1.
    expect(knn.similarities[0]).toBeLessThanOrEqual(1);
    expect(() => fitItemKnn(training, { neighbours: 0 })).toThrow('neighbours must be a positive integer, got 0');
    expect(() => fitItemKnn(training, { shrinkage: -1 })).toThrow('shrinkage must be 0 or more, got -1');
  });

  it('shrinks the similarity of items that few members share', () => {
    // Items 0 and 1 taken together by one member: plain cosine 1, shrunk by 5 to 1/6.
    const training = tookRows(1, 2, [[0, 0], [0, 1]]);
    expect(fitItemKnn(training, { neighbours: 1 }).similarities[0]).toBe(1);
    expect(fitItemKnn(training, { neighbours: 1, shrinkage: 5 }).similarities[0]).toBeCloseTo(1 / 6, 12);
  });

  it('chooses the shrinkage on a validation split', () => {
    const choice = chooseItemKnnShrinkage(twoTastes(200, 7).training, { shrinkages: [0, 50], k: 5 });
    expect(choice.table.map((r) => r.value)).toEqual([0, 50]);
    expect([0, 50]).toContain(choice.chosen);
  });
});

describe('EASE', () => {
  it('has a zero diagonal and recommends only the covered items', () => {
    const { training } = twoTastes(200, 2);
    const ease = fitEase(training, { lambda: 10, maxItems: 15 });
    expect(ease.items).toHaveLength(15);
    expect(ease.items[0]).toBe(40);
    for (let a = 0; a < 15; a++) expect(ease.weights[a * 15 + a]).toBe(0);
    const scores = easeScores(ease, [0, 1], 41);
    const uncovered = Array.from(scores.keys()).filter((i) => ease.position[i] === -1);
    expect(uncovered).toHaveLength(26);
    for (const i of uncovered) expect(scores[i]).toBeNaN();
    expect(() => fitEase(training, { lambda: 0 })).toThrow('lambda must be positive, got 0');
  });

  it('chooses λ on a validation split of the training rows', () => {
    const { training } = twoTastes(200, 3);
    const choice = chooseEaseLambda(training, { lambdas: [1, 10, 100], k: 5 });
    expect(choice.table.map((r) => r.value)).toEqual([1, 10, 100]);
    expect(choice.table.find((r) => r.value === choice.chosen)!.ndcg).toBe(Math.max(...choice.table.map((r) => r.ndcg)));
  });
});

describe('evaluateRecommenderBaselines', () => {
  it('scores popularity, item-kNN and EASE on the same split; the taste-aware ones win', () => {
    const result = evaluateRecommenderBaselines(twoTastes(300, 4), { k: 5, neighbours: 20, lambdas: [5, 50] });
    expect(result.popularity.members).toBe(300);
    expect(result.itemKnn.ndcg).toBeGreaterThan(result.popularity.ndcg);
    expect(result.ease.ndcg).toBeGreaterThan(result.popularity.ndcg);
    expect(result.ease.items).toBe(41);
    expect([5, 50]).toContain(result.ease.lambda);
    // Popularity gives every member the same few items; the taste-aware lists spread over both blocks.
    expect(result.itemKnn.coverage).toBeGreaterThan(result.popularity.coverage);
  });

  it('refuses a split whose parts do not line up', () => {
    const split = twoTastes(10, 5);
    expect(() => evaluateRecommenderBaselines({ ...split, seen: split.seen.slice(1) })).toThrow('the split has 10 members in training, 9 in seen and 10 in heldOut');
  });
});

describe('listMetrics', () => {
  it('measures coverage of the catalogue and novelty of what is shown', () => {
    // 3 members, 4 items; item 0 taken by all three, item 1 by one, items 2 and 3 by none.
    const training = tookRows(3, 4, [[0, 0], [1, 0], [2, 0], [2, 1]]);
    const metrics = listMetrics([[1, 2], [2]], [new Set([2]), new Set([3])], 2, training);
    expect(metrics.coverage).toBe(0.5);
    expect(metrics.novelty).toBeCloseTo((-Math.log2(2 / 4) - 2 * Math.log2(1 / 4)) / 3, 12);
    expect(metrics.members).toBe(2);
    expect(metrics.hitRate).toBe(0.5);
    expect(() => listMetrics([[1]], [], 2, training)).toThrow('1 lists for 0 members');
  });
});
