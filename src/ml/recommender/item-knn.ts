/**
 * Item-kNN over binary interactions: cosine similarity of items over the members who took them,
 * shrunk as co-takers / (√(takers_i · takers_j) + shrinkage) so that two items one member took are
 * not "identical"; each item keeps its `neighbours` most similar (Sarwar et al. 2001; Deshpande
 * and Karypis 2004). The recommender's co-borrowing signal (taste.ts) and the evaluation's
 * item-kNN baseline (src/evaluation/recommender-baselines.ts) share it.
 */
import { transpose, type SparseRows } from './sparse-rows';

/** Distinct members per item in the training rows: the popularity baseline's score. */
export function itemPopularity(training: SparseRows): Float64Array {
  const counts = new Float64Array(training.columns);
  for (let p = 0; p < training.column.length; p++) counts[training.column[p]!]! += 1;
  return counts;
}

export interface ItemKnn {
  neighbours: number;
  /** itemCount × neighbours, row-major, most similar first; -1 where an item has fewer. */
  items: Int32Array;
  similarities: Float64Array;
}

/** Cosine item-kNN over binary interactions, shrunk; memory itemCount × neighbours. */
export function fitItemKnn(training: SparseRows, { neighbours = 50, shrinkage = 0 }: { neighbours?: number; shrinkage?: number } = {}): ItemKnn {
  if (!Number.isInteger(neighbours) || neighbours < 1) throw new Error(`neighbours must be a positive integer, got ${neighbours}`);
  if (!(shrinkage >= 0)) throw new Error(`shrinkage must be 0 or more, got ${shrinkage}`);
  const itemCount = training.columns;
  const itemRows = transpose(training);
  const takers = itemPopularity(training);
  const items = new Int32Array(itemCount * neighbours).fill(-1);
  const similarities = new Float64Array(itemCount * neighbours);
  const together = new Float64Array(itemCount);
  const touched: number[] = [];
  for (let j = 0; j < itemCount; j++) {
    touched.length = 0;
    for (let p = itemRows.rowStart[j]!; p < itemRows.rowStart[j + 1]!; p++) {
      const member = itemRows.column[p]!;
      for (let q = training.rowStart[member]!; q < training.rowStart[member + 1]!; q++) {
        const i = training.column[q]!;
        if (i === j) continue;
        if (together[i] === 0) touched.push(i);
        together[i]! += 1;
      }
    }
    const ranked = touched
      .map((i) => ({ i, similarity: together[i]! / (Math.sqrt(takers[i]! * takers[j]!) + shrinkage) }))
      .sort((a, b) => b.similarity - a.similarity || a.i - b.i)
      .slice(0, neighbours);
    ranked.forEach(({ i, similarity }, slot) => {
      items[j * neighbours + slot] = i;
      similarities[j * neighbours + slot] = similarity;
    });
    for (const i of touched) together[i] = 0;
  }
  return { neighbours, items, similarities };
}

/** Scores of every item for a member who took `history`. */
export function itemKnnScores(model: ItemKnn, history: readonly number[], itemCount: number): Float64Array {
  const scores = new Float64Array(itemCount);
  for (const j of history) {
    for (let slot = 0; slot < model.neighbours; slot++) {
      const i = model.items[j * model.neighbours + slot]!;
      if (i < 0) break;
      scores[i]! += model.similarities[j * model.neighbours + slot]!;
    }
  }
  return scores;
}
