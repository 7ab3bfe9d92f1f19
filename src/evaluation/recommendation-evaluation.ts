/**
 * Scores registered recommendation versions and the recommender baselines on the same held-out
 * borrowing of a library, for `npm run evaluate -- --model recommendations`.
 *
 * Contract:
 * - The window is the 90 days up to `end` (default the library clock). Members who joined by the
 *   cut-off (end − 90 days) and borrowed a book new to them in the window are scored; each is
 *   ranked over every book they had not borrowed by the cut-off (their histories read through
 *   the serving feature code, src/features/recommendations.ts, in the version's book index).
 * - A version ranks through its model.onnx, every member sent as one the version does not know
 *   (user_index −1) with their history at the cut-off: the served model was refitted on every
 *   loan to its training date, so a member's own embedding would carry the window's loans on
 *   the library it was trained on, and on another library it belongs to someone else.
 * - Baselines fitted on the histories at the cut-off only: popularity, item-kNN and EASE, their
 *   shrinkage and λ chosen on a validation split inside those histories
 *   (src/evaluation/recommender-baselines.ts).
 * - NDCG, hit rate and recall at k per member, with catalogue coverage and novelty of the lists,
 *   each with a 95% bootstrap interval over members (all scorers on the same resamples); the best
 *   baseline has the highest NDCG, and each version is compared with it by a paired bootstrap.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { borrowingHistoriesInChunks, recommendationIndex, recommendationQuery, type RecommendationIndex, type RecommendationIndexFile } from '../features/recommendations';
import { hitRateAtK, ndcgAtK, recallAtK } from '../ml/ranking-metrics';
import { ANONYMOUS_USER_INDEX, flattenSeenItems, RECOMMENDER_TENSORS } from '../ml/recommender';
import { exclusionMask, popularityTopK, selectTopK } from '../ml/recommender/scoring';
import { buildUserRows, type SparseRows } from '../ml/recommender/sparse-rows';
import { openServingSession } from '../ml/onnx/session';
import type { ServingMetadata } from '../model-runtime/model-slot';
import { readAsOf, type Store } from '../store';
import { addDays } from '../util/dates';
import { bootstrapFigures, pairedBootstrap, plainInterval, type BootstrapOptions, type Interval } from './intervals';
import { chooseEaseLambda, chooseItemKnnShrinkage, easeScores, fitEase, fitItemKnn, itemKnnScores, itemPopularity } from './recommender-baselines';

export const RECOMMENDATION_WINDOW_DAYS = 90;
export const RECOMMENDATION_K = 10;
/** Members per ONNX run. */
const MEMBERS_PER_RUN = 1000;

export interface RecommendationVersion {
  version: string;
  dir: string;
  metadata: ServingMetadata;
}

export interface RecommendationHoldout {
  end: string;
  cutoff: string;
  description: string;
  index: RecommendationIndex;
  bookIds: number[];
  /** Item indices each member had borrowed by the cut-off, for every member who joined by then. */
  seen: number[][];
  /** Members scored: those with a new book in the window (indices into `seen`). */
  members: number[];
  relevant: Set<number>[];
  training: SparseRows;
}

function readIndex(version: RecommendationVersion): RecommendationIndexFile {
  return JSON.parse(readFileSync(path.join(version.dir, 'index.json'), 'utf8')) as RecommendationIndexFile;
}

/** The window's held-out borrowing, in the book index of `version` (every version scored must share its catalogue). */
export async function recommendationHoldout(store: Store, version: RecommendationVersion, { end }: { end?: string } = {}): Promise<RecommendationHoldout> {
  const last = end ?? (await readAsOf(store));
  const cutoff = addDays(last, -RECOMMENDATION_WINDOW_DAYS);
  const file = readIndex(version);
  const index = recommendationIndex(file);
  const memberIds = (await store.db.selectFrom('members').select('id').where('joined_at', '<=', cutoff).orderBy('id').execute()).map((r) => r.id);
  const before = await borrowingHistoriesInChunks(store, memberIds, cutoff);
  const after = await borrowingHistoriesInChunks(store, memberIds, last);
  const seen = before.map((h) => (h ? recommendationQuery(index, h).seenItems : []));
  const members: number[] = [];
  const relevant: Set<number>[] = [];
  after.forEach((h, u) => {
    const had = new Set(seen[u]);
    const fresh = new Set(h ? recommendationQuery(index, h).seenItems.filter((item) => !had.has(item)) : []);
    if (fresh.size > 0) {
      members.push(u);
      relevant.push(fresh);
    }
  });
  if (members.length === 0) throw new Error(`no member borrowed a new book between ${cutoff} and ${last}`);
  const interactions = seen.flatMap((items, userIndex) => items.map((itemIndex) => ({ userIndex, itemIndex, weight: 1 })));
  return {
    end: last,
    cutoff,
    description: `${members.length} members who borrowed a book new to them between ${cutoff} and ${last}, ranked over the books they had not borrowed by ${cutoff}`,
    index,
    bookIds: file.bookIds,
    seen,
    members,
    relevant,
    training: buildUserRows({ userCount: seen.length, itemCount: file.bookIds.length, interactions }),
  };
}

/** A version's top-k lists for the scored members, through its ONNX graph. */
export async function versionLists(version: RecommendationVersion, holdout: RecommendationHoldout, k = RECOMMENDATION_K): Promise<number[][]> {
  const ids = readIndex(version).bookIds;
  if (ids.length !== holdout.bookIds.length || ids.some((id, i) => id !== holdout.bookIds[i])) {
    throw new Error(`recommendations ${version.version} has another book index than the holdout's; score versions of one catalogue together`);
  }
  const { inputs, outputs } = RECOMMENDER_TENSORS;
  const session = await openServingSession(path.join(version.dir, 'model.onnx'));
  try {
    const lists: number[][] = [];
    for (let start = 0; start < holdout.members.length; start += MEMBERS_PER_RUN) {
      const batch = holdout.members.slice(start, start + MEMBERS_PER_RUN);
      const { seenItems, seenRows } = flattenSeenItems(batch.map((u) => holdout.seen[u]!));
      const result = await session.run({
        [inputs.userIndex]: new Tensor('int64', BigInt64Array.from(batch, () => BigInt(ANONYMOUS_USER_INDEX)), [batch.length]),
        [inputs.seenItems]: new Tensor('int64', BigInt64Array.from(seenItems, BigInt), [seenItems.length]),
        [inputs.seenRows]: new Tensor('int64', BigInt64Array.from(seenRows, BigInt), [seenRows.length]),
        [inputs.k]: new Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]),
      });
      const items = result[outputs.items]?.data as BigInt64Array | undefined;
      if (!items || items.length !== batch.length * k) throw new Error(`recommendations ${version.version}: ${items?.length ?? 0} items answered for ${batch.length} members × ${k}`);
      for (let b = 0; b < batch.length; b++) lists.push(Array.from(items.subarray(b * k, (b + 1) * k), Number));
    }
    return lists;
  } finally {
    await session.release();
  }
}

export const RECOMMENDATION_BASELINE_LABELS: Record<string, string> = {
  popularity: 'most borrowed books',
  itemKnn: 'item-kNN (cosine, shrinkage chosen on validation)',
  ease: 'EASE (λ chosen on validation, top 1000 books)',
};

/** The baselines' top-k lists, fitted on the histories at the cut-off only. */
export function baselineLists(holdout: RecommendationHoldout, { k = RECOMMENDATION_K, seed = 1 }: { k?: number; seed?: number } = {}): { lists: Record<string, number[][]>; chosen: Record<string, number> } {
  const { training, seen, members } = holdout;
  const itemCount = training.columns;
  const top = (score: (history: readonly number[]) => Float64Array) => members.map((u) => selectTopK(score(seen[u]!), k, exclusionMask(itemCount, seen[u]!)).items);
  const popularity = itemPopularity(training);
  const shrinkage = chooseItemKnnShrinkage(training, { k, seed }).chosen;
  const knn = fitItemKnn(training, { shrinkage });
  const lambda = chooseEaseLambda(training, { k, seed }).chosen;
  const ease = fitEase(training, { lambda });
  return {
    lists: {
      popularity: members.map((u) => popularityTopK(popularity, seen[u]!, k).items),
      itemKnn: top((history) => itemKnnScores(knn, history, itemCount)),
      ease: top((history) => easeScores(ease, history, itemCount)),
    },
    chosen: { itemKnnShrinkage: shrinkage, easeLambda: lambda },
  };
}

function listFigures(holdout: RecommendationHoldout, lists: readonly (readonly number[])[], k: number) {
  const n = holdout.members.length;
  const ndcg = new Float64Array(n);
  const hit = new Float64Array(n);
  const recall = new Float64Array(n);
  const popularity = itemPopularity(holdout.training);
  const information = new Float64Array(n);
  for (let m = 0; m < n; m++) {
    const list = lists[m]!.slice(0, k);
    const relevant = holdout.relevant[m]!;
    ndcg[m] = ndcgAtK(list, relevant, k);
    hit[m] = hitRateAtK(list, relevant, k);
    recall[m] = recallAtK(list, relevant, k);
    let bits = 0;
    for (const item of list) bits -= Math.log2(((popularity[item] ?? 0) + 1) / (holdout.training.rows + 1));
    information[m] = bits;
  }
  const itemCount = holdout.training.columns;
  return (rows: ArrayLike<number>): Record<string, number> => {
    const shown = new Uint8Array(itemCount);
    let sums = [0, 0, 0, 0];
    let slots = 0;
    for (let r = 0; r < rows.length; r++) {
      const m = rows[r]!;
      sums = [sums[0]! + ndcg[m]!, sums[1]! + hit[m]!, sums[2]! + recall[m]!, sums[3]! + information[m]!];
      for (const item of lists[m]!.slice(0, k)) shown[item] = 1;
      slots += Math.min(k, lists[m]!.length);
    }
    let covered = 0;
    for (let i = 0; i < itemCount; i++) covered += shown[i]!;
    return {
      [`ndcg_at_${k}`]: sums[0]! / rows.length,
      [`hit_rate_at_${k}`]: sums[1]! / rows.length,
      [`recall_at_${k}`]: sums[2]! / rows.length,
      coverage: covered / itemCount,
      novelty: slots > 0 ? sums[3]! / slots : NaN,
    };
  };
}

function figuresOf(holdout: RecommendationHoldout, lists: number[][], k: number, options: BootstrapOptions): Record<string, Interval> {
  const intervals = bootstrapFigures(holdout.members.length, listFigures(holdout, lists, k), options);
  return Object.fromEntries(Object.entries(intervals).map(([name, v]) => [name, plainInterval(v)]));
}

export interface RecommendationComparison {
  against: string;
  metric: string;
  /** NDCG of this version and of the other on those members. */
  value: number;
  otherValue: number;
  /** NDCG(version) − NDCG(other) on the same members: above 0 is better. */
  difference: Interval;
  pValue: number;
  verdict: 'better' | 'worse' | 'not distinguishable';
}

export interface RecommendationReport {
  model: 'recommendations';
  version: string;
  rows: number;
  window: string;
  /** Set when the version was trained on loans after the cut-off. */
  lookAhead: string | null;
  metrics: Record<string, Interval>;
  baselines: Record<string, Record<string, Interval>>;
  bestBaseline: string;
  /** Shrinkage and λ the baselines chose on their validation split. */
  baselineSettings: Record<string, number>;
  oracle: null;
  thresholds: [];
  comparisons: RecommendationComparison[];
}

/** NDCG@k of lists `a` minus that of lists `b` on the holdout's members, by a paired bootstrap. */
export function compareNdcg(holdout: RecommendationHoldout, a: number[][], b: number[][], against: string, k: number, options: BootstrapOptions): RecommendationComparison {
  const metric = `ndcg_at_${k}`;
  const fa = listFigures(holdout, a, k);
  const fb = listFigures(holdout, b, k);
  const test = pairedBootstrap(holdout.members.length, (rows) => fa(rows)[metric]!, (rows) => fb(rows)[metric]!, options);
  const d = test.difference;
  return {
    against,
    metric,
    value: test.a.value,
    otherValue: test.b.value,
    difference: plainInterval(d),
    pValue: test.pValue,
    verdict: d.low > 0 ? 'better' : d.high < 0 ? 'worse' : 'not distinguishable',
  };
}

export async function evaluateRecommendationVersions(
  holdout: RecommendationHoldout,
  versions: readonly RecommendationVersion[],
  options: BootstrapOptions,
  progress: (message: string) => void = () => {},
  k = RECOMMENDATION_K,
): Promise<RecommendationReport[]> {
  progress('baselines: popularity, item-kNN and EASE (choosing shrinkage and λ on a validation split of the histories at the cut-off)');
  const { lists: baseline, chosen } = baselineLists(holdout, { k, seed: options.seed ?? 1 });
  const baselines = Object.fromEntries(Object.entries(baseline).map(([name, lists]) => [name, figuresOf(holdout, lists, k, options)]));
  const metric = `ndcg_at_${k}`;
  const best = Object.keys(baselines).reduce((a, b) => (baselines[b]![metric]!.value > baselines[a]![metric]!.value ? b : a));
  const scored: { version: RecommendationVersion; lists: number[][] }[] = [];
  for (const version of versions) {
    progress(`version ${version.version}`);
    scored.push({ version, lists: await versionLists(version, holdout, k) });
  }
  return scored.map(({ version, lists }) => {
    const trainedTo = (version.metadata as { trainingData?: { asOf?: string } }).trainingData?.asOf;
    return {
      model: 'recommendations',
      version: version.version,
      rows: holdout.members.length,
      window: holdout.description,
      lookAhead: trainedTo && trainedTo > holdout.cutoff ? `trained on loans to ${trainedTo}, after the cut-off ${holdout.cutoff}: on the library it was trained on, its item factors saw the window` : null,
      metrics: figuresOf(holdout, lists, k, options),
      baselines,
      bestBaseline: best,
      baselineSettings: chosen,
      oracle: null,
      thresholds: [],
      comparisons: [
        compareNdcg(holdout, lists, baseline[best]!, `best baseline (${best})`, k, options),
        ...scored.filter((o) => o.version !== version).map((o) => compareNdcg(holdout, lists, o.lists, `version ${o.version.version}`, k, options)),
      ],
    };
  });
}
