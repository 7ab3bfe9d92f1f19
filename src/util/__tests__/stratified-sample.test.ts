import { describe, expect, it } from '@jest/globals';
import { stratifiedPicker } from '../stratified-sample';

function picked(population: number, maxRows: number, seed: number): number[] {
  const keep = stratifiedPicker(population, maxRows, seed);
  const positions: number[] = [];
  for (let i = 0; i < population; i++) if (keep()) positions.push(i);
  return positions;
}

describe('stratifiedPicker', () => {
  it('keeps every element when the population fits the cap', () => {
    expect(picked(5, 5, 1)).toEqual([0, 1, 2, 3, 4]);
    expect(picked(3, 10, 1)).toEqual([0, 1, 2]);
  });

  it('keeps exactly one element of each equal block, so every stretch holds its share', () => {
    const positions = picked(1_003, 10, 7);
    expect(positions).toHaveLength(10);
    positions.forEach((p, b) => {
      expect(p).toBeGreaterThanOrEqual(Math.floor((b * 1_003) / 10));
      expect(p).toBeLessThan(Math.floor(((b + 1) * 1_003) / 10));
    });
  });

  it('is the same sample for the same seed and another one for another seed', () => {
    expect(picked(10_000, 100, 3)).toEqual(picked(10_000, 100, 3));
    expect(picked(10_000, 100, 3)).not.toEqual(picked(10_000, 100, 4));
  });

  it('gives every position the same chance', () => {
    const population = 40;
    const counts = new Array<number>(population).fill(0);
    const runs = 4_000;
    for (let seed = 1; seed <= runs; seed++) for (const p of picked(population, 8, seed)) counts[p]!++;
    // Each position is kept with chance 8/40 = 0.2: 800 of 4,000 runs, sd 25.
    for (const count of counts) expect(Math.abs(count - 800)).toBeLessThan(125);
  });

  it('keeps nothing past the population it was told, and refuses a cap below one', () => {
    const keep = stratifiedPicker(4, 2, 1);
    const kept = Array.from({ length: 8 }, () => keep()).filter(Boolean);
    expect(kept).toHaveLength(2);
    expect(() => stratifiedPicker(4, 0, 1)).toThrow('a sample\'s size must be a positive integer, got 0');
  });
});
