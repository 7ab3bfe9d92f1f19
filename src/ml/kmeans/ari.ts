/**
 * Adjusted Rand index (Hubert and Arabie, 1985) between two labellings of the same items.
 *
 * Contract: 1 for the same partition under any renaming of labels, about 0 for independent
 * random partitions (it can be negative), symmetric in its arguments. Labels are compared by
 * identity only, so numbers and segment names both work.
 */
export function adjustedRandIndex(a: ArrayLike<unknown>, b: ArrayLike<unknown>): number {
  if (a.length !== b.length) {
    throw new Error(`adjustedRandIndex: labellings differ in length (${a.length} and ${b.length})`);
  }
  const n = a.length;
  // With fewer than two items there are no pairs to disagree on.
  if (n < 2) return 1;
  const rowIds = new Map<unknown, number>();
  const colIds = new Map<unknown, number>();
  const cells = new Map<number, number>();
  const rowSums: number[] = [];
  const colSums: number[] = [];
  for (let i = 0; i < n; i++) {
    let r = rowIds.get(a[i]);
    if (r === undefined) {
      r = rowIds.size;
      rowIds.set(a[i], r);
      rowSums.push(0);
    }
    let c = colIds.get(b[i]);
    if (c === undefined) {
      c = colIds.size;
      colIds.set(b[i], c);
      colSums.push(0);
    }
    rowSums[r]! += 1;
    colSums[c]! += 1;
    const key = r * n + c;
    cells.set(key, (cells.get(key) ?? 0) + 1);
  }
  const pairs = (m: number): number => (m * (m - 1)) / 2;
  let index = 0;
  for (const count of cells.values()) index += pairs(count);
  const sumA = rowSums.reduce((s, m) => s + pairs(m), 0);
  const sumB = colSums.reduce((s, m) => s + pairs(m), 0);
  const expected = (sumA * sumB) / pairs(n);
  const max = (sumA + sumB) / 2;
  // max === expected only when both labellings are all-singletons or both one cluster: identical.
  if (max === expected) return 1;
  return (index - expected) / (max - expected);
}
