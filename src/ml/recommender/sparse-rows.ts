/**
 * Interactions as sparse rows: grouped by member (or, transposed, by item), each row's items
 * sorted and repeated (member, item) pairs summed into one. The ALS half-steps, the
 * neighbourhood and the validation split all read this one shape.
 */
import { Random } from '../../util/random';
import type { Interaction, InteractionColumns, RecommenderTrainingData } from './model';

export interface SparseRows {
  rows: number;
  columns: number;
  rowStart: Int32Array;
  column: Int32Array;
  weight: Float64Array;
}

/** The interactions as columns: `Interaction[]` copied into them, columns as they are. */
function asColumns({ interactions, userCount, itemCount }: RecommenderTrainingData): InteractionColumns {
  if (!Array.isArray(interactions)) return interactions as InteractionColumns;
  const list = interactions as readonly Interaction[];
  const columns = { userIndex: new Int32Array(list.length), itemIndex: new Int32Array(list.length), weight: new Float64Array(list.length) };
  list.forEach(({ userIndex, itemIndex, weight }, position) => {
    // Checked before the copy: a fractional or huge index must not be truncated into range.
    assertInteraction(position, userIndex, itemIndex, weight, userCount, itemCount);
    columns.userIndex[position] = userIndex;
    columns.itemIndex[position] = itemIndex;
    columns.weight[position] = weight;
  });
  return columns;
}

function assertInteraction(position: number, userIndex: number, itemIndex: number, weight: number, userCount: number, itemCount: number): void {
  if (!Number.isInteger(userIndex) || userIndex < 0 || userIndex >= userCount) {
    throw new RangeError(`interaction ${position}: userIndex ${userIndex} is outside 0..${userCount - 1}`);
  }
  if (!Number.isInteger(itemIndex) || itemIndex < 0 || itemIndex >= itemCount) {
    throw new RangeError(`interaction ${position}: itemIndex ${itemIndex} is outside 0..${itemCount - 1}`);
  }
  if (!(weight > 0) || !Number.isFinite(weight)) throw new RangeError(`interaction ${position}: weight must be a positive number, got ${weight}`);
}

/**
 * Validates the interactions (indices in range, weights > 0) and groups them by member. Holds
 * typed arrays only, a few times 16 bytes an interaction.
 */
export function buildUserRows(data: RecommenderTrainingData): SparseRows {
  const { userCount, itemCount } = data;
  const { userIndex: users, itemIndex: itemsOf, weight: weightsOf } = asColumns(data);
  if (users.length !== itemsOf.length || users.length !== weightsOf.length) {
    throw new RangeError(`interaction columns differ in length: ${users.length} users, ${itemsOf.length} items, ${weightsOf.length} weights`);
  }
  const n = users.length;
  const counts = new Int32Array(userCount + 1);
  for (let position = 0; position < n; position++) {
    assertInteraction(position, users[position]!, itemsOf[position]!, weightsOf[position]!, userCount, itemCount);
    counts[users[position]! + 1]! += 1;
  }
  for (let u = 0; u < userCount; u++) counts[u + 1]! += counts[u]!;
  const fill = counts.slice(0, userCount);
  const items = new Int32Array(n);
  const weights = new Float64Array(n);
  for (let position = 0; position < n; position++) {
    const slot = fill[users[position]!]!++;
    items[slot] = itemsOf[position]!;
    weights[slot] = weightsOf[position]!;
  }
  // Sort each member's items and merge repeats.
  const rowStart = new Int32Array(userCount + 1);
  const column = new Int32Array(n);
  const weight = new Float64Array(n);
  let length = 0;
  for (let u = 0; u < userCount; u++) {
    const start = counts[u]!;
    const end = counts[u + 1]!;
    const order = Array.from({ length: end - start }, (_, p) => start + p).sort((a, b) => items[a]! - items[b]! || a - b);
    for (const slot of order) {
      if (length > rowStart[u]! && column[length - 1] === items[slot]) weight[length - 1]! += weights[slot]!;
      else {
        column[length] = items[slot]!;
        weight[length] = weights[slot]!;
        length++;
      }
    }
    rowStart[u + 1] = length;
  }
  return { rows: userCount, columns: itemCount, rowStart, column: column.slice(0, length), weight: weight.slice(0, length) };
}

export function transpose(m: SparseRows): SparseRows {
  const rowStart = new Int32Array(m.columns + 1);
  for (let p = 0; p < m.column.length; p++) rowStart[m.column[p]! + 1]! += 1;
  for (let c = 0; c < m.columns; c++) rowStart[c + 1]! += rowStart[c]!;
  const fill = rowStart.slice(0, m.columns);
  const column = new Int32Array(m.column.length);
  const weight = new Float64Array(m.column.length);
  for (let r = 0; r < m.rows; r++) {
    for (let p = m.rowStart[r]!; p < m.rowStart[r + 1]!; p++) {
      const slot = fill[m.column[p]!]!++;
      column[slot] = r;
      weight[slot] = m.weight[p]!;
    }
  }
  return { rows: m.columns, columns: m.rows, rowStart, column, weight };
}

export interface ValidationSplit {
  training: SparseRows;
  heldOut: Map<number, Set<number>>;
}

/**
 * Holds out round(fraction * n) (at least 1) of the items of each member with 2 or more,
 * seeded: the slice the blend weights are tuned on.
 */
export function splitForValidation(userRows: SparseRows, fraction: number, seed: number): ValidationSplit {
  const random = new Random(seed ^ 0x5bd1e995);
  const heldOut = new Map<number, Set<number>>();
  const rowStart = new Int32Array(userRows.rows + 1);
  // Typed from the start (at most every interaction stays): a library's worth of interactions
  // pushed onto JS arrays held about twice the bytes, on V8's limited heap.
  const column = new Int32Array(userRows.column.length);
  const weight = new Float64Array(userRows.column.length);
  let length = 0;
  for (let u = 0; u < userRows.rows; u++) {
    const start = userRows.rowStart[u]!;
    const count = userRows.rowStart[u + 1]! - start;
    const positions = Array.from({ length: count }, (_, p) => start + p);
    let hidden = new Set<number>();
    if (count >= 2) {
      const hide = Math.max(1, Math.round(fraction * count));
      hidden = new Set(random.shuffle(positions.slice()).slice(0, hide));
      heldOut.set(u, new Set([...hidden].map((p) => userRows.column[p]!)));
    }
    for (const p of positions) {
      if (hidden.has(p)) continue;
      column[length] = userRows.column[p]!;
      weight[length] = userRows.weight[p]!;
      length++;
    }
    rowStart[u + 1] = length;
  }
  return {
    training: { rows: userRows.rows, columns: userRows.columns, rowStart, column: column.slice(0, length), weight: weight.slice(0, length) },
    heldOut,
  };
}
