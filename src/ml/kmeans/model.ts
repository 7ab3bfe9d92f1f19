/**
 * The member segmentation model: standardiser + centroids + named segments, and its trainer.
 *
 * Contract: `trainSegmentation(rows, { features, seed })` is deterministic for the data and the
 * seed. Segment ids are positions in `segments`, ordered as the names are in SEGMENT_RULES, so a
 * retrain that finds the same clusters gives the same member the same id and the same name
 * whatever its seed. `assign` and `distances` are the reference the ONNX export is checked
 * against. The model is plain data underneath (`toJSON` / `fromJSON`) for metadata.json.
 */
import { type KMeansFit, DEFAULT_MAX_ITER, DEFAULT_N_INIT, centroidDistances, fitKMeans, nearestCentroids } from './kmeans';
import { type FeatureRows, type Matrix } from './matrix';
import { MAX_SEGMENTS, SEGMENT_RULES, describeSegment, nameCentroids } from './naming';
import { type KCandidate, DEFAULT_SILHOUETTE_SAMPLE, chooseK, silhouetteOnSample } from './silhouette';
import {
  type SegmentFeature,
  type Standardiser,
  fitStandardiser,
  standardiseMatrix,
  unstandardise,
  validateFeatures,
} from './standardise';

/**
 * Six segments unless asked otherwise: the library's outreach is planned around six groups
 * (Champions, Loyal, New, At Risk, Hibernating, Occasional), and the silhouette on real RFM
 * data tends to prefer two or three broad blobs that no one can act on.
 */
export const DEFAULT_SEGMENT_COUNT = 6;
export const DEFAULT_K_RANGE: readonly [number, number] = [3, MAX_SEGMENTS];

export interface SegmentationTrainOptions {
  features: SegmentFeature[];
  seed: number;
  /** A fixed number of segments, or 'silhouette' to pick the best k in `kRange` on a sample. */
  k?: number | 'silhouette';
  kRange?: readonly [number, number];
  nInit?: number;
  maxIter?: number;
  /** Rows sampled for the silhouette estimate. */
  silhouetteSample?: number;
}

export interface Segment {
  id: number;
  name: string;
  description: string;
  /** Centroid in standardised units (after log1p where configured), in feature order. */
  centroid: number[];
}

export interface SegmentationTraining {
  seed: number;
  k: number;
  nInit: number;
  maxIter: number;
  rows: number;
  inertia: number;
  iterations: number;
  converged: boolean;
  restartInertias: number[];
  /** Mean silhouette of the final segments on a sample of training rows. */
  silhouette: number;
  /** Present when k was chosen by silhouette: every k tried. */
  kCandidates?: KCandidate[];
  /** Per segment (by id), every name's rule score: why each segment got its name. */
  nameScores: Record<string, number>[];
}

export interface SegmentationModelData {
  standardiser: Standardiser;
  segments: Segment[];
  training: SegmentationTraining;
}

export class SegmentationModel {
  readonly standardiser: Standardiser;
  readonly segments: readonly Segment[];
  readonly training: SegmentationTraining;
  private readonly centroids: Float64Array;

  constructor(data: SegmentationModelData) {
    validateModelData(data);
    this.standardiser = data.standardiser;
    this.segments = data.segments;
    this.training = data.training;
    this.centroids = Float64Array.from(data.segments.flatMap((s) => s.centroid));
  }

  static fromJSON(data: SegmentationModelData): SegmentationModel {
    return new SegmentationModel(data);
  }

  toJSON(): SegmentationModelData {
    return { standardiser: this.standardiser, segments: [...this.segments], training: this.training };
  }

  get k(): number {
    return this.segments.length;
  }

  get features(): readonly SegmentFeature[] {
    return this.standardiser.features;
  }

  /** Segment id of each row of raw features (nearest centroid, the lower id on a tie). */
  assign(rows: FeatureRows): number[] {
    return Array.from(nearestCentroids(this.standardisedRows(rows), this.centroids, this.k).labels);
  }

  /** Segment name of each row of raw features. */
  assignNames(rows: FeatureRows): string[] {
    return this.assign(rows).map((id) => this.segments[id]!.name);
  }

  /** Squared Euclidean distance, in standardised units, from each row to each segment centroid. */
  distances(rows: FeatureRows): number[][] {
    const flat = centroidDistances(this.standardisedRows(rows), this.centroids, this.k);
    return Array.from({ length: rows.length }, (_, i) => Array.from(flat.subarray(i * this.k, (i + 1) * this.k)));
  }

  /** Centroid of each segment in original units (expm1 undoes log1p). */
  centroidsInOriginalUnits(): number[][] {
    return this.segments.map((s) => unstandardise(this.standardiser, s.centroid));
  }

  standardisedRows(rows: FeatureRows): Matrix {
    return standardiseMatrix(this.standardiser, rows);
  }
}

export function trainSegmentation(rows: FeatureRows, options: SegmentationTrainOptions): SegmentationModel {
  const { features, seed, nInit = DEFAULT_N_INIT, maxIter = DEFAULT_MAX_ITER } = options;
  const silhouetteSample = options.silhouetteSample ?? DEFAULT_SILHOUETTE_SAMPLE;
  validateFeatures(features);
  const requestedK = options.k ?? DEFAULT_SEGMENT_COUNT;
  if (requestedK !== 'silhouette' && (!Number.isInteger(requestedK) || requestedK < 1 || requestedK > MAX_SEGMENTS)) {
    throw new Error(`segmentation: k must be an integer from 1 to ${MAX_SEGMENTS} (one per segment name), got ${String(requestedK)}`);
  }
  const standardiser = fitStandardiser(features, rows);
  const data = standardiseMatrix(standardiser, rows);

  let fit: KMeansFit;
  let kCandidates: KCandidate[] | undefined;
  if (requestedK === 'silhouette') {
    const [kMin, kMax] = options.kRange ?? DEFAULT_K_RANGE;
    if (kMax > MAX_SEGMENTS) throw new Error(`segmentation: kRange goes up to ${kMax}, but there are only ${MAX_SEGMENTS} segment names`);
    const choice = chooseK(data, { kMin, kMax, seed, nInit, maxIter, sampleSize: silhouetteSample });
    fit = choice.fit;
    kCandidates = choice.candidates;
  } else {
    fit = fitKMeans(data, { k: requestedK, seed, nInit, maxIter });
  }
  const k = fit.k;
  const d = data.cols;
  const found = Array.from({ length: k }, (_, c) => Array.from(fit.centroids.subarray(c * d, (c + 1) * d)));
  const naming = nameCentroids(features, found);
  // Order segments by their name's place in SEGMENT_RULES, so ids do not depend on the seed.
  const order = found.map((_, c) => c).sort((a, b) => naming.ruleOfCentroid[a]! - naming.ruleOfCentroid[b]!);
  const segments: Segment[] = order.map((c, id) => {
    const rule = SEGMENT_RULES[naming.ruleOfCentroid[c]!]!;
    return {
      id,
      name: rule.name,
      description: describeSegment(rule, features, unstandardise(standardiser, found[c]!)),
      centroid: found[c]!,
    };
  });
  const idOfCluster = new Int32Array(k);
  order.forEach((c, id) => (idOfCluster[c] = id));
  const labels = Int32Array.from(fit.labels, (c) => idOfCluster[c]!);

  return new SegmentationModel({
    standardiser,
    segments,
    training: {
      seed,
      k,
      nInit,
      maxIter,
      rows: data.rows,
      inertia: fit.inertia,
      iterations: fit.iterations,
      converged: fit.converged,
      restartInertias: fit.restartInertias,
      // Same rows sampled with the same seed as chooseK, so its estimate for this k is reusable.
      silhouette:
        kCandidates?.find((c) => c.k === k)?.silhouette ??
        (k > 1 ? silhouetteOnSample(data, labels, { seed, sampleSize: silhouetteSample }) : 0),
      ...(kCandidates ? { kCandidates } : {}),
      nameScores: order.map((c) => Object.fromEntries(SEGMENT_RULES.map((r, j) => [r.name, naming.scores[c]![j]!]))),
    },
  });
}

function validateModelData(data: SegmentationModelData): void {
  // fromJSON takes what a metadata file held, which the type system cannot vouch for.
  if (!data?.standardiser?.features || !Array.isArray(data.segments) || !data.training) {
    throw new Error('segmentation model: expected { standardiser, segments, training }');
  }
  const { standardiser: s, segments } = data;
  validateFeatures(s.features);
  const d = s.features.length;
  if (s.means.length !== d || s.stds.length !== d) {
    throw new Error(`segmentation model: ${d} features but ${s.means.length} means and ${s.stds.length} stds`);
  }
  if (s.stds.some((v) => !(v > 0) || !Number.isFinite(v)) || s.means.some((v) => !Number.isFinite(v))) {
    throw new Error('segmentation model: means must be finite and stds finite and positive');
  }
  if (segments.length === 0) throw new Error('segmentation model: no segments');
  segments.forEach((seg, i) => {
    if (seg.id !== i) throw new Error(`segmentation model: segment at position ${i} has id ${seg.id}`);
    if (seg.centroid.length !== d || seg.centroid.some((v) => !Number.isFinite(v))) {
      throw new Error(`segmentation model: segment ${i} ('${seg.name}') needs ${d} finite centroid values`);
    }
  });
}
