/**
 * Top-k ranking metrics for recommendation lists, with binary relevance.
 *
 * Contract shared by every function here:
 * - `ranked` is one member's recommendation list, best first. Only its first `k` entries count;
 *   a list shorter than `k` is scored as if padded with misses (so precision still divides by k).
 * - `relevant` is the set of items the member actually took in the held-out period. An item
 *   that appears twice in `ranked` counts once, at its first position, so a buggy list with
 *   duplicates cannot score above a clean one.
 * - An empty `relevant` set scores 0 everywhere: such a member tells nothing about quality and
 *   callers should leave them out of the average (`meanRankingMetrics` does).
 * - `k` must be a positive integer; anything else is a caller bug and throws.
 */

export interface RankingMetrics {
  ndcg: number;
  precision: number;
  recall: number;
  hitRate: number;
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k <= 0) throw new RangeError(`k must be a positive integer, got ${k}`);
}

/** Zero-based positions (within the first k) of the distinct relevant items in `ranked`. */
function hitPositions<T>(ranked: ArrayLike<T>, relevant: ReadonlySet<T>, k: number): number[] {
  checkK(k);
  const seen = new Set<T>();
  const positions: number[] = [];
  const depth = Math.min(k, ranked.length);
  for (let position = 0; position < depth; position++) {
    const item = ranked[position]!;
    if (seen.has(item)) continue;
    seen.add(item);
    if (relevant.has(item)) positions.push(position);
  }
  return positions;
}

/**
 * Normalised discounted cumulative gain: sum of 1/log2(position+2) over hits, divided by the
 * same sum for an ideal list that puts min(|relevant|, k) relevant items first. In [0, 1].
 */
export function ndcgAtK<T>(ranked: ArrayLike<T>, relevant: ReadonlySet<T>, k: number): number {
  const positions = hitPositions(ranked, relevant, k);
  if (relevant.size === 0) return 0;
  let dcg = 0;
  for (const position of positions) dcg += 1 / Math.log2(position + 2);
  let ideal = 0;
  const idealHits = Math.min(relevant.size, k);
  for (let position = 0; position < idealHits; position++) ideal += 1 / Math.log2(position + 2);
  return dcg / ideal;
}

/** Hits in the first k, divided by k. */
export function precisionAtK<T>(ranked: ArrayLike<T>, relevant: ReadonlySet<T>, k: number): number {
  const positions = hitPositions(ranked, relevant, k);
  return relevant.size === 0 ? 0 : positions.length / k;
}

/** Hits in the first k, divided by the number of relevant items. */
export function recallAtK<T>(ranked: ArrayLike<T>, relevant: ReadonlySet<T>, k: number): number {
  const positions = hitPositions(ranked, relevant, k);
  return relevant.size === 0 ? 0 : positions.length / relevant.size;
}

/** 1 when at least one relevant item is in the first k, else 0. */
export function hitRateAtK<T>(ranked: ArrayLike<T>, relevant: ReadonlySet<T>, k: number): number {
  return hitPositions(ranked, relevant, k).length > 0 ? 1 : 0;
}

export interface RankedCase<T> {
  ranked: ArrayLike<T>;
  relevant: ReadonlySet<T>;
}

/**
 * The four metrics averaged over members, skipping members with nothing relevant (see the
 * contract above). `members` is how many were averaged, so a report can say so.
 */
export function meanRankingMetrics<T>(cases: Iterable<RankedCase<T>>, k: number): RankingMetrics & { members: number } {
  checkK(k);
  const total: RankingMetrics = { ndcg: 0, precision: 0, recall: 0, hitRate: 0 };
  let members = 0;
  for (const { ranked, relevant } of cases) {
    if (relevant.size === 0) continue;
    members += 1;
    total.ndcg += ndcgAtK(ranked, relevant, k);
    total.precision += precisionAtK(ranked, relevant, k);
    total.recall += recallAtK(ranked, relevant, k);
    total.hitRate += hitRateAtK(ranked, relevant, k);
  }
  const divide = (value: number): number => (members === 0 ? 0 : value / members);
  return {
    ndcg: divide(total.ndcg),
    precision: divide(total.precision),
    recall: divide(total.recall),
    hitRate: divide(total.hitRate),
    members,
  };
}
