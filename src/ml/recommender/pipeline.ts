/**
 * From interactions keyed by string ids to ranked lists served by ONNX: index, train, export,
 * load the graph in onnxruntime, check parity with the trainer, run top-k for the requested
 * members. The `recommend` command and the Book-Crossing evaluation both go through here, so
 * what is evaluated is what ships.
 */
import { buildItemContent, type NamedFeatures } from './content';
import { RecommenderSession } from './inference';
import type { InteractionRecord } from './input-files';
import type { Interaction, RecommenderHyperparameters, RecommenderModel } from './model';
import { ANONYMOUS_USER_INDEX, exportRecommenderOnnx, exportSimilarItemsOnnx } from './onnx-export';
import { checkRecommenderParity, type ParityReport } from './parity';
import { trainRecommender } from './trainer';

export interface RecommendRequest {
  interactions: readonly InteractionRecord[];
  /** Members to recommend for, in output order; ids absent from `interactions` are served as anonymous. */
  users: readonly string[];
  k: number;
  hyperparameters?: Partial<RecommenderHyperparameters>;
  /** Item ids known to the catalogue but absent from `interactions`: recommendable through content. */
  catalogue?: readonly string[];
  /** Named content features of an item (see content.ts); without it the model is collaborative only. */
  itemFeatures?: (itemId: string) => NamedFeatures;
  /** How many members the ONNX-versus-trainer parity check covers (default 50). */
  parityMembers?: number;
  onProgress?: (message: string) => void;
}

export interface MemberRecommendations {
  user: string;
  /** False when the member had no interactions: the list is by popularity. */
  known: boolean;
  items: string[];
  scores: number[];
}

export interface RecommendResult {
  lists: MemberRecommendations[];
  /** Requested ids that were not in the interactions, in request order. */
  unknownUsers: string[];
  model: RecommenderModel;
  userIds: string[];
  itemIds: string[];
  recommenderOnnx: Uint8Array;
  /** Absent when the catalogue has a single item, which has nothing similar. */
  similarItemsOnnx: Uint8Array | undefined;
  parity: ParityReport;
  seconds: { training: number; export: number; inference: number };
}

interface IndexedInteractions {
  userIds: string[];
  itemIds: string[];
  userIndex: Map<string, number>;
  interactions: Interaction[];
  seenByUser: number[][];
}

/** Assigns indices in order of first appearance (members, then catalogue-only items last). */
export function indexInteractions(records: readonly InteractionRecord[], catalogue: readonly string[] = []): IndexedInteractions {
  const userIndex = new Map<string, number>();
  const itemIndex = new Map<string, number>();
  const indexOf = (map: Map<string, number>, id: string): number => {
    let index = map.get(id);
    if (index === undefined) {
      index = map.size;
      map.set(id, index);
    }
    return index;
  };
  const interactions = records.map(({ user, item, weight }) => ({ userIndex: indexOf(userIndex, user), itemIndex: indexOf(itemIndex, item), weight }));
  for (const item of catalogue) indexOf(itemIndex, item);
  const seenByUser: number[][] = Array.from({ length: userIndex.size }, () => []);
  const seenPairs = new Set<number>();
  for (const { userIndex: u, itemIndex: i } of interactions) {
    const key = u * itemIndex.size + i;
    if (seenPairs.has(key)) continue;
    seenPairs.add(key);
    seenByUser[u]!.push(i);
  }
  return { userIds: [...userIndex.keys()], itemIds: [...itemIndex.keys()], userIndex, interactions, seenByUser };
}

export async function recommendThroughOnnx(request: RecommendRequest): Promise<RecommendResult> {
  const progress = request.onProgress ?? ((): void => undefined);
  const indexed = indexInteractions(request.interactions, request.catalogue);
  const { userIds, itemIds } = indexed;
  progress(`${request.interactions.length} interactions: ${userIds.length} members, ${itemIds.length} items`);

  const content = request.itemFeatures ? buildItemContent(itemIds.length, (i) => request.itemFeatures!(itemIds[i]!)) : undefined;
  const trainingStarted = performance.now();
  const model = trainRecommender(
    { userCount: userIds.length, itemCount: itemIds.length, interactions: indexed.interactions, ...(content ? { content } : {}) },
    request.hyperparameters,
    { onProgress: ({ phase, iteration, iterations }) => progress(`training (${phase === 'validation' ? 'tuning the blend weights' : 'final model'}): ALS iteration ${iteration}/${iterations}`) },
  );
  const trainingSeconds = (performance.now() - trainingStarted) / 1000;
  const validationMembers = model.report.validation?.members ?? 0;
  progress(
    `trained in ${trainingSeconds.toFixed(1)} s (popularity weight ${model.popularityWeight}, neighbourhood weight ` +
      `${model.neighbourhoodWeight}, ${validationMembers > 0 ? `chosen on ${validationMembers} validation members` : 'not tuned: nothing to hold out'})`,
  );

  const exportStarted = performance.now();
  const metadata = { model: 'recommendations' };
  const recommenderOnnx = exportRecommenderOnnx(model, { metadata });
  const similarItemsOnnx = model.itemCount >= 2 ? exportSimilarItemsOnnx(model, { metadata: { model: 'similar-books' } }) : undefined;
  const session = await RecommenderSession.create(recommenderOnnx);
  const exportSeconds = (performance.now() - exportStarted) / 1000;

  try {
    const inferenceStarted = performance.now();
    const unknownUsers: string[] = [];
    const queries = request.users.map((user) => {
      const index = indexed.userIndex.get(user);
      if (index === undefined) {
        unknownUsers.push(user);
        return { userIndex: ANONYMOUS_USER_INDEX, seenItems: [] };
      }
      return { userIndex: index, seenItems: indexed.seenByUser[index]! };
    });
    const ranked = await session.recommend(queries, request.k);
    const lists = request.users.map((user, q) => ({
      user,
      known: queries[q]!.userIndex >= 0,
      items: ranked[q]!.items.map((i) => itemIds[i]!),
      scores: ranked[q]!.scores,
    }));
    const inferenceSeconds = (performance.now() - inferenceStarted) / 1000;

    const parityUsers = queries.filter((q) => q.userIndex >= 0).slice(0, request.parityMembers ?? 50);
    const parity = await checkRecommenderParity(model, session, parityUsers, request.k);
    progress(
      `parity: ONNX top-${request.k} ${parity.agreed ? 'equals' : 'DIFFERS FROM'} the trainer's for ${parity.agreeing}/${parity.checked} members ` +
        `(max score difference ${parity.maxScoreDifference.toExponential(1)})`,
    );
    return {
      lists,
      unknownUsers,
      model,
      userIds,
      itemIds,
      recommenderOnnx,
      similarItemsOnnx,
      parity,
      seconds: { training: trainingSeconds, export: exportSeconds, inference: inferenceSeconds },
    };
  } finally {
    await session.release();
  }
}
