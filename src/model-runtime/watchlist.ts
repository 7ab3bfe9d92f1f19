/**
 * "Who is most at risk?": every candidate scored once per model version (the system date is
 * fixed, so the ranking only changes when the model does), then the top entries above a
 * probability, which the caller explains with its usual batched path.
 */
import { badUserInput } from '../errors';
import type { ModelSlot } from './model-slot';

export interface Ranked<K> {
  key: K;
  probability: number;
}

export function rankedWatchlist<K>(
  field: string,
  maximum: number,
  slot: ModelSlot,
  rankAll: () => Promise<{ version: string; ranked: Ranked<K>[] }>,
): (first: number, minProbability: number) => Promise<Ranked<K>[]> {
  let cache: { version: string; ranked: Ranked<K>[] } | undefined;
  let pending: Promise<{ version: string; ranked: Ranked<K>[] }> | undefined;
  return async (first, minProbability) => {
    if (!Number.isInteger(first) || first < 0 || first > maximum) throw badUserInput(`${field}: first must be between 0 and ${maximum}, got ${first}`);
    if (!(minProbability >= 0 && minProbability <= 1)) throw badUserInput(`${field}: minProbability must be between 0 and 1, got ${minProbability}`);
    const version = slot.current().version;
    if (!cache || cache.version !== version) {
      pending ??= rankAll().finally(() => {
        pending = undefined;
      });
      const fresh = await pending;
      fresh.ranked.sort((a, b) => b.probability - a.probability);
      cache = fresh;
    }
    return cache.ranked.filter((r) => r.probability >= minProbability).slice(0, first);
  };
}
