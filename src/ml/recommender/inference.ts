/**
 * Running the exported recommender graphs with onnxruntime-node, in batches.
 *
 * Contract: `createRecommenderSession` / `createSimilarItemsSession` check at load time that
 * the file has the tensor names of onnx-export.ts and refuse it otherwise. `recommend` and
 * `similar` return one ranked list per query, in query order, with the graph's -inf tail
 * (seen items used to fill k) already dropped, so a list can be shorter than k.
 */
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { openServingSession } from '../onnx/session';
import { int64Tensor } from '../onnx/tensors';
import { flattenSeenItems, RECOMMENDER_TENSORS, SIMILAR_ITEMS_TENSORS } from './onnx-export';
import type { RankedItems } from './scoring';

/** Rows per `run()`: the Node binding blocks the event loop while it computes, so keep runs short. */
export const DEFAULT_BATCH_SIZE = 256;

function checkNames(session: InferenceSession, what: string, inputs: readonly string[], outputs: readonly string[]): void {
  const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((name) => b.includes(name));
  if (!sameSet(session.inputNames, inputs) || !sameSet(session.outputNames, outputs)) {
    throw new Error(
      `${what} model has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}], ` +
        `expected [${inputs.join(', ')}] and [${outputs.join(', ')}]`,
    );
  }
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k <= 0) throw new RangeError(`k must be a positive integer, got ${k}`);
}

/** One ranked list per row of a top-k run's outputs, dropping the -inf tail (excluded items used to fill k). */
export function rankedLists(scores: Tensor, items: Tensor, rows: number): RankedItems[] {
  const width = scores.dims[1] ?? 0;
  const scoreData = scores.data as Float32Array;
  const itemData = items.data as BigInt64Array;
  const lists: RankedItems[] = [];
  for (let row = 0; row < rows; row++) {
    const list: RankedItems = { items: [], scores: [] };
    for (let rank = 0; rank < width; rank++) {
      const score = scoreData[row * width + rank]!;
      if (!Number.isFinite(score)) break;
      list.items.push(Number(itemData[row * width + rank]!));
      list.scores.push(score);
    }
    lists.push(list);
  }
  return lists;
}

export interface RecommendationQuery {
  /** Member index, or -1 for an anonymous member (ranked by popularity). */
  userIndex: number;
  /** Item indices never to recommend (the member's loans). */
  seenItems: readonly number[];
}

/** The recommendations graph's inputs for one batch: each member's row and their flat history. */
export function recommenderFeeds(queries: readonly RecommendationQuery[], k: number): Record<string, Tensor> {
  const { inputs } = RECOMMENDER_TENSORS;
  const { seenItems, seenRows } = flattenSeenItems(queries.map((q) => q.seenItems));
  return {
    [inputs.userIndex]: int64Tensor(queries.map((q) => q.userIndex)),
    [inputs.seenItems]: int64Tensor(seenItems),
    [inputs.seenRows]: int64Tensor(seenRows),
    [inputs.k]: new Tensor('int64', BigInt64Array.of(BigInt(k)), [1]),
  };
}

/** The similar-books graph's inputs: one row per item index, the k nearest each. */
export function similarItemsFeeds(itemIndices: readonly number[], k: number): Record<string, Tensor> {
  const { inputs } = SIMILAR_ITEMS_TENSORS;
  return { [inputs.itemIndex]: int64Tensor(itemIndices), [inputs.k]: new Tensor('int64', BigInt64Array.of(BigInt(k)), [1]) };
}

export class RecommenderSession {
  private constructor(private readonly session: InferenceSession) {}

  static async create(model: Uint8Array | string): Promise<RecommenderSession> {
    const session = await openServingSession(model);
    const { inputs, outputs } = RECOMMENDER_TENSORS;
    checkNames(session, 'recommendations', Object.values(inputs), Object.values(outputs));
    return new RecommenderSession(session);
  }

  async recommend(queries: readonly RecommendationQuery[], k: number, batchSize = DEFAULT_BATCH_SIZE): Promise<RankedItems[]> {
    checkK(k);
    const { outputs } = RECOMMENDER_TENSORS;
    const lists: RankedItems[] = [];
    for (let from = 0; from < queries.length; from += batchSize) {
      const batch = queries.slice(from, from + batchSize);
      const result = await this.session.run(recommenderFeeds(batch, k));
      lists.push(...rankedLists(result[outputs.scores]!, result[outputs.items]!, batch.length));
    }
    return lists;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

export class SimilarItemsSession {
  private constructor(private readonly session: InferenceSession) {}

  static async create(model: Uint8Array | string): Promise<SimilarItemsSession> {
    const session = await openServingSession(model);
    const { inputs, outputs } = SIMILAR_ITEMS_TENSORS;
    checkNames(session, 'similar items', Object.values(inputs), Object.values(outputs));
    return new SimilarItemsSession(session);
  }

  async similar(itemIndices: readonly number[], k: number, batchSize = DEFAULT_BATCH_SIZE): Promise<RankedItems[]> {
    checkK(k);
    const { outputs } = SIMILAR_ITEMS_TENSORS;
    const lists: RankedItems[] = [];
    for (let from = 0; from < itemIndices.length; from += batchSize) {
      const batch = itemIndices.slice(from, from + batchSize);
      const result = await this.session.run(similarItemsFeeds(batch, k));
      lists.push(...rankedLists(result[outputs.scores]!, result[outputs.items]!, batch.length));
    }
    return lists;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
