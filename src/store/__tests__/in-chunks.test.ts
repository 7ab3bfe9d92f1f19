import { describe, expect, it } from '@jest/globals';
import { chunks, IDS_PER_QUERY, inChunks } from '../in-chunks';

describe('id lists a slice at a time', () => {
  it('slices in order, the last slice shorter, none for no items', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([], 2)).toEqual([]);
    expect(() => chunks([1], 0)).toThrow(/positive integer/);
  });

  it('binds fewer ids per statement than SQLite (32,766) and PostgreSQL (65,535) accept', () => {
    expect(IDS_PER_QUERY).toBeLessThan(32_766);
  });

  it('runs one query per slice, one after another, and concatenates the rows in order', async () => {
    const slices: number[][] = [];
    let running = 0;
    const rows = await inChunks([1, 2, 3, 4, 5, 6, 7], async (slice) => {
      running += 1;
      expect(running).toBe(1);
      slices.push(slice);
      await Promise.resolve();
      running -= 1;
      return slice.map((id) => id * 10);
    }, 3);
    expect(slices).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    expect(rows).toEqual([10, 20, 30, 40, 50, 60, 70]);
  });

  it('concatenates a slice that matches more rows than a function call may take arguments', async () => {
    const rows = await inChunks([1, 2], async (slice) => Array.from({ length: 300_000 }, () => slice[0] ?? 0), 1);
    expect(rows.length).toBe(600_000);
    expect([rows[0], rows[599_999]]).toEqual([1, 2]);
  });
});
