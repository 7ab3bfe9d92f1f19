/**
 * A version's drift references, built from the rows it was trained on: one reference per
 * feature column (in feature-spec order) and one for its score under SCORE_REFERENCE.
 *
 * Contract: the rows are what the serving feature path computes for the training entities
 * (the trainers and `models reference` both hand over exactly those), so a live window built
 * by the same path is compared like with like. Columns are read straight from the row-major
 * matrix, without building one object per row.
 */
import { buildReference, type DriftReferences, type FeatureReference, type FeatureValue } from './drift';

/** The key of the score's reference (a summary of it for list and forecast models). */
export const SCORE_REFERENCE = '__score__';

/** A trainer's rows for the references: a row-major matrix of `names.length` columns, and the score per row. */
export interface ReferenceRows {
  names: readonly string[];
  /** rowCount × names.length values, row-major. */
  values: ArrayLike<number>;
  rowCount: number;
  /** The version's output per row (probability, segment id, top score...), or per entity of its own count. */
  score?: ArrayLike<number> | readonly FeatureValue[];
  /** Further columns that are not tensor inputs but what the model reads (e.g. the genre of each borrowed book). */
  extra?: Record<string, readonly FeatureValue[]>;
}

function column(rows: ReferenceRows, j: number): number[] {
  const d = rows.names.length;
  const values = new Array<number>(rows.rowCount);
  for (let i = 0; i < rows.rowCount; i++) values[i] = rows.values[i * d + j] ?? NaN;
  return values;
}

function referenceOf(name: string, values: readonly FeatureValue[]): FeatureReference {
  try {
    return buildReference(values);
  } catch (error) {
    throw new Error(`drift reference of ${name}: ${(error as Error).message}`);
  }
}

/** References of every column, the extras and the score. A column with no value at all is an error. */
export function referencesFromRows(rows: ReferenceRows): DriftReferences {
  if (rows.values.length !== rows.rowCount * rows.names.length) {
    throw new Error(`drift reference rows: ${rows.values.length} values for ${rows.rowCount} rows of ${rows.names.length} features`);
  }
  const features: Record<string, FeatureReference> = {};
  rows.names.forEach((name, j) => (features[name] = referenceOf(name, column(rows, j))));
  for (const [name, values] of Object.entries(rows.extra ?? {})) features[name] = referenceOf(name, values);
  if (rows.score !== undefined) features[SCORE_REFERENCE] = referenceOf(SCORE_REFERENCE, Array.from(rows.score as ArrayLike<FeatureValue>));
  return { features };
}
