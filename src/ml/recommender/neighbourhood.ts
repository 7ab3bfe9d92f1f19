/**
 * Item neighbourhood: for each item, the items most often taken by the same members.
 *
 *   S[j][i] = sum over members v who took both j and i (j != i) of 1 / sqrt(n_v)
 *
 * where n_v is how many items v took, so a member with 800 books links them less strongly
 * than a member with 5 (as in user-based cosine neighbourhoods). Each item keeps its `size`
 * strongest neighbours (ties to the lower index), and all weights are divided by the mean,
 * over items with any neighbour, of their strongest weight, so a blend weight means the same
 * on any data set. A member's neighbourhood score for item i is the sum of S[j][i] over the
 * items j they took.
 *
 * Why it is part of the hybrid: on sparse real data (Book-Crossing) co-ownership is specific
 * (members swap the very same editions) and a 32-factor model smooths it away; the
 * neighbourhood keeps it, and its weight in the blend is learned on validation, so where
 * the factors already say it all (the simulated library) the weight can stay 0.
 */
import { transpose, type SparseRows } from './sparse-rows';

export interface ItemNeighbourhood {
  /** Neighbours kept per item. */
  size: number;
  /** itemCount x size, row-major, strongest first; -1 where an item has fewer neighbours. */
  items: Int32Array;
  weights: Float64Array;
}

export function buildItemNeighbourhood(userRows: SparseRows, size: number): ItemNeighbourhood {
  const itemCount = userRows.columns;
  const items = new Int32Array(itemCount * size).fill(-1);
  const weights = new Float64Array(itemCount * size);
  if (size === 0) return { size, items, weights };
  const itemRows = transpose(userRows);
  const damping = new Float64Array(userRows.rows);
  for (let v = 0; v < userRows.rows; v++) {
    const n = userRows.rowStart[v + 1]! - userRows.rowStart[v]!;
    damping[v] = n > 0 ? 1 / Math.sqrt(n) : 0;
  }
  const strength = new Float64Array(itemCount);
  const touched = new Int32Array(itemCount);
  const bestItems = new Int32Array(size);
  const bestWeights = new Float64Array(size);
  let strongestSum = 0;
  let itemsWithNeighbours = 0;
  for (let j = 0; j < itemCount; j++) {
    let touchedCount = 0;
    for (let p = itemRows.rowStart[j]!; p < itemRows.rowStart[j + 1]!; p++) {
      const v = itemRows.column[p]!;
      const d = damping[v]!;
      for (let q = userRows.rowStart[v]!; q < userRows.rowStart[v + 1]!; q++) {
        const i = userRows.column[q]!;
        if (i === j) continue;
        if (strength[i] === 0) touched[touchedCount++] = i;
        strength[i]! += d;
      }
    }
    // Keep the `size` strongest in a sorted buffer; candidates in index order, so an equal
    // weight never displaces an earlier (lower) index.
    const candidates = touched.subarray(0, touchedCount).sort();
    let kept = 0;
    for (const i of candidates) {
      const w = strength[i]!;
      strength[i] = 0;
      if (kept === size && !(w > bestWeights[size - 1]!)) continue;
      let position = kept === size ? size - 1 : kept;
      while (position > 0 && bestWeights[position - 1]! < w) {
        if (position < size) {
          bestWeights[position] = bestWeights[position - 1]!;
          bestItems[position] = bestItems[position - 1]!;
        }
        position--;
      }
      bestWeights[position] = w;
      bestItems[position] = i;
      if (kept < size) kept++;
    }
    for (let m = 0; m < kept; m++) {
      items[j * size + m] = bestItems[m]!;
      weights[j * size + m] = bestWeights[m]!;
    }
    if (kept > 0) {
      strongestSum += bestWeights[0]!;
      itemsWithNeighbours += 1;
    }
  }
  if (itemsWithNeighbours > 0) {
    const scale = itemsWithNeighbours / strongestSum;
    for (let p = 0; p < weights.length; p++) weights[p]! *= scale;
  }
  return { size, items, weights };
}

/**
 * out[i] += scale * S[j][i] for every item j in `taken` (indices outside the catalogue are
 * skipped; a repeated j counts again, exactly as in the exported graph).
 */
export function addNeighbourScores(
  neighbourItems: Int32Array,
  neighbourWeights: ArrayLike<number>,
  size: number,
  taken: Iterable<number>,
  scale: number,
  out: Float64Array,
): void {
  const itemCount = out.length;
  for (const j of taken) {
    if (!Number.isInteger(j) || j < 0 || j >= itemCount) continue;
    for (let m = 0; m < size; m++) {
      const i = neighbourItems[j * size + m]!;
      if (i < 0) break;
      out[i]! += scale * neighbourWeights[j * size + m]!;
    }
  }
}
