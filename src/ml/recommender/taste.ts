/**
 * The shelf-taste recommender: a member is scored from their history alone, as a member the
 * version does not know is, so what is evaluated is what is served.
 *
 * Scoring contract (the exported graph computes exactly this, in float32), for a member whose
 * history H has n valid items (each once), c(s) of them on shelf s:
 *
 *   score(i) = scale · [ (c(shelf i) + β·π(shelf i)) / (n + β) · share(i)
 *                        + (1 / max(n, 1)) · Σ_{j ∈ H} N[j][i] ]
 *
 * - shelf = the book's collection and genre (e.g. "Large Print|Romance"); π(s) = the share of
 *   all member-book pairs on shelf s; β = `priorStrength`, so a member without history is
 *   ranked by π(s)·share(i), i.e. by popularity;
 * - share(i) = (1 − authorWeight) · the book's share of its shelf's popularity (distinct
 *   borrowers + 1, or catalogue ratings^γ when `catalogueExponent` is set);
 * - N[j][i] = authorWeight / (books by j's first author) when i has that author, plus
 *   coBorrowingWeight · the shrunk cosine of j and i over members (item-kNN); each item keeps
 *   at most `neighbours` such entries, the strongest first;
 * - scale = itemCount: ranking is unchanged, and scores are O(1) so float32 parity and the
 *   parity file's tie gap mean something.
 *
 * Every setting is chosen on validation folds inside the training window (src/training).
 */
import { encodeModel, node, tensor } from '../onnx/builder';
import { fitItemKnn, type ItemKnn } from './item-knn';
import { clampIndexNodes, paddedNeighbourTables, RECOMMENDER_TENSORS, recommenderGraphIo, type ExportOptions } from './onnx-export';
import { exclusionMask, selectTopK, type RankedItems } from './scoring';
import type { SparseRows } from './sparse-rows';

/** What the catalogue says about each item (catalogue order). */
export interface ShelfCatalogue {
  /** Shelf index of each item, 0..shelfCount−1. */
  itemShelf: Int32Array;
  shelfCount: number;
  /** First author of each ordinary-print item as an index, −1 for none (DVDs, large print). */
  itemAuthor: Int32Array;
  /** Catalogue ratings count of each item (goodbooks-10k). */
  ratingsCount: Float64Array;
}

export interface TasteSettings {
  /** null: an item's share of its shelf by distinct borrowers (+1); a number γ: by ratings^γ. */
  catalogueExponent: number | null;
  /** β: pseudo-count of the library's shelf mix in a member's own. */
  priorStrength: number;
  authorWeight: number;
  coBorrowingWeight: number;
  /** Item-kNN shrinkage (co-takers / (√(takers_i · takers_j) + shrinkage)). */
  shrinkage: number;
}

export const DEFAULT_TASTE_SETTINGS: TasteSettings = { catalogueExponent: null, priorStrength: 1, authorWeight: 0.15, coBorrowingWeight: 0, shrinkage: 20 };

/** Same-author entries and co-borrowed entries kept per item (before merging). */
export const AUTHOR_NEIGHBOURS = 40;
export const CO_BORROWED_NEIGHBOURS = 20;

export interface TasteModel {
  itemCount: number;
  shelfCount: number;
  itemShelf: Int32Array;
  /** β·π(s), per shelf. */
  shelfPrior: Float32Array;
  priorStrength: number;
  /** scale · share(i). */
  itemShare: Float32Array;
  /** Entries per item in neighbourItems / neighbourWeights. */
  neighbours: number;
  /** itemCount × neighbours, strongest first; −1 where an item has fewer. */
  neighbourItems: Int32Array;
  /** Same shape: scale · N[j][i]. */
  neighbourWeights: Float32Array;
  /** Per item, its co-borrowed items (shrunk cosine), strongest first: the evidence reasons may cite. */
  coBorrowed: number[][];
  settings: TasteSettings;
}

/** Fits the shelf-taste model to members' histories (`rows`: members × items, any weights). */
export function fitTasteModel(
  rows: SparseRows,
  catalogue: ShelfCatalogue,
  settings: TasteSettings,
  knn: ItemKnn = fitItemKnn(rows, { neighbours: CO_BORROWED_NEIGHBOURS, shrinkage: settings.shrinkage }),
): TasteModel {
  const itemCount = rows.columns;
  const { itemShelf, shelfCount, itemAuthor, ratingsCount } = catalogue;
  if (itemShelf.length !== itemCount || itemAuthor.length !== itemCount || ratingsCount.length !== itemCount) {
    throw new RangeError(`the catalogue describes ${itemShelf.length} items, the histories ${itemCount}`);
  }
  if (!(settings.priorStrength > 0)) throw new RangeError(`priorStrength must be > 0, got ${settings.priorStrength}`);
  if (!(settings.authorWeight >= 0 && settings.authorWeight < 1)) throw new RangeError(`authorWeight must be in [0, 1), got ${settings.authorWeight}`);
  if (!(settings.coBorrowingWeight >= 0)) throw new RangeError(`coBorrowingWeight must be >= 0, got ${settings.coBorrowingWeight}`);
  const scale = itemCount;
  const borrowers = new Float64Array(itemCount);
  for (const item of rows.column) borrowers[item]! += 1;
  const shelfPairs = new Float64Array(shelfCount);
  for (let i = 0; i < itemCount; i++) shelfPairs[itemShelf[i]!]! += borrowers[i]!;
  const pairs = rows.column.length;
  const shelfPrior = Float32Array.from(shelfPairs, (p) => (pairs > 0 ? (settings.priorStrength * p) / pairs : settings.priorStrength / shelfCount));

  const weight = Float64Array.from(borrowers, (b, i) =>
    settings.catalogueExponent === null ? b + 1 : Math.pow(Math.max(1, ratingsCount[i]!), settings.catalogueExponent),
  );
  const shelfTotal = new Float64Array(shelfCount);
  for (let i = 0; i < itemCount; i++) shelfTotal[itemShelf[i]!]! += weight[i]!;
  const itemShare = Float32Array.from(weight, (w, i) => (scale * (1 - settings.authorWeight) * w) / shelfTotal[itemShelf[i]!]!);

  const byAuthor = new Map<number, number[]>();
  itemAuthor.forEach((author, i) => {
    if (author < 0) return;
    const list = byAuthor.get(author);
    if (list) list.push(i);
    else byAuthor.set(author, [i]);
  });
  // The author's books most likely to be picked first, so a capped list keeps the likeliest.
  for (const list of byAuthor.values()) list.sort((a, b) => weight[b]! - weight[a]! || a - b);
  if (knn.neighbours !== CO_BORROWED_NEIGHBOURS) throw new RangeError(`the item-kNN keeps ${knn.neighbours} neighbours; the model reads ${CO_BORROWED_NEIGHBOURS}`);
  const coBorrowed = Array.from({ length: itemCount }, (_, j) => {
    const row: number[] = [];
    for (let m = 0; m < CO_BORROWED_NEIGHBOURS; m++) {
      const i = knn.items[j * CO_BORROWED_NEIGHBOURS + m]!;
      if (i < 0) break;
      row.push(i);
    }
    return row;
  });

  const merged: [number, number][][] = [];
  let width = 0;
  for (let j = 0; j < itemCount; j++) {
    const entries = new Map<number, number>();
    const author = itemAuthor[j]!;
    if (settings.authorWeight > 0 && author >= 0) {
      const books = byAuthor.get(author)!;
      let kept = 0;
      for (const i of books) {
        if (kept === AUTHOR_NEIGHBOURS) break;
        if (i === j) continue;
        entries.set(i, (scale * settings.authorWeight) / books.length);
        kept++;
      }
    }
    if (settings.coBorrowingWeight > 0) {
      for (let m = 0; m < CO_BORROWED_NEIGHBOURS; m++) {
        const i = knn.items[j * CO_BORROWED_NEIGHBOURS + m]!;
        if (i < 0) break;
        entries.set(i, (entries.get(i) ?? 0) + scale * settings.coBorrowingWeight * knn.similarities[j * CO_BORROWED_NEIGHBOURS + m]!);
      }
    }
    const row = [...entries].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    merged.push(row);
    width = Math.max(width, row.length);
  }
  const neighbours = Math.max(1, width);
  const neighbourItems = new Int32Array(itemCount * neighbours).fill(-1);
  const neighbourWeights = new Float32Array(itemCount * neighbours);
  merged.forEach((row, j) =>
    row.forEach(([i, w], m) => {
      neighbourItems[j * neighbours + m] = i;
      neighbourWeights[j * neighbours + m] = w;
    }),
  );
  return { itemCount, shelfCount, itemShelf, shelfPrior, priorStrength: settings.priorStrength, itemShare, neighbours, neighbourItems, neighbourWeights, coBorrowed, settings };
}

/** Scores of every item for a member whose history is `history` (indices outside the catalogue ignored), in float32 steps like the graph. */
export function tasteScores(model: TasteModel, history: Iterable<number>, out = new Float64Array(model.itemCount)): Float64Array {
  const { itemCount, shelfCount, neighbours } = model;
  const valid = [...history].filter((j) => Number.isInteger(j) && j >= 0 && j < itemCount);
  const counts = new Float64Array(shelfCount);
  for (const j of valid) counts[model.itemShelf[j]!]! += 1;
  const share = new Float64Array(shelfCount);
  for (let s = 0; s < shelfCount; s++) share[s] = Math.fround(Math.fround(counts[s]! + model.shelfPrior[s]!) / Math.fround(valid.length + model.priorStrength));
  for (let i = 0; i < itemCount; i++) out[i] = Math.fround(share[model.itemShelf[i]!]! * model.itemShare[i]!);
  const inverse = Math.fround(1 / Math.max(valid.length, 1));
  for (const j of valid) {
    for (let m = 0; m < neighbours; m++) {
      const i = model.neighbourItems[j * neighbours + m]!;
      if (i < 0) break;
      out[i]! += Math.fround(model.neighbourWeights[j * neighbours + m]! * inverse);
    }
  }
  return out;
}

/** The member's top k items, never one in `seen` (which is also the history scored). */
export function tasteTopK(model: TasteModel, seen: Iterable<number>, k: number): RankedItems {
  const history = [...seen];
  return selectTopK(tasteScores(model, history), k, exclusionMask(model.itemCount, history));
}

/**
 * Encodes the shelf-taste model with the recommendations graph's inputs and outputs
 * (RECOMMENDER_TENSORS; `user_index` is read for the batch size only: every member is scored
 * from their history). Item index itemCount is a pad column (shelf `shelfCount`, zero share)
 * that invalid seen entries and missing neighbours point at, sliced off before TopK.
 *
 *   counts [batch, S+1] = ScatterElements(add) of 1 at row·(S+1) + shelf(seen item)
 *   n [batch]           = ScatterElements(add) of 1 per valid seen item
 *   share               = (counts + β·π) / (n + β)   --Gather(item_shelf, axis 1)--> × item_share
 *   then ScatterElements(add) of scale·N[j] / max(n, 1) and −inf at seen cells, Slice, TopK.
 */
export function exportTasteOnnx(model: TasteModel, options: ExportOptions = {}): Uint8Array {
  const { itemCount, shelfCount: S, neighbours: m } = model;
  const { inputs, outputs } = RECOMMENDER_TENSORS;
  const itemShelf = [...model.itemShelf, S];
  const shelfPrior = new Float32Array(S + 1);
  shelfPrior.set(model.shelfPrior);
  const itemShare = new Float32Array(itemCount + 1);
  itemShare.set(model.itemShare);
  const { neighbourItems, neighbourWeights } = paddedNeighbourTables(itemCount, m, model.neighbourItems, model.neighbourWeights);
  const INT = { intAttributes: ['axis', 'largest', 'sorted'] };
  const minusInfinity = tensor('minus_infinity', 'float', [1], [-Infinity]);
  return encodeModel({
    metadata: { ...options.metadata, item_count: String(itemCount), shelf_count: String(S), scored_from: 'history' },
    graph: {
      name: 'shelfmark_recommendations_taste',
      ...recommenderGraphIo(),
      initializers: [
        tensor('item_shelf', 'int64', [itemCount + 1], itemShelf),
        tensor('shelf_prior', 'float', [S + 1], shelfPrior),
        tensor('item_share', 'float', [itemCount + 1], itemShare),
        tensor('neighbour_items', 'int64', [itemCount + 1, m], neighbourItems),
        tensor('neighbour_weights', 'float', [itemCount + 1, m], neighbourWeights),
        tensor('prior_strength', 'float', [], [model.priorStrength]),
        tensor('one_float', 'float', [], [1]),
        tensor('zero', 'int64', [], [0]),
        tensor('item_count', 'int64', [], [itemCount]),
        tensor('row_width', 'int64', [], [itemCount + 1]),
        tensor('shelf_width', 'int64', [], [S + 1]),
        tensor('shelf_width_1d', 'int64', [1], [S + 1]),
        tensor('row_width_1d', 'int64', [1], [itemCount + 1]),
        tensor('item_count_1d', 'int64', [1], [itemCount]),
        tensor('flat_shape', 'int64', [1], [-1]),
        tensor('column_axis', 'int64', [1], [1]),
        tensor('slice_starts', 'int64', [1], [0]),
        tensor('slice_axes', 'int64', [1], [1]),
      ],
      nodes: [
        node('Shape', [inputs.userIndex], ['batch_1d']),
        node('Squeeze', ['batch_1d'], ['batch_size']),
        ...clampIndexNodes(inputs.seenRows, 'batch_size', 'zero', 'seen_rows_clamped'),
        node('Where', ['seen_rows_clamped_invalid', 'item_count', inputs.seenItems], ['seen_items_in_row']),
        ...clampIndexNodes('seen_items_in_row', 'item_count', 'item_count', 'seen_columns'),
        node('Not', ['seen_columns_invalid'], ['seen_valid']),
        node('Cast', ['seen_valid'], ['seen_ones'], { to: 1 }, { intAttributes: ['to'] }),
        // n per row, and 1 / max(n, 1) per seen entry.
        node('ConstantOfShape', ['batch_1d'], ['zeros_batch'], { value: tensor('zero_float', 'float', [1], [0]) }),
        node('ScatterElements', ['zeros_batch', 'seen_rows_clamped', 'seen_ones'], ['history_length'], { axis: 0, reduction: 'add' }, INT),
        node('Max', ['history_length', 'one_float'], ['history_floor']),
        node('Reciprocal', ['history_floor'], ['history_inverse']),
        node('Gather', ['history_inverse', 'seen_rows_clamped'], ['seen_inverse'], { axis: 0 }, INT),
        // Shelf counts per row, the member's smoothed shelf mix, and each item's shelf term.
        node('Gather', ['item_shelf', 'seen_columns'], ['seen_shelves']),
        node('Mul', ['seen_rows_clamped', 'shelf_width'], ['shelf_row_offsets']),
        node('Add', ['shelf_row_offsets', 'seen_shelves'], ['shelf_cells']),
        node('Mul', ['batch_1d', 'shelf_width_1d'], ['shelf_cells_total']),
        node('ConstantOfShape', ['shelf_cells_total'], ['zeros_shelves'], { value: tensor('zero_float_s', 'float', [1], [0]) }),
        node('ScatterElements', ['zeros_shelves', 'shelf_cells', 'seen_ones'], ['flat_counts'], { axis: 0, reduction: 'add' }, INT),
        node('Concat', ['batch_1d', 'shelf_width_1d'], ['counts_shape'], { axis: 0 }, INT),
        node('Reshape', ['flat_counts', 'counts_shape'], ['shelf_counts']),
        node('Add', ['shelf_counts', 'shelf_prior'], ['smoothed_counts']),
        node('Add', ['history_length', 'prior_strength'], ['smoothed_length']),
        node('Unsqueeze', ['smoothed_length', 'column_axis'], ['smoothed_length_column']),
        node('Div', ['smoothed_counts', 'smoothed_length_column'], ['shelf_mix']),
        node('Gather', ['shelf_mix', 'item_shelf'], ['item_shelf_mix'], { axis: 1 }, INT),
        node('Mul', ['item_shelf_mix', 'item_share'], ['padded_scores']),
        // Neighbour weights of every seen item over max(n, 1), and −inf at seen cells.
        node('Mul', ['seen_rows_clamped', 'row_width'], ['row_offsets']),
        node('Add', ['row_offsets', 'seen_columns'], ['seen_cells']),
        node('Gather', ['neighbour_items', 'seen_columns'], ['seen_neighbours'], { axis: 0 }, INT),
        node('Gather', ['neighbour_weights', 'seen_columns'], ['seen_neighbour_weights'], { axis: 0 }, INT),
        node('Unsqueeze', ['seen_inverse', 'column_axis'], ['seen_inverse_column']),
        node('Mul', ['seen_neighbour_weights', 'seen_inverse_column'], ['seen_neighbour_scores']),
        node('Unsqueeze', ['row_offsets', 'column_axis'], ['row_offsets_column']),
        node('Add', ['seen_neighbours', 'row_offsets_column'], ['neighbour_cells']),
        node('Reshape', ['neighbour_cells', 'flat_shape'], ['neighbour_indices']),
        node('Reshape', ['seen_neighbour_scores', 'flat_shape'], ['neighbour_additions']),
        node('Shape', [inputs.seenItems], ['seen_shape']),
        node('ConstantOfShape', ['seen_shape'], ['exclusions'], { value: minusInfinity }),
        node('Concat', ['neighbour_indices', 'seen_cells'], ['cell_indices'], { axis: 0 }, INT),
        node('Concat', ['neighbour_additions', 'exclusions'], ['cell_updates'], { axis: 0 }, INT),
        node('Reshape', ['padded_scores', 'flat_shape'], ['flat_scores']),
        node('ScatterElements', ['flat_scores', 'cell_indices', 'cell_updates'], ['masked_flat'], { axis: 0, reduction: 'add' }, INT),
        node('Concat', ['batch_1d', 'row_width_1d'], ['score_shape'], { axis: 0 }, INT),
        node('Reshape', ['masked_flat', 'score_shape'], ['masked_padded']),
        node('Slice', ['masked_padded', 'slice_starts', 'item_count_1d', 'slice_axes'], ['masked_scores']),
        node('Min', [inputs.k, 'item_count_1d'], ['k_clamped']),
        node('TopK', ['masked_scores', 'k_clamped'], [outputs.scores, outputs.items], { axis: -1, largest: 1, sorted: 1 }, INT),
      ],
    },
  });
}
