import { describe, expect, it } from '@jest/globals';
import { Random } from '../../../util/random';
import { maximiseAssignment } from '../hungarian';
import { fitKMeans } from '../kmeans';
import type { Matrix } from '../matrix';
import { chooseK, silhouetteOnSample } from '../silhouette';
import { standardiseMatrix, fitStandardiser } from '../standardise';
import { MEMBER_FEATURES, plantedMembers } from './plantedMembers';

function blobs(centres: number[][], perBlob: number, sd: number, seed: number): Matrix {
  const rng = new Random(seed);
  const d = centres[0]!.length;
  const data: number[] = [];
  for (let i = 0; i < perBlob; i++) for (const c of centres) for (let j = 0; j < d; j++) data.push(rng.normal(c[j], sd));
  return { rows: perBlob * centres.length, cols: d, data: Float64Array.from(data) };
}

describe('fitKMeans', () => {
  const centres = [[0, 0], [10, 0], [0, 10], [10, 10]];
  const data = blobs(centres, 50, 1, 3);

  it('gives the same fit for the same seed', () => {
    const a = fitKMeans(data, { k: 4, seed: 11 });
    const b = fitKMeans(data, { k: 4, seed: 11 });
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(a.inertia).toBe(b.inertia);
  });

  it('recovers well-separated blobs and keeps the lowest-inertia restart', () => {
    const fit = fitKMeans(data, { k: 4, seed: 5, nInit: 6 });
    expect(fit.converged).toBe(true);
    expect(fit.restartInertias).toHaveLength(6);
    expect(fit.inertia).toBe(Math.min(...fit.restartInertias));
    // Rows were generated blob by blob in turn: row i belongs to blob i % 4.
    for (let b = 0; b < 4; b++) {
      const ids = new Set<number>();
      for (let i = b; i < data.rows; i += 4) ids.add(fit.labels[i]!);
      expect(ids.size).toBe(1);
    }
    // Each centroid within a few tenths of a planted centre.
    for (let c = 0; c < 4; c++) {
      const x = fit.centroids[c * 2]!;
      const y = fit.centroids[c * 2 + 1]!;
      expect(Math.min(...centres.map(([cx, cy]) => Math.hypot(x - cx!, y - cy!)))).toBeLessThan(0.5);
    }
  });

  it('refuses a k the data cannot support', () => {
    const same: Matrix = { rows: 4, cols: 1, data: Float64Array.from([1, 1, 2, 2]) };
    expect(() => fitKMeans(same, { k: 3, seed: 1 })).toThrow('k-means: k=3 needs at least 3 distinct rows, got 2 (of 4 rows)');
    expect(() => fitKMeans(same, { k: 0, seed: 1 })).toThrow('k-means: k must be a positive integer, got 0');
  });
});

describe('silhouette', () => {
  it('is near 1 for tight separated blobs and picks the planted k', () => {
    const data = blobs([[0, 0], [20, 0], [0, 20]], 40, 0.5, 9);
    const fit = fitKMeans(data, { k: 3, seed: 1 });
    expect(silhouetteOnSample(data, fit.labels, { seed: 1 })).toBeGreaterThan(0.9);
    expect(chooseK(data, { kMin: 2, kMax: 5, seed: 1, nInit: 3 }).k).toBe(3);
  });

  it('picks the five planted member groups', () => {
    const { rows } = plantedMembers(150, 4);
    const data = standardiseMatrix(fitStandardiser(MEMBER_FEATURES, rows), rows);
    const choice = chooseK(data, { kMin: 3, kMax: 7, seed: 2, nInit: 4, sampleSize: 500 });
    expect(choice.k).toBe(5);
    expect(choice.candidates.map((c) => c.k)).toEqual([3, 4, 5, 6, 7]);
  });
});

describe('maximiseAssignment', () => {
  it('finds the best total, not the greedy one', () => {
    // Greedy takes row 0 -> column 0 (score 10) and leaves row 1 with 1: total 11.
    // The optimum is row 0 -> column 1 (9), row 1 -> column 0 (8): total 17.
    expect(maximiseAssignment([[10, 9, 0], [8, 1, 0]])).toEqual([1, 0]);
  });

  it('uses every column at most once when there are more columns than rows', () => {
    const result = maximiseAssignment([[1, 5, 5, 2], [1, 5, 5, 2], [0, 4, 4, 3]]);
    expect(new Set(result).size).toBe(3);
    expect(result[2]).toBe(3);
  });
});
