/**
 * Per-segment summary for the graph's segment overview and the model card.
 *
 * Contract: `segmentProfiles(model, rows)` assigns the rows with the model and returns one
 * profile per segment, in id order, including segments no row fell into (size 0). Centroids
 * are in original units: for a log1p feature that is the geometric-style centre expm1(mean of
 * log1p), which is why the arithmetic mean of the members is given beside it.
 */
import { type FeatureRows, toMatrix } from './matrix';
import type { SegmentationModel } from './model';

export interface SegmentProfile {
  id: number;
  name: string;
  description: string;
  size: number;
  /** size / rows, 0 when there are no rows. */
  share: number;
  /** Centroid in original units, by feature name. */
  centroid: Record<string, number>;
  /** Arithmetic mean of the segment's rows in original units; null for an empty segment. */
  memberMeans: Record<string, number> | null;
}

export function segmentProfiles(model: SegmentationModel, rows: FeatureRows): SegmentProfile[] {
  const names = model.features.map((f) => f.name);
  const ids = model.assign(rows);
  const raw = toMatrix(rows, names);
  const d = names.length;
  const sizes = new Array<number>(model.k).fill(0);
  const sums = Array.from({ length: model.k }, () => new Array<number>(d).fill(0));
  ids.forEach((id, i) => {
    sizes[id]! += 1;
    for (let j = 0; j < d; j++) sums[id]![j]! += raw.data[i * d + j]!;
  });
  const centroids = model.centroidsInOriginalUnits();
  const byName = (values: readonly number[]): Record<string, number> => Object.fromEntries(names.map((n, j) => [n, values[j]!]));
  return model.segments.map((s) => ({
    id: s.id,
    name: s.name,
    description: s.description,
    size: sizes[s.id]!,
    share: rows.length > 0 ? sizes[s.id]! / rows.length : 0,
    centroid: byName(centroids[s.id]!),
    memberMeans: sizes[s.id]! > 0 ? byName(sums[s.id]!.map((v) => v / sizes[s.id]!)) : null,
  }));
}
