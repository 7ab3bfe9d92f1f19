/**
 * Standardisation of segmentation features: optional log1p per feature, then (x - mean) / std,
 * times the feature's weight.
 *
 * Contract: `fitStandardiser` learns means and standard deviations (population, on the
 * transformed values) from training rows; `standardise` applies exactly that transform to any
 * rows; `unstandardise` maps standardised points (centroids) back to original units. The fitted
 * `Standardiser` is plain data, so it can sit in metadata.json and be rebuilt into an ONNX graph.
 */
import { type FeatureRows, type Matrix, toMatrix } from './matrix';

/**
 * What a column means to segment naming, in the library's words. recency = days since the last
 * loan (lower is better), frequency = loans in the last 12 months, monetary = a value proxy the
 * caller picks (distinct titles, loan-days, ...), engagement = trend of monthly loans (positive
 * is growing), tenure = days since joining.
 */
export type FeatureRole = 'recency' | 'frequency' | 'monetary' | 'engagement' | 'tenure';

export const FEATURE_ROLES: readonly FeatureRole[] = ['recency', 'frequency', 'monetary', 'engagement', 'tenure'];

export interface SegmentFeature {
  /** The column's name as the caller's feature spec has it, e.g. 'daysSinceLastLoan'. */
  name: string;
  /** Its meaning for segment naming; a column without a role still shapes the clusters. */
  role?: FeatureRole;
  /** Take log(1 + x) before standardising: for heavy-tailed counts such as loans or days. */
  log1p?: boolean;
  /**
   * Multiplies the standardised column (default 1): how much a standard deviation of this
   * feature counts in the distance k-means minimises, against one of the others.
   */
  weight?: number;
}

/** A feature's weight in the distance: 1 unless set. */
export function featureWeight(f: SegmentFeature): number {
  return f.weight ?? 1;
}

export interface Standardiser {
  features: SegmentFeature[];
  /** Mean of each (transformed) column over the training rows. */
  means: number[];
  /** Population standard deviation of each (transformed) column; 1 where a column is constant. */
  stds: number[];
}

export function validateFeatures(features: readonly SegmentFeature[]): void {
  if (features.length === 0) throw new Error('segmentation features: at least one feature is needed');
  const names = new Set<string>();
  const roles = new Set<FeatureRole>();
  for (const f of features) {
    if (!f.name) throw new Error('segmentation features: every feature needs a name');
    if (names.has(f.name)) throw new Error(`segmentation features: feature '${f.name}' appears twice`);
    names.add(f.name);
    if (f.weight !== undefined && !(Number.isFinite(f.weight) && f.weight > 0)) {
      throw new Error(`segmentation features: '${f.name}' has weight ${f.weight}; a weight must be a finite number above 0`);
    }
    if (f.role !== undefined) {
      if (!FEATURE_ROLES.includes(f.role)) {
        throw new Error(`segmentation features: '${f.name}' has role '${String(f.role)}', expected one of ${FEATURE_ROLES.join(', ')}`);
      }
      // Naming reads one column per role; two would leave the rules ambiguous.
      if (roles.has(f.role)) throw new Error(`segmentation features: role '${f.role}' is given to more than one feature`);
      roles.add(f.role);
    }
  }
}

/** Checks the rows and applies log1p in place where configured, so every caller sees one rule. */
export function transformedMatrix(features: readonly SegmentFeature[], rows: FeatureRows): Matrix {
  const names = features.map((f) => f.name);
  const m = toMatrix(rows, names);
  const d = m.cols;
  for (let j = 0; j < d; j++) {
    if (!features[j]!.log1p) continue;
    for (let i = 0; i < m.rows; i++) {
      const v = m.data[i * d + j]!;
      if (v <= -1) {
        throw new Error(`segmentation features: row ${i}, column '${names[j]}' is ${v}; log1p needs values above -1`);
      }
      m.data[i * d + j] = Math.log1p(v);
    }
  }
  return m;
}

export function fitStandardiser(features: readonly SegmentFeature[], rows: FeatureRows): Standardiser {
  validateFeatures(features);
  if (rows.length < 2) throw new Error(`segmentation features: need at least 2 rows to standardise, got ${rows.length}`);
  const m = transformedMatrix(features, rows);
  const d = m.cols;
  const means = new Array<number>(d).fill(0);
  const stds = new Array<number>(d).fill(0);
  for (let j = 0; j < d; j++) {
    let sum = 0;
    for (let i = 0; i < m.rows; i++) sum += m.data[i * d + j]!;
    const mean = sum / m.rows;
    // Two-pass variance: counts of days reach thousands, and one-pass sums would lose digits.
    let ss = 0;
    for (let i = 0; i < m.rows; i++) {
      const diff = m.data[i * d + j]! - mean;
      ss += diff * diff;
    }
    const std = Math.sqrt(ss / m.rows);
    means[j] = mean;
    // A constant column carries no information; dividing by 1 keeps it at 0 instead of NaN.
    stds[j] = std > 1e-12 ? std : 1;
  }
  return { features: features.map((f) => ({ ...f })), means, stds };
}

/** Rows in standardised units (log1p where configured, then centred, scaled and weighted). */
export function standardiseMatrix(s: Standardiser, rows: FeatureRows): Matrix {
  const m = transformedMatrix(s.features, rows);
  const d = m.cols;
  const weights = s.features.map(featureWeight);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < d; j++) m.data[i * d + j] = ((m.data[i * d + j]! - s.means[j]!) / s.stds[j]!) * weights[j]!;
  }
  return m;
}

export function standardise(s: Standardiser, rows: FeatureRows): number[][] {
  const m = standardiseMatrix(s, rows);
  return Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
}

/** A standardised (weighted) point back in original units (expm1 undoes log1p). */
export function unstandardise(s: Standardiser, point: ArrayLike<number>): number[] {
  return s.features.map((f, j) => {
    const v = (point[j]! / featureWeight(f)) * s.stds[j]! + s.means[j]!;
    return f.log1p ? Math.expm1(v) : v;
  });
}
