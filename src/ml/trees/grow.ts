/**
 * One histogram CART tree over binned features, for both ensembles.
 *
 * Contract: every row carries a gradient g and a hessian h; a node's value is
 * `leafValue(sum g, sum h)` and a split's gain is
 * `gainScale · (G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ))`. Gradient boosting passes the
 * log-loss derivatives (Newton step, gainScale ½); the random forest passes g = label and
 * h = 1, which makes the gain the drop in squared error of the positive share (proportional
 * to the Gini decrease) and the value the positive share. `rows` lists the training rows of
 * this tree, repeats allowed (a bootstrap), and is reordered in place.
 */
import type { Random } from '../../util/random';
import type { BinnedFeatures } from './data';

export interface GrowOptions {
  maxDepth: number;
  minSamplesLeaf: number;
  /** Smallest hessian sum a child may have (xgboost's min_child_weight). */
  minChildWeight: number;
  lambda: number;
  gainScale: number;
  /** Splits with a gain at or below this are not made. */
  minGain: number;
  /** Features drawn (without replacement) as candidates at each split; featureCount for all. */
  featuresPerSplit: number;
  leafValue: (sumG: number, sumH: number) => number;
}

/** A tree as flat arrays in preorder; node 0 is the root, a leaf has feature −1. */
export interface GrownTree {
  feature: Int32Array;
  /** The split's bin: rows with bin <= splitBin go left. Only meaningful during training. */
  splitBin: Int32Array;
  threshold: Float32Array;
  left: Int32Array;
  right: Int32Array;
  /** float32-representable, so JSON, predictProba and ONNX all see the same number. */
  value: Float32Array;
}

interface Split {
  feature: number;
  bin: number;
  gain: number;
  leftG: number;
  leftH: number;
}

/** Grows one tree; adds each split's gain to `importance[feature]`. */
export function growTree(
  binned: BinnedFeatures,
  rows: Int32Array,
  g: Float64Array,
  h: Float64Array,
  options: GrowOptions,
  random: Random,
  importance: Float64Array,
): GrownTree {
  const { bins, thresholds, rowCount: n, featureCount: d, maxBins } = binned;
  const { maxDepth, minSamplesLeaf, minChildWeight, lambda, gainScale, minGain, leafValue } = options;
  const featuresPerSplit = Math.min(d, Math.max(1, options.featuresPerSplit));
  const histG = new Float64Array(maxBins);
  const histH = new Float64Array(maxBins);
  const histCount = new Int32Array(maxBins);
  const candidates = Int32Array.from({ length: d }, (_, i) => i);

  const feature: number[] = [];
  const splitBin: number[] = [];
  const threshold: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const value: number[] = [];

  const score = (sumG: number, sumH: number): number => (sumG * sumG) / (sumH + lambda);

  const findSplit = (start: number, end: number, sumG: number, sumH: number): Split | undefined => {
    const count = end - start;
    const parentScore = score(sumG, sumH);
    let best: Split | undefined;
    // A partial Fisher-Yates shuffle draws the candidate features of this node.
    if (featuresPerSplit < d) {
      for (let i = 0; i < featuresPerSplit; i++) {
        const j = i + random.int(d - i);
        const t = candidates[i]!;
        candidates[i] = candidates[j]!;
        candidates[j] = t;
      }
    }
    for (let c = 0; c < featuresPerSplit; c++) {
      const f = candidates[c]!;
      const binCount = thresholds[f]!.length + 1;
      if (binCount < 2) continue;
      histG.fill(0, 0, binCount);
      histH.fill(0, 0, binCount);
      histCount.fill(0, 0, binCount);
      const offset = f * n;
      for (let i = start; i < end; i++) {
        const r = rows[i]!;
        const b = bins[offset + r]!;
        histG[b]! += g[r]!;
        histH[b]! += h[r]!;
        histCount[b]! += 1;
      }
      let leftG = 0;
      let leftH = 0;
      let leftCount = 0;
      for (let b = 0; b < binCount - 1; b++) {
        leftG += histG[b]!;
        leftH += histH[b]!;
        leftCount += histCount[b]!;
        if (leftCount < minSamplesLeaf) continue;
        if (count - leftCount < minSamplesLeaf) break;
        const rightH = sumH - leftH;
        if (leftH < minChildWeight || rightH < minChildWeight) continue;
        const gain = gainScale * (score(leftG, leftH) + score(sumG - leftG, rightH) - parentScore);
        if (gain > minGain && (best === undefined || gain > best.gain)) {
          best = { feature: f, bin: b, gain, leftG, leftH };
        }
      }
    }
    return best;
  };

  // A stable partition keeps each node's rows in increasing order, so building a histogram
  // walks a feature's bins front to back instead of jumping around memory.
  const scratch = new Int32Array(rows.length);
  const partition = (start: number, end: number, f: number, bin: number): number => {
    const offset = f * n;
    let kept = start;
    let moved = 0;
    for (let i = start; i < end; i++) {
      const r = rows[i]!;
      if (bins[offset + r]! <= bin) rows[kept++] = r;
      else scratch[moved++] = r;
    }
    rows.set(scratch.subarray(0, moved), kept);
    return kept;
  };

  const build = (start: number, end: number, depth: number, sumG: number, sumH: number): number => {
    const id = feature.length;
    feature.push(-1);
    splitBin.push(-1);
    threshold.push(0);
    left.push(-1);
    right.push(-1);
    value.push(Math.fround(leafValue(sumG, sumH)));
    if (depth >= maxDepth || end - start < 2 * minSamplesLeaf) return id;
    const split = findSplit(start, end, sumG, sumH);
    if (split === undefined) return id;
    importance[split.feature]! += split.gain;
    const mid = partition(start, end, split.feature, split.bin);
    feature[id] = split.feature;
    splitBin[id] = split.bin;
    threshold[id] = thresholds[split.feature]![split.bin]!;
    left[id] = build(start, mid, depth + 1, split.leftG, split.leftH);
    right[id] = build(mid, end, depth + 1, sumG - split.leftG, sumH - split.leftH);
    return id;
  };

  let sumG = 0;
  let sumH = 0;
  for (let i = 0; i < rows.length; i++) {
    sumG += g[rows[i]!]!;
    sumH += h[rows[i]!]!;
  }
  build(0, rows.length, 0, sumG, sumH);
  return {
    feature: Int32Array.from(feature),
    splitBin: Int32Array.from(splitBin),
    threshold: Float32Array.from(threshold),
    left: Int32Array.from(left),
    right: Int32Array.from(right),
    value: Float32Array.from(value),
  };
}

/** The leaf a training row reaches, routed by bins (identical to routing by thresholds). */
export function leafOfBinnedRow(tree: GrownTree, binned: BinnedFeatures, row: number): number {
  const { bins, rowCount: n } = binned;
  let node = 0;
  let f = tree.feature[0]!;
  while (f >= 0) {
    node = bins[f * n + row]! <= tree.splitBin[node]! ? tree.left[node]! : tree.right[node]!;
    f = tree.feature[node]!;
  }
  return node;
}
