import { describe, expect, it } from '@jest/globals';
import { adjustedRandIndex } from '../ari';

describe('adjustedRandIndex', () => {
  it('matches a hand-computed contingency table', () => {
    // a: {0,1,2} {3,4,5}; b: {0,1} {2,3} {4,5}. Pairs together in both: (0,1), (4,5) = 2.
    // Pairs within a: 3 + 3 = 6; within b: 1 + 1 + 1 = 3; all pairs: C(6,2) = 15.
    // expected = 6 * 3 / 15 = 1.2; max = (6 + 3) / 2 = 4.5; ARI = (2 - 1.2) / (4.5 - 1.2) = 8/33.
    expect(adjustedRandIndex([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])).toBeCloseTo(8 / 33, 12);
    // scikit-learn's documented example: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 4/7.
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2])).toBeCloseTo(4 / 7, 12);
  });

  it('is 1 for the same partition under other labels, and symmetric', () => {
    const a = [0, 0, 1, 1, 2, 2, 2];
    expect(adjustedRandIndex(a, ['x', 'x', 'y', 'y', 'z', 'z', 'z'])).toBe(1);
    expect(adjustedRandIndex(['b', 'b', 'a', 'a'], ['a', 'a', 'b', 'b'])).toBe(1);
    const b = [1, 0, 1, 1, 2, 0, 2];
    expect(adjustedRandIndex(a, b)).toBeCloseTo(adjustedRandIndex(b, a), 15);
  });

  it('can go below zero when the labellings disagree more than chance', () => {
    // Every pair together in one is apart in the other.
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1])).toBeCloseTo(-0.5, 12);
  });

  it('treats two trivial partitions as identical', () => {
    expect(adjustedRandIndex([1, 1, 1], [7, 7, 7])).toBe(1);
    expect(adjustedRandIndex([0, 1, 2], [5, 4, 3])).toBe(1);
    expect(adjustedRandIndex([], [])).toBe(1);
  });

  it('refuses labellings of different lengths', () => {
    expect(() => adjustedRandIndex([0, 1, 1], [0, 1])).toThrow('adjustedRandIndex: labellings differ in length (3 and 2)');
  });
});
