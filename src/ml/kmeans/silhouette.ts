/**
 * Choosing k by the mean silhouette on a seeded sample of rows.
 *
 * Contract: `silhouetteOnSample` estimates the mean silhouette (Euclidean, in the units of the
 * matrix) from at most `sampleSize` rows drawn without replacement; a row alone in its cluster
 * within the sample scores 0, as in Rousseeuw's definition. `chooseK` fits k-means for each k
 * in a range and keeps the k with the highest estimate (the smaller k on a tie). The exact
 * silhouette is quadratic in the rows, which a library's whole membership makes too slow.
 */
import { Random } from '../../util/random';
import { type KMeansFit, fitKMeans } from './kmeans';
import { type Matrix, squaredDistance } from './matrix';

// Bound once: a global lookup per pair is slow inside a vm context (jest runs tests in one).
const sqrt = Math.sqrt;

export const DEFAULT_SILHOUETTE_SAMPLE = 2000;

export interface SilhouetteOptions {
  sampleSize?: number;
  seed: number;
}

export function silhouetteOnSample(data: Matrix, labels: ArrayLike<number>, options: SilhouetteOptions): number {
  if (labels.length !== data.rows) {
    throw new Error(`silhouette: ${labels.length} labels for ${data.rows} rows`);
  }
  const sample = sampleRows(data.rows, options.sampleSize ?? DEFAULT_SILHOUETTE_SAMPLE, options.seed);
  const clusterIds = [...new Set(sample.map((i) => labels[i]!))].sort((a, b) => a - b);
  if (clusterIds.length < 2) return 0;
  const slot = new Map(clusterIds.map((c, s) => [c, s]));
  // Cluster slot per sampled row, looked up once: the pair loop below is the hot path.
  const slotOf = Int32Array.from(sample, (i) => slot.get(labels[i]!)!);
  const sizes = new Array<number>(clusterIds.length).fill(0);
  for (const s of slotOf) sizes[s]! += 1;
  const sums = new Float64Array(clusterIds.length);
  const m = sample.length;
  let total = 0;
  for (let p = 0; p < m; p++) {
    sums.fill(0);
    const i = sample[p]!;
    for (let q = 0; q < m; q++) {
      if (q !== p) sums[slotOf[q]!]! += sqrt(squaredDistance(data.data, i, data.data, sample[q]!, data.cols));
    }
    const own = slotOf[p]!;
    if (sizes[own]! < 2) continue;
    const a = sums[own]! / (sizes[own]! - 1);
    let b = Infinity;
    for (let s = 0; s < clusterIds.length; s++) {
      if (s !== own) b = Math.min(b, sums[s]! / sizes[s]!);
    }
    const denom = Math.max(a, b);
    total += denom > 0 ? (b - a) / denom : 0;
  }
  return total / sample.length;
}

export interface KCandidate {
  k: number;
  silhouette: number;
  inertia: number;
}

export interface ChooseKOptions {
  kMin: number;
  kMax: number;
  seed: number;
  nInit?: number;
  maxIter?: number;
  sampleSize?: number;
}

export interface KChoice {
  k: number;
  candidates: KCandidate[];
  /** The k-means fit for the chosen k, so the caller need not fit it again. */
  fit: KMeansFit;
}

export function chooseK(data: Matrix, options: ChooseKOptions): KChoice {
  const { kMin, kMax, seed, nInit, maxIter, sampleSize } = options;
  if (!Number.isInteger(kMin) || !Number.isInteger(kMax) || kMin < 2 || kMax < kMin) {
    throw new Error(`choose k: need integers 2 <= kMin <= kMax, got kMin=${kMin}, kMax=${kMax}`);
  }
  const candidates: KCandidate[] = [];
  let best: { candidate: KCandidate; fit: KMeansFit } | undefined;
  for (let k = kMin; k <= kMax; k++) {
    const fit = fitKMeans(data, { k, seed, nInit, maxIter });
    // The same sample for every k, so the estimates differ by the clustering only.
    const candidate = { k, silhouette: silhouetteOnSample(data, fit.labels, { seed, sampleSize }), inertia: fit.inertia };
    candidates.push(candidate);
    if (best === undefined || candidate.silhouette > best.candidate.silhouette) best = { candidate, fit };
  }
  return { k: best!.candidate.k, candidates, fit: best!.fit };
}

/** Up to `size` distinct row indices, ascending, by a partial Fisher-Yates shuffle. */
function sampleRows(n: number, size: number, seed: number): number[] {
  if (size >= n) return Array.from({ length: n }, (_, i) => i);
  const rng = new Random(seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < size; i++) {
    const j = i + rng.int(n - i);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, size).sort((a, b) => a - b);
}
