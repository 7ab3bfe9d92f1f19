/**
 * The row-major matrix the segmentation code computes on, and the one place where caller rows
 * are checked. Contract: `toMatrix` either returns a matrix whose every cell is a finite number
 * and whose width is the feature count, or throws an error that names the row, the column and
 * what was expected, so a bad feature extract is found at its source rather than as a NaN
 * centroid three steps later.
 */

/** n rows of d values, row-major in one Float64Array so the inner loops stay cache-friendly. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

/** Rows as the caller holds them: one array of feature values per member, in feature order. */
export type FeatureRows = ReadonlyArray<ArrayLike<number>>;

export function toMatrix(rows: FeatureRows, columnNames: readonly string[], what = 'segmentation features'): Matrix {
  const cols = columnNames.length;
  const data = new Float64Array(rows.length * cols);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    if (row.length !== cols) {
      throw new Error(
        `${what}: row ${i} has ${row.length} values, expected ${cols} (${columnNames.join(', ')})`,
      );
    }
    for (let j = 0; j < cols; j++) {
      const v = row[j]!;
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new Error(`${what}: row ${i}, column '${columnNames[j]}' is ${String(v)}; expected a finite number`);
      }
      data[i * cols + j] = v;
    }
  }
  return { rows: rows.length, cols, data };
}

/** Squared Euclidean distance between row `i` of `a` and row `j` of `b` (same width). */
export function squaredDistance(a: Float64Array, i: number, b: Float64Array, j: number, d: number): number {
  let s = 0;
  const ai = i * d;
  const bj = j * d;
  for (let c = 0; c < d; c++) {
    const diff = a[ai + c]! - b[bj + c]!;
    s += diff * diff;
  }
  return s;
}
