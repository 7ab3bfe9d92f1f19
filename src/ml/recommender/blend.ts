/**
 * Choosing the blend weights on validation.
 *
 *   score(u, i) = x_u . y_i  +  popularityWeight * s_i  +  neighbourhoodWeight * N_u(i)
 *
 * (factors, popularity prior, neighbourhood score). Every (popularity, neighbourhood) pair of
 * the two grids is scored by NDCG@10 on items held out of each validation member's history,
 * with the factors and the neighbourhood rebuilt without those items. The best pair wins; ties
 * go to the earlier pair in grid order (less neighbourhood, then less popularity), so the
 * choice is deterministic and leans on the factors.
 *
 * Ranking all items for each of the 96 pairs would cost 96 full sorts per member; instead
 * each member's candidates are the union of the 200 best items by each component alone. A
 * non-negative blend's top 10 almost always lies in that union, and an approximate NDCG is
 * all a grid search needs.
 */
import { Random } from '../../util/random';
import { ndcgAtK } from '../ranking-metrics';
import type { Factors } from './als';
import { NEIGHBOURHOOD_WEIGHT_GRID, POPULARITY_WEIGHT_GRID, type BlendTrial } from './model';
import { addNeighbourScores, type ItemNeighbourhood } from './neighbourhood';
import { selectTopK } from './scoring';
import type { ValidationSplit } from './sparse-rows';

/** Members whose held-out ranking decides the blend: enough for a stable choice, few enough to be quick. */
export const MAX_VALIDATION_MEMBERS = 2000;
const VALIDATION_K = 10;
const CANDIDATES_PER_COMPONENT = 200;

export interface BlendChoice {
  popularityWeight: number;
  neighbourhoodWeight: number;
  members: number;
  trials: BlendTrial[];
}

export interface BlendGrids {
  popularity: readonly number[];
  neighbourhood: readonly number[];
}

/** The grids to search: a fixed hyperparameter is a grid of one. */
export function blendGrids(popularityWeight: number | 'tune', neighbourhoodWeight: number | 'tune', neighbours: number): BlendGrids {
  return {
    popularity: popularityWeight === 'tune' ? POPULARITY_WEIGHT_GRID : [popularityWeight],
    neighbourhood: neighbours === 0 ? [0] : neighbourhoodWeight === 'tune' ? NEIGHBOURHOOD_WEIGHT_GRID : [neighbourhoodWeight],
  };
}

export function tuneBlend(
  split: ValidationSplit,
  factors: Factors,
  popularity: Float64Array,
  neighbourhood: ItemNeighbourhood,
  k: number,
  grids: BlendGrids,
  seed: number,
): BlendChoice {
  const members = new Random(seed ^ 0x27d4eb2f).shuffle([...split.heldOut.keys()].sort((a, b) => a - b)).slice(0, MAX_VALIDATION_MEMBERS);
  const itemCount = popularity.length;
  const pairs = grids.neighbourhood.flatMap((neighbourhoodWeight) => grids.popularity.map((popularityWeight) => ({ popularityWeight, neighbourhoodWeight })));
  const totals = new Float64Array(pairs.length);
  const popularityOrder = selectTopK(popularity, itemCount).items;
  const factorScores = new Float64Array(itemCount);
  const neighbourScores = new Float64Array(itemCount);
  const seen = new Uint8Array(itemCount);
  const isCandidate = new Uint8Array(itemCount);
  const { training } = split;

  for (const u of members) {
    const taken = training.column.subarray(training.rowStart[u], training.rowStart[u + 1]);
    for (const item of taken) seen[item] = 1;
    for (let i = 0; i < itemCount; i++) {
      let sum = 0;
      for (let d = 0; d < k; d++) sum += factors.users[u * k + d]! * factors.items[i * k + d]!;
      factorScores[i] = sum;
    }
    neighbourScores.fill(0);
    addNeighbourScores(neighbourhood.items, neighbourhood.weights, neighbourhood.size, taken, 1, neighbourScores);

    const candidates: number[] = [];
    const admit = (item: number): void => {
      if (!isCandidate[item]) {
        isCandidate[item] = 1;
        candidates.push(item);
      }
    };
    selectTopK(factorScores, CANDIDATES_PER_COMPONENT, seen).items.forEach(admit);
    selectTopK(neighbourScores, CANDIDATES_PER_COMPONENT, seen).items.forEach(admit);
    let fromPopularity = 0;
    for (const item of popularityOrder) {
      if (fromPopularity === CANDIDATES_PER_COMPONENT) break;
      if (seen[item]) continue;
      admit(item);
      fromPopularity++;
    }
    // Index order, so equal blended scores rank the lower item first, as in the graph.
    candidates.sort((a, b) => a - b);
    const blended = new Float64Array(candidates.length);
    const relevant = split.heldOut.get(u)!;
    pairs.forEach(({ popularityWeight, neighbourhoodWeight }, p) => {
      candidates.forEach((item, c) => {
        blended[c] = factorScores[item]! + popularityWeight * popularity[item]! + neighbourhoodWeight * neighbourScores[item]!;
      });
      const ranked = selectTopK(blended, VALIDATION_K).items.map((c) => candidates[c]!);
      totals[p]! += ndcgAtK(ranked, relevant, VALIDATION_K);
    });
    for (const item of candidates) isCandidate[item] = 0;
    for (const item of taken) seen[item] = 0;
  }

  const trials = pairs.map((pair, p) => ({ ...pair, ndcgAt10: members.length === 0 ? 0 : totals[p]! / members.length }));
  const best = trials.reduce((winner, trial) => (trial.ndcgAt10 > winner.ndcgAt10 ? trial : winner), trials[0]!);
  return { popularityWeight: best.popularityWeight, neighbourhoodWeight: best.neighbourhoodWeight, members: members.length, trials };
}
