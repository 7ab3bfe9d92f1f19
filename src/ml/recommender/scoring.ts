/**
 * The trainer's own scoring: the reference the exported ONNX graphs are checked against, and
 * what validation uses while training. It reads the same float32 tensors the graphs embed.
 *
 * Top-k contract (the same as ONNX TopK with largest=1, sorted=1): highest score first; equal
 * scores rank the lower item index first. Excluded items never appear, so a list is shorter
 * than k when fewer than k items remain.
 */
import { embeddingRow, type RecommenderModel } from './model';
import { addNeighbourScores } from './neighbourhood';

export interface RankedItems {
  items: number[];
  scores: number[];
}

/**
 * The k best entries of `scores`, skipping indices flagged in `excluded`. Insertion into a
 * sorted buffer: O(n k) worst case but O(n) in practice, since few items beat the k-th best.
 */
export function selectTopK(scores: ArrayLike<number>, k: number, excluded?: Uint8Array): RankedItems {
  const items: number[] = [];
  const best: number[] = [];
  for (let index = 0; index < scores.length; index++) {
    if (excluded && excluded[index]) continue;
    const score = scores[index]!;
    if (Number.isNaN(score)) continue;
    if (best.length === k && !(score > best[k - 1]!)) continue;
    // Walk left past strictly smaller scores only: an equal score keeps its earlier (lower) index ahead.
    let position = best.length === k ? k - 1 : best.length;
    while (position > 0 && best[position - 1]! < score) position--;
    if (best.length === k) {
      best.pop();
      items.pop();
    }
    best.splice(position, 0, score);
    items.splice(position, 0, index);
  }
  return { items, scores: best };
}

/**
 * Scores of every item for one member (anonymous when the index is out of range) whose
 * history is `history` (see the scoring contract in model.ts).
 */
export function scoreAllItems(model: RecommenderModel, userIndex: number, history: Iterable<number>, out = new Float64Array(model.itemCount)): Float64Array {
  const e = model.embeddingSize;
  const userOffset = embeddingRow(model, userIndex) * e;
  const user = model.userEmbeddings;
  const items = model.itemEmbeddings;
  for (let item = 0; item < model.itemCount; item++) {
    let sum = model.itemBias[item]!;
    const itemOffset = item * e;
    for (let d = 0; d < e; d++) sum += user[userOffset + d]! * items[itemOffset + d]!;
    out[item] = sum;
  }
  addNeighbourScores(model.neighbourItems, model.neighbourWeights, model.neighbours, history, 1, out);
  return out;
}

/** Flags the items of `seen` (indices outside the catalogue ignored): what a top-k never returns. */
export function exclusionMask(itemCount: number, seen: Iterable<number>): Uint8Array {
  const mask = new Uint8Array(itemCount);
  for (const item of seen) if (Number.isInteger(item) && item >= 0 && item < itemCount) mask[item] = 1;
  return mask;
}

/**
 * The member's top k items, never one in `seen`, which is also the history the neighbourhood
 * term reads, exactly like the graph's `seen_items` (indices outside the catalogue ignored).
 */
export function recommendTopK(model: RecommenderModel, userIndex: number, seen: Iterable<number>, k: number): RankedItems {
  const history = [...seen];
  return selectTopK(scoreAllItems(model, userIndex, history), k, exclusionMask(model.itemCount, history));
}

/**
 * Item latent factors scaled to unit length, in float32: cosine similarity is then one dot
 * product. An item whose factors are all zero (no interactions and no content) stays zero,
 * so it is similar to nothing rather than NaN.
 */
export function unitItemFactors(model: RecommenderModel): Float32Array {
  const f = model.factors;
  const e = model.embeddingSize;
  const unit = new Float32Array(model.itemCount * f);
  for (let item = 0; item < model.itemCount; item++) {
    let norm = 0;
    for (let d = 0; d < f; d++) norm += model.itemEmbeddings[item * e + d]! ** 2;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let d = 0; d < f; d++) unit[item * f + d] = model.itemEmbeddings[item * e + d]! * scale;
  }
  return unit;
}

/** The k items most similar to `itemIndex` by cosine of latent factors, never the item itself. */
export function similarItemsTopK(model: RecommenderModel, itemIndex: number, k: number, unit = unitItemFactors(model)): RankedItems {
  if (!Number.isInteger(itemIndex) || itemIndex < 0 || itemIndex >= model.itemCount) {
    throw new RangeError(`item index ${itemIndex} is outside 0..${model.itemCount - 1}`);
  }
  const f = model.factors;
  const scores = new Float64Array(model.itemCount);
  for (let item = 0; item < model.itemCount; item++) {
    let sum = 0;
    for (let d = 0; d < f; d++) sum += unit[itemIndex * f + d]! * unit[item * f + d]!;
    scores[item] = sum;
  }
  const self = new Uint8Array(model.itemCount);
  self[itemIndex] = 1;
  return selectTopK(scores, k, self);
}

/** Items ranked by distinct-member popularity, skipping `seen`: the baseline every report beats or admits to. */
export function popularityTopK(itemPopularity: ArrayLike<number>, seen: Iterable<number>, k: number): RankedItems {
  return selectTopK(itemPopularity, k, exclusionMask(itemPopularity.length, seen));
}
