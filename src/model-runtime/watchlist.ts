/**
 * Rankings over every member ("who is most at risk?", the segment overview): computed once per
 * model version and again when their inputs have changed (the change follower counts changes in
 * `inputs`), but no more often than `config.follow.rankingRefreshMs`. A new version waits for
 * its ranking; changed inputs are ranked in the background while the previous ranking answers.
 */
import { badUserInput } from '../errors';
import type { ModelSlot } from './model-slot';
import type { ModelSubgraphDeps } from './model-subgraph';

export interface Ranked<K> {
  key: K;
  probability: number;
}

/** What a ranking reads to know whether it is stale. */
export type RankingDeps = Pick<ModelSubgraphDeps, 'inputs' | 'logger'> & { config: { follow: { rankingRefreshMs: number } } };

/**
 * `compute` kept per model version and per input count, as described above. A failed background
 * recomputation is logged and tried again on a later call.
 */
export function refreshedRanking<T>(slot: ModelSlot, deps: RankingDeps, compute: () => Promise<{ version: string; value: T }>): () => Promise<T> {
  let cache: { version: string; inputs: number; at: number; value: T } | undefined;
  let pending: Promise<{ version: string; inputs: number; at: number; value: T }> | undefined;
  const start = (): Promise<{ version: string; inputs: number; at: number; value: T }> => {
    const inputs = deps.inputs;
    const at = Date.now();
    pending ??= compute()
      .then((fresh) => {
        const next = { ...fresh, inputs, at };
        cache = next;
        return next;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  return async () => {
    const version = slot.current().version;
    if (!cache || cache.version !== version) return (await start()).value;
    if (cache.inputs !== deps.inputs && Date.now() - cache.at >= deps.config.follow.rankingRefreshMs) {
      start().catch((error: unknown) => deps.logger.warn({ err: (error as Error).message }, 'recomputing a ranking failed; the previous one keeps answering'));
    }
    return cache.value;
  };
}

export function rankedWatchlist<K>(
  field: string,
  maximum: number,
  slot: ModelSlot,
  deps: RankingDeps,
  rankAll: () => Promise<{ version: string; ranked: Ranked<K>[] }>,
): (first: number, minProbability: number) => Promise<Ranked<K>[]> {
  const ranking = refreshedRanking(slot, deps, async () => {
    const { version, ranked } = await rankAll();
    ranked.sort((a, b) => b.probability - a.probability);
    return { version, value: ranked };
  });
  return async (first, minProbability) => {
    if (!Number.isInteger(first) || first < 0 || first > maximum) throw badUserInput(`${field}: first must be between 0 and ${maximum}, got ${first}`);
    if (!(minProbability >= 0 && minProbability <= 1)) throw badUserInput(`${field}: minProbability must be between 0 and 1, got ${minProbability}`);
    return (await ranking()).filter((r) => r.probability >= minProbability).slice(0, first);
  };
}
