import { describe, expect, it } from '@jest/globals';
import { hitRateAtK, meanRankingMetrics, ndcgAtK, precisionAtK, recallAtK } from '../ranking-metrics';

describe('ranking metrics', () => {
  const relevant = new Set(['b', 'd', 'z']);
  const ranked = ['a', 'b', 'c', 'd'];

  it('computes NDCG@k against an ideal list of min(|relevant|, k) hits', () => {
    const dcg = 1 / Math.log2(3) + 1 / Math.log2(5);
    const ideal = 1 + 1 / Math.log2(3) + 1 / Math.log2(4);
    expect(ndcgAtK(ranked, relevant, 4)).toBeCloseTo(dcg / ideal, 12);
    expect(ndcgAtK(['b', 'd', 'z'], relevant, 3)).toBeCloseTo(1, 12);
    expect(ndcgAtK(['b'], new Set(['b']), 10)).toBeCloseTo(1, 12);
  });

  it('divides precision by k even when the list is shorter, and recall by |relevant|', () => {
    expect(precisionAtK(ranked, relevant, 4)).toBe(0.5);
    expect(precisionAtK(['b'], relevant, 10)).toBe(0.1);
    expect(recallAtK(ranked, relevant, 4)).toBeCloseTo(2 / 3, 12);
    expect(recallAtK(ranked, relevant, 1)).toBe(0);
  });

  it('counts a hit only inside the first k', () => {
    expect(hitRateAtK(ranked, relevant, 1)).toBe(0);
    expect(hitRateAtK(ranked, relevant, 2)).toBe(1);
  });

  it('counts a duplicated item once, so duplicates cannot inflate a score', () => {
    expect(precisionAtK(['b', 'b', 'b'], relevant, 3)).toBeCloseTo(1 / 3, 12);
    expect(recallAtK(['b', 'b'], relevant, 2)).toBeCloseTo(1 / 3, 12);
  });

  it('scores 0 for an empty relevant set and leaves such members out of the mean', () => {
    expect(ndcgAtK(ranked, new Set(), 4)).toBe(0);
    const mean = meanRankingMetrics(
      [
        { ranked: ['b'], relevant: new Set(['b']) },
        { ranked: ['a'], relevant: new Set<string>() },
      ],
      1,
    );
    expect(mean).toEqual({ ndcg: 1, precision: 1, recall: 1, hitRate: 1, members: 1 });
  });

  it('refuses a k that is not a positive integer', () => {
    expect(() => ndcgAtK(ranked, relevant, 0)).toThrow('k must be a positive integer, got 0');
    expect(() => precisionAtK(ranked, relevant, 1.5)).toThrow(RangeError);
  });
});
