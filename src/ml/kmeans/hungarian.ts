/**
 * Optimal assignment of rows to columns (Kuhn-Munkres with potentials, O(n^2 m)).
 *
 * Contract: for an n x m score matrix with n <= m, returns for each row a distinct column so
 * that the total score is as high as possible. Deterministic: among equal optima it returns
 * the same one every time for the same matrix.
 */
export function maximiseAssignment(scores: readonly (readonly number[])[]): number[] {
  const n = scores.length;
  if (n === 0) return [];
  const m = scores[0]!.length;
  if (n > m) throw new Error(`assignment: ${n} rows cannot take distinct columns among ${m}`);
  for (const row of scores) {
    if (row.length !== m) throw new Error(`assignment: rows differ in length (${m} and ${row.length})`);
    if (row.some((v) => !Number.isFinite(v))) throw new Error('assignment: every score must be finite');
  }
  // 1-based arrays with a dummy column 0, as in the classic formulation; cost = -score.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const rowOfCol = new Int32Array(m + 1);
  const way = new Int32Array(m + 1);
  for (let i = 1; i <= n; i++) {
    rowOfCol[0] = i;
    let col = 0;
    const minv = new Float64Array(m + 1).fill(Infinity);
    const used = new Uint8Array(m + 1);
    do {
      used[col] = 1;
      const row = rowOfCol[col]!;
      let delta = Infinity;
      let next = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const reduced = -scores[row - 1]![j - 1]! - u[row]! - v[j]!;
        if (reduced < minv[j]!) {
          minv[j] = reduced;
          way[j] = col;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          next = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[rowOfCol[j]!]! += delta;
          v[j]! -= delta;
        } else {
          minv[j]! -= delta;
        }
      }
      col = next;
    } while (rowOfCol[col] !== 0);
    do {
      const prev = way[col]!;
      rowOfCol[col] = rowOfCol[prev]!;
      col = prev;
    } while (col !== 0);
  }
  const result = new Array<number>(n).fill(-1);
  for (let j = 1; j <= m; j++) if (rowOfCol[j]! > 0) result[rowOfCol[j]! - 1] = j - 1;
  return result;
}
