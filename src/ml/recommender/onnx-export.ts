/**
 * ONNX export of the recommender: two graphs of standard opset-17 operators, so any ONNX
 * runtime serves them and the top-k selection happens inside the graph, not in JavaScript.
 *
 * Recommendations graph (`exportRecommenderOnnx`):
 *   inputs   user_index  int64 [batch]   member index; any value outside 0..userCount-1 (use -1)
 *                                         means an anonymous member: popularity plus the
 *                                         neighbourhood of their seen items (a new member folds in)
 *            seen_items  int64 [seen]    every member's history, one flat list: never recommended,
 *                                         and the evidence of the neighbourhood term; values
 *                                         outside 0..itemCount-1 are ignored; pass each item of a
 *                                         member once (a repeat adds its neighbours twice)
 *            seen_rows   int64 [seen]    the batch row each seen item belongs to (any order);
 *                                         entries whose row is outside 0..batch-1 are ignored
 *            k           int64 [1]       list length; clamped to itemCount
 *   outputs  scores      float [batch, k]          best first
 *            items       int64 [batch, k]          item indices; ties go to the lower index
 *   When a member has fewer than k unseen items, the tail holds seen items with score -inf:
 *   callers drop entries whose score is not finite. `flattenSeenItems` builds the two flat inputs.
 *
 *   user_embeddings [users+1, e] --Gather(user row)--> [batch, e]
 *     --MatMul(item_embeddings_t [e, items+1])--> --Add(item_bias [items+1])--> scores + pad column
 *     --Reshape to [batch * (items+1)]--> --ScatterElements(add, one pass): the neighbour weights
 *       of every seen item (neighbour_items and neighbour_weights [items+1, m] gathered by seen
 *       column, offset by row * (items+1)) and -inf at every seen cell-->
 *     --Reshape back--> --Slice(drop pad column)--> --TopK(k)--> scores, items
 *   The work is proportional to the total length of the histories (seen * m cells), not to
 *   batch * the longest history: one heavy reader no longer makes a whole batch pay for their
 *   history. Invalid seen values, invalid rows and missing neighbours all point at a pad column
 *   (item index itemCount, zero everywhere), sliced off before TopK: no data-dependent branch.
 *
 * Similar-books graph (`exportSimilarItemsOnnx`):
 *   inputs   item_index  int64 [batch]      must be in 0..itemCount-1
 *            k           int64 [1]          clamped to itemCount - 1
 *   outputs  scores      float [batch, k]   cosine similarity of latent factors, best first
 *            items       int64 [batch, k]   never the item itself
 */
import { encodeModel, node, tensor, valueInfo } from '../onnx/builder';
import type { RecommenderModel } from './model';
import { unitItemFactors } from './scoring';

/** A `user_index` for a member without history (any out-of-range value works; this one is documented). */
export const ANONYMOUS_USER_INDEX = -1;

export const RECOMMENDER_TENSORS = {
  inputs: { userIndex: 'user_index', seenItems: 'seen_items', seenRows: 'seen_rows', k: 'k' },
  outputs: { scores: 'scores', items: 'items' },
} as const;

export const SIMILAR_ITEMS_TENSORS = {
  inputs: { itemIndex: 'item_index', k: 'k' },
  outputs: { scores: 'scores', items: 'items' },
} as const;

export interface ExportOptions {
  /** Free text stored in the model's metadata_props (e.g. Shelfmark model name and version). */
  metadata?: Record<string, string>;
}

/** The flat `seen_items` and `seen_rows` inputs for one batch of members' histories. */
export function flattenSeenItems(histories: readonly (readonly number[])[]): { seenItems: number[]; seenRows: number[] } {
  const seenItems: number[] = [];
  const seenRows: number[] = [];
  histories.forEach((history, row) => {
    for (const item of history) {
      seenItems.push(item);
      seenRows.push(row);
    }
  });
  return { seenItems, seenRows };
}

const INT_ATTRIBUTES = { intAttributes: ['axis', 'largest', 'sorted'] };

/** value -> value if 0 <= value < bound, else `replacement` (all int64 scalars given by name). */
export function clampIndexNodes(input: string, bound: string, replacement: string, output: string) {
  return [
    node('Less', [input, 'zero'], [`${output}_below`]),
    node('GreaterOrEqual', [input, bound], [`${output}_above`]),
    node('Or', [`${output}_below`, `${output}_above`], [`${output}_invalid`]),
    node('Where', [`${output}_invalid`, replacement, input], [output]),
  ];
}

/** The recommendations graph's inputs and outputs (RECOMMENDER_TENSORS), shared by every graph that serves Member.recommendations. */
export function recommenderGraphIo() {
  const { inputs, outputs } = RECOMMENDER_TENSORS;
  return {
    inputs: [
      valueInfo(inputs.userIndex, 'int64', ['batch']),
      valueInfo(inputs.seenItems, 'int64', ['seen']),
      valueInfo(inputs.seenRows, 'int64', ['seen']),
      valueInfo(inputs.k, 'int64', [1]),
    ],
    outputs: [valueInfo(outputs.scores, 'float', ['batch', 'k']), valueInfo(outputs.items, 'int64', ['batch', 'k'])],
  };
}

/** Neighbour tables with a pad row (index itemCount): missing neighbours (−1) point at the pad column with weight 0. */
export function paddedNeighbourTables(itemCount: number, m: number, items: Int32Array, weights: ArrayLike<number>): { neighbourItems: number[]; neighbourWeights: Float32Array } {
  const neighbourItems = new Array<number>((itemCount + 1) * m).fill(itemCount);
  const neighbourWeights = new Float32Array((itemCount + 1) * m);
  for (let p = 0; p < itemCount * m; p++) {
    if (items[p]! < 0) continue;
    neighbourItems[p] = items[p]!;
    neighbourWeights[p] = weights[p]!;
  }
  return { neighbourItems, neighbourWeights };
}

/** Encodes the recommendations graph described above. */
export function exportRecommenderOnnx(model: RecommenderModel, options: ExportOptions = {}): Uint8Array {
  const { userCount, itemCount, embeddingSize: e } = model;
  const { inputs, outputs } = RECOMMENDER_TENSORS;
  // Transposed, with one extra all-zero column: the pad column that absorbs padding and
  // invalid seen indices, so ScatterElements never needs a data-dependent branch.
  const itemsTransposed = new Float32Array(e * (itemCount + 1));
  for (let item = 0; item < itemCount; item++) {
    for (let d = 0; d < e; d++) itemsTransposed[d * (itemCount + 1) + item] = model.itemEmbeddings[item * e + d]!;
  }
  const bias = new Float32Array(itemCount + 1);
  bias.set(model.itemBias);
  const m = model.neighbours;
  const { neighbourItems, neighbourWeights } = paddedNeighbourTables(itemCount, m, model.neighbourItems, model.neighbourWeights);
  // One ScatterElements adds the neighbour weights of every seen item and -inf at every seen
  // cell, both as offsets into the flattened [batch * (items+1)] score matrix.
  const neighbourhood =
    m === 0
      ? { initializers: [], nodes: [], indices: [], updates: [] }
      : {
          initializers: [
            tensor('neighbour_items', 'int64', [itemCount + 1, m], neighbourItems),
            tensor('neighbour_weights', 'float', [itemCount + 1, m], neighbourWeights),
            tensor('column_axis', 'int64', [1], [1]),
          ],
          nodes: [
            node('Gather', ['neighbour_items', 'seen_columns'], ['seen_neighbours'], { axis: 0 }, INT_ATTRIBUTES),
            node('Gather', ['neighbour_weights', 'seen_columns'], ['seen_neighbour_weights'], { axis: 0 }, INT_ATTRIBUTES),
            node('Unsqueeze', ['row_offsets', 'column_axis'], ['row_offsets_column']),
            node('Add', ['seen_neighbours', 'row_offsets_column'], ['neighbour_cells']),
            node('Reshape', ['neighbour_cells', 'flat_shape'], ['neighbour_indices']),
            node('Reshape', ['seen_neighbour_weights', 'flat_shape'], ['neighbour_additions']),
          ],
          indices: ['neighbour_indices'],
          updates: ['neighbour_additions'],
        };
  return encodeModel({
    metadata: {
      ...options.metadata,
      anonymous_user_index: String(ANONYMOUS_USER_INDEX),
      item_count: String(itemCount),
      user_count: String(userCount),
    },
    graph: {
      name: 'shelfmark_recommendations',
      ...recommenderGraphIo(),
      initializers: [
        tensor('user_embeddings', 'float', [userCount + 1, e], model.userEmbeddings),
        tensor('item_embeddings_t', 'float', [e, itemCount + 1], itemsTransposed),
        tensor('item_bias', 'float', [itemCount + 1], bias),
        ...neighbourhood.initializers,
        tensor('zero', 'int64', [], [0]),
        tensor('user_count', 'int64', [], [userCount]),
        tensor('item_count', 'int64', [], [itemCount]),
        tensor('row_width', 'int64', [], [itemCount + 1]),
        tensor('item_count_1d', 'int64', [1], [itemCount]),
        tensor('flat_shape', 'int64', [1], [-1]),
        tensor('slice_starts', 'int64', [1], [0]),
        tensor('slice_axes', 'int64', [1], [1]),
      ],
      nodes: [
        ...clampIndexNodes(inputs.userIndex, 'user_count', 'user_count', 'user_row'),
        node('Gather', ['user_embeddings', 'user_row'], ['user_vectors'], { axis: 0 }, INT_ATTRIBUTES),
        node('MatMul', ['user_vectors', 'item_embeddings_t'], ['affinity']),
        node('Add', ['affinity', 'item_bias'], ['padded_scores']),
        node('Shape', ['padded_scores'], ['score_shape']),
        node('Gather', ['score_shape', 'zero'], ['batch_size'], { axis: 0 }, INT_ATTRIBUTES),
        // A seen entry whose row is outside the batch goes to row 0's pad column, which adds nothing.
        ...clampIndexNodes(inputs.seenRows, 'batch_size', 'zero', 'seen_rows_clamped'),
        node('Where', ['seen_rows_clamped_invalid', 'item_count', inputs.seenItems], ['seen_items_in_row']),
        ...clampIndexNodes('seen_items_in_row', 'item_count', 'item_count', 'seen_columns'),
        node('Mul', ['seen_rows_clamped', 'row_width'], ['row_offsets']),
        node('Add', ['row_offsets', 'seen_columns'], ['seen_cells']),
        ...neighbourhood.nodes,
        node('Shape', [inputs.seenItems], ['seen_shape']),
        node('ConstantOfShape', ['seen_shape'], ['exclusions'], { value: tensor('minus_infinity', 'float', [1], [-Infinity]) }),
        node('Concat', [...neighbourhood.indices, 'seen_cells'], ['cell_indices'], { axis: 0 }, INT_ATTRIBUTES),
        node('Concat', [...neighbourhood.updates, 'exclusions'], ['cell_updates'], { axis: 0 }, INT_ATTRIBUTES),
        node('Reshape', ['padded_scores', 'flat_shape'], ['flat_scores']),
        // reduction=add: repeated cells (a book seen twice, pads, shared neighbours) accumulate; -inf stays -inf.
        node('ScatterElements', ['flat_scores', 'cell_indices', 'cell_updates'], ['masked_flat'], { axis: 0, reduction: 'add' }, INT_ATTRIBUTES),
        node('Reshape', ['masked_flat', 'score_shape'], ['masked_padded']),
        node('Slice', ['masked_padded', 'slice_starts', 'item_count_1d', 'slice_axes'], ['masked_scores']),
        node('Min', [inputs.k, 'item_count_1d'], ['k_clamped']),
        node('TopK', ['masked_scores', 'k_clamped'], [outputs.scores, outputs.items], { axis: -1, largest: 1, sorted: 1 }, INT_ATTRIBUTES),
      ],
    },
  });
}

/** Encodes the similar-books graph described above. */
export function exportSimilarItemsOnnx(model: RecommenderModel, options: ExportOptions = {}): Uint8Array {
  const { itemCount, factors: f } = model;
  if (itemCount < 2) throw new RangeError('similar items need at least two items');
  const { inputs, outputs } = SIMILAR_ITEMS_TENSORS;
  const unit = unitItemFactors(model);
  // One copy of the factors, stored transposed: Gather along axis 1 picks the query items'
  // columns and the same tensor is the right-hand side of the MatMul.
  const unitTransposed = new Float32Array(f * itemCount);
  for (let item = 0; item < itemCount; item++) {
    for (let d = 0; d < f; d++) unitTransposed[d * itemCount + item] = unit[item * f + d]!;
  }
  return encodeModel({
    metadata: { ...options.metadata, item_count: String(itemCount) },
    graph: {
      name: 'shelfmark_similar_books',
      inputs: [valueInfo(inputs.itemIndex, 'int64', ['batch']), valueInfo(inputs.k, 'int64', [1])],
      outputs: [valueInfo(outputs.scores, 'float', ['batch', 'k']), valueInfo(outputs.items, 'int64', ['batch', 'k'])],
      initializers: [
        tensor('unit_factors_t', 'float', [f, itemCount], unitTransposed),
        tensor('max_k', 'int64', [1], [itemCount - 1]),
        tensor('unsqueeze_axes', 'int64', [1], [1]),
      ],
      nodes: [
        node('Gather', ['unit_factors_t', inputs.itemIndex], ['query_columns'], { axis: 1 }, INT_ATTRIBUTES),
        node('Transpose', ['query_columns'], ['query_vectors'], { perm: [1, 0] }, { intAttributes: ['perm'] }),
        node('MatMul', ['query_vectors', 'unit_factors_t'], ['similarity']),
        node('Unsqueeze', [inputs.itemIndex, 'unsqueeze_axes'], ['self_column']),
        node('Shape', ['self_column'], ['self_shape']),
        node('ConstantOfShape', ['self_shape'], ['self_exclusion'], { value: tensor('minus_infinity', 'float', [1], [-Infinity]) }),
        node('ScatterElements', ['similarity', 'self_column', 'self_exclusion'], ['similarity_without_self'], { axis: 1 }, INT_ATTRIBUTES),
        node('Min', [inputs.k, 'max_k'], ['k_clamped']),
        node('TopK', ['similarity_without_self', 'k_clamped'], [outputs.scores, outputs.items], { axis: -1, largest: 1, sorted: 1 }, INT_ATTRIBUTES),
      ],
    },
  });
}
