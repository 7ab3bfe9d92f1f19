/**
 * k-means on standardised rows: greedy k-means++ seeding, Lloyd iterations, several restarts.
 *
 * Contract: `fitKMeans(data, { k, seed })` returns the restart with the lowest inertia (sum of
 * squared distances to the nearest centroid), the same result for the same data and seed on
 * every machine. The centroid order is the order the run found them in; callers that need a
 * stable order (segment naming) impose their own.
 */
import { Random } from '../../util/random';
import { type Matrix, squaredDistance } from './matrix';

export interface KMeansOptions {
  k: number;
  seed: number;
  /** Independent restarts; the lowest-inertia one wins. */
  nInit?: number;
  /** Lloyd iterations per restart; a restart stops earlier when no row changes cluster. */
  maxIter?: number;
}

export interface KMeansFit {
  k: number;
  /** k rows of `cols` values, row-major, in the same units as the data. */
  centroids: Float64Array;
  labels: Int32Array;
  inertia: number;
  /** Iterations of the winning restart, and whether it stopped because labels were stable. */
  iterations: number;
  converged: boolean;
  /** Inertia of every restart in order, for the training report. */
  restartInertias: number[];
}

export const DEFAULT_N_INIT = 10;
export const DEFAULT_MAX_ITER = 300;

export function fitKMeans(data: Matrix, options: KMeansOptions): KMeansFit {
  const { k, seed, nInit = DEFAULT_N_INIT, maxIter = DEFAULT_MAX_ITER } = options;
  if (!Number.isInteger(k) || k < 1) throw new Error(`k-means: k must be a positive integer, got ${k}`);
  if (!Number.isInteger(nInit) || nInit < 1) throw new Error(`k-means: nInit must be a positive integer, got ${nInit}`);
  if (!Number.isInteger(maxIter) || maxIter < 1) throw new Error(`k-means: maxIter must be a positive integer, got ${maxIter}`);
  const distinct = countDistinctRows(data, k);
  if (distinct < k) {
    throw new Error(`k-means: k=${k} needs at least ${k} distinct rows, got ${distinct} (of ${data.rows} rows)`);
  }
  // One generator for all restarts: restart r's seeding depends only on the seed and r.
  const rng = new Random(seed);
  let best: KMeansFit | undefined;
  const restartInertias: number[] = [];
  for (let r = 0; r < nInit; r++) {
    const run = lloyd(data, kmeansPlusPlus(data, k, rng), k, maxIter);
    restartInertias.push(run.inertia);
    // Strictly lower: on a tie the earlier restart stays, which keeps the result seed-determined.
    if (best === undefined || run.inertia < best.inertia) best = { ...run, restartInertias };
  }
  return best!;
}

/**
 * Greedy k-means++ (as in scikit-learn): each new centre is the best of 2 + ln k candidates
 * drawn with probability proportional to squared distance, which avoids the occasional poor
 * draw of plain k-means++ and so makes restarts agree more often.
 */
export function kmeansPlusPlus(data: Matrix, k: number, rng: Random): Float64Array {
  const { rows: n, cols: d, data: x } = data;
  const centroids = new Float64Array(k * d);
  const trials = 2 + Math.floor(Math.log(k));
  const first = rng.int(n);
  centroids.set(x.subarray(first * d, (first + 1) * d), 0);
  const closest = new Float64Array(n);
  for (let i = 0; i < n; i++) closest[i] = squaredDistance(x, i, centroids, 0, d);
  const cumulative = new Float64Array(n);
  const candidateDist = new Float64Array(n);
  const bestDist = new Float64Array(n);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      total += closest[i]!;
      cumulative[i] = total;
    }
    let bestCandidate = -1;
    let bestPotential = Infinity;
    for (let t = 0; t < trials; t++) {
      const candidate = rng.pickCumulative(cumulative);
      let potential = 0;
      for (let i = 0; i < n; i++) {
        const fromCandidate = squaredDistance(x, i, x, candidate, d);
        const dist = fromCandidate < closest[i]! ? fromCandidate : closest[i]!;
        candidateDist[i] = dist;
        potential += dist;
      }
      if (potential < bestPotential) {
        bestPotential = potential;
        bestCandidate = candidate;
        bestDist.set(candidateDist);
      }
    }
    centroids.set(x.subarray(bestCandidate * d, (bestCandidate + 1) * d), c * d);
    closest.set(bestDist);
  }
  return centroids;
}

/** One restart's result: the fit without the report of every restart. */
type LloydRun = Omit<KMeansFit, 'restartInertias'>;

function lloyd(data: Matrix, init: Float64Array, k: number, maxIter: number): LloydRun {
  const { rows: n, cols: d } = data;
  const centroids = Float64Array.from(init);
  const labels = new Int32Array(n).fill(-1);
  const minDist = new Float64Array(n);
  const sums = new Float64Array(k * d);
  const counts = new Int32Array(k);
  assignStep(data, centroids, k, labels, minDist);
  let iterations = 0;
  let converged = false;
  while (iterations < maxIter) {
    updateStep(data, k, labels, minDist, centroids, sums, counts);
    iterations += 1;
    if (!assignStep(data, centroids, k, labels, minDist)) {
      converged = true;
      break;
    }
  }
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += minDist[i]!;
  return { k, centroids, labels, inertia, iterations, converged };
}

/** Nearest centroid per row (first one on a tie); returns whether any label changed. */
function assignStep(data: Matrix, centroids: Float64Array, k: number, labels: Int32Array, minDist: Float64Array): boolean {
  const { rows: n, cols: d, data: x } = data;
  let changed = false;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestDist = squaredDistance(x, i, centroids, 0, d);
    for (let c = 1; c < k; c++) {
      const dist = squaredDistance(x, i, centroids, c, d);
      if (dist < bestDist) {
        bestDist = dist;
        best = c;
      }
    }
    if (labels[i] !== best) changed = true;
    labels[i] = best;
    minDist[i] = bestDist;
  }
  return changed;
}

function updateStep(
  data: Matrix,
  k: number,
  labels: Int32Array,
  minDist: Float64Array,
  centroids: Float64Array,
  sums: Float64Array,
  counts: Int32Array,
): void {
  const { rows: n, cols: d, data: x } = data;
  sums.fill(0);
  counts.fill(0);
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    counts[c]! += 1;
    for (let j = 0; j < d; j++) sums[c * d + j]! += x[i * d + j]!;
  }
  for (let c = 0; c < k; c++) {
    if (counts[c]! > 0) continue;
    // An empty cluster restarts at the row worst served by its own centroid, taken from a
    // cluster that can spare it, so k clusters stay k.
    let far = -1;
    for (let i = 0; i < n; i++) {
      if (counts[labels[i]!]! > 1 && (far < 0 || minDist[i]! > minDist[far]!)) far = i;
    }
    const from = labels[far]!;
    for (let j = 0; j < d; j++) {
      sums[from * d + j]! -= x[far * d + j]!;
      sums[c * d + j] = x[far * d + j]!;
    }
    counts[from]! -= 1;
    counts[c] = 1;
    labels[far] = c;
    minDist[far] = 0;
  }
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < d; j++) centroids[c * d + j] = sums[c * d + j]! / counts[c]!;
  }
}

/** Distinct rows, counting only up to `enough` (all k-means needs to know). */
function countDistinctRows(data: Matrix, enough: number): number {
  const seen = new Set<string>();
  for (let i = 0; i < data.rows && seen.size < enough; i++) {
    seen.add(Array.prototype.join.call(data.data.subarray(i * data.cols, (i + 1) * data.cols), ','));
  }
  return seen.size;
}

/** Index of the nearest centroid per row (first on a tie) and its squared distance. */
export function nearestCentroids(data: Matrix, centroids: Float64Array, k: number): { labels: Int32Array; distances: Float64Array } {
  const labels = new Int32Array(data.rows).fill(-1);
  const distances = new Float64Array(data.rows);
  assignStep(data, centroids, k, labels, distances);
  return { labels, distances };
}

/** Squared distance from every row to every centroid: n rows of k values, row-major. */
export function centroidDistances(data: Matrix, centroids: Float64Array, k: number): Float64Array {
  const out = new Float64Array(data.rows * k);
  for (let i = 0; i < data.rows; i++) {
    for (let c = 0; c < k; c++) out[i * k + c] = squaredDistance(data.data, i, centroids, c, data.cols);
  }
  return out;
}
