/**
 * A trained tree ensemble: prediction, feature importance and its JSON form.
 *
 * Contract: `predictProba` routes a row left at a split when `x <= threshold`, with the
 * threshold and leaf values already float32, which is what the exported ONNX graph computes
 * (BRANCH_LEQ on float32), so the two agree up to float32 summation. For gradient boosting
 * the probability is sigmoid(baseScore + Σ leaf values) (the learning rate is already in the
 * leaves); for a random forest it is the mean over trees of the leaves' positive shares.
 */
import { assertFeatureShape, assertFiniteFeatures } from './data';

export type EnsembleKind = 'gradient-boosting' | 'random-forest';

/** A tree as flat arrays in preorder: node 0 is the root, a leaf has feature −1. */
export interface Tree {
  feature: Int32Array;
  threshold: Float32Array;
  left: Int32Array;
  right: Int32Array;
  /** Every node's value (a leaf's is its prediction; inner ones are kept for explanations). */
  value: Float32Array;
}

export interface TreeJSON {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

export const TREE_ENSEMBLE_FORMAT = 'shelfmark-tree-ensemble';

export interface TreeEnsembleJSON {
  format: typeof TREE_ENSEMBLE_FORMAT;
  version: 1;
  kind: EnsembleKind;
  featureCount: number;
  /** Gradient boosting's starting log-odds (float32); 0 for a random forest. */
  baseScore: number;
  /** The hyperparameters the model was trained with, as given after defaults. */
  params: Record<string, number | boolean>;
  /** Total split gain per feature, in feature order. */
  importance: number[];
  trees: TreeJSON[];
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function leafOf(tree: Tree, features: Float32Array, rowOffset: number): number {
  let node = 0;
  let f = tree.feature[0]!;
  while (f >= 0) {
    node = features[rowOffset + f]! <= tree.threshold[node]! ? tree.left[node]! : tree.right[node]!;
    f = tree.feature[node]!;
  }
  return node;
}

export class TreeEnsemble {
  constructor(
    readonly kind: EnsembleKind,
    readonly featureCount: number,
    readonly baseScore: number,
    readonly trees: readonly Tree[],
    private readonly importance: Float64Array,
    readonly params: Readonly<Record<string, number | boolean>>,
  ) {}

  /** Probability of class 1 for each of `rowCount` rows (row-major float32 features). */
  predictProba(features: Float32Array, rowCount: number): Float64Array {
    const d = this.featureCount;
    assertFeatureShape(features, rowCount, d);
    assertFiniteFeatures(features, rowCount, d);
    const sums = new Float64Array(rowCount);
    for (const tree of this.trees) {
      for (let r = 0, offset = 0; r < rowCount; r++, offset += d) sums[r]! += tree.value[leafOf(tree, features, offset)]!;
    }
    const out = new Float64Array(rowCount);
    switch (this.kind) {
      case 'gradient-boosting':
        for (let r = 0; r < rowCount; r++) out[r] = sigmoid(this.baseScore + sums[r]!);
        break;
      case 'random-forest': {
        const trees = this.trees.length;
        for (let r = 0; r < rowCount; r++) out[r] = sums[r]! / trees;
        break;
      }
      default: {
        const unknown: never = this.kind;
        throw new Error(`unknown ensemble kind ${String(unknown)}`);
      }
    }
    return out;
  }

  /** Total split gain per feature, in feature order (not normalised). */
  featureImportance(): number[] {
    return Array.from(this.importance);
  }

  toJSON(): TreeEnsembleJSON {
    return {
      format: TREE_ENSEMBLE_FORMAT,
      version: 1,
      kind: this.kind,
      featureCount: this.featureCount,
      baseScore: this.baseScore,
      params: { ...this.params },
      importance: Array.from(this.importance),
      trees: this.trees.map((t) => ({
        feature: Array.from(t.feature),
        threshold: Array.from(t.threshold),
        left: Array.from(t.left),
        right: Array.from(t.right),
        value: Array.from(t.value),
      })),
    };
  }

  /** Rebuilds a model from `toJSON()` output (or its parsed text), checking its structure. */
  static fromJSON(json: unknown): TreeEnsemble {
    const j = (typeof json === 'string' ? JSON.parse(json) : json) as Partial<TreeEnsembleJSON> | null;
    if (j === null || typeof j !== 'object' || j.format !== TREE_ENSEMBLE_FORMAT) {
      throw new Error(`not a tree ensemble: expected format "${TREE_ENSEMBLE_FORMAT}"`);
    }
    if (j.version !== 1) throw new Error(`tree ensemble version ${String(j.version)} is not supported (expected 1)`);
    if (j.kind !== 'gradient-boosting' && j.kind !== 'random-forest') {
      throw new Error(`tree ensemble kind must be gradient-boosting or random-forest, got ${String(j.kind)}`);
    }
    const d = j.featureCount;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) throw new Error(`featureCount must be a positive integer, got ${String(d)}`);
    if (typeof j.baseScore !== 'number' || !Number.isFinite(j.baseScore)) throw new Error('baseScore must be a finite number');
    if (!Array.isArray(j.importance) || j.importance.length !== d) {
      throw new Error(`importance must have one value per feature (${d})`);
    }
    if (!Array.isArray(j.trees) || j.trees.length === 0) throw new Error('a tree ensemble needs at least one tree');
    const trees = j.trees.map((t, i) => treeFromJSON(t, i, d));
    return new TreeEnsemble(j.kind, d, j.baseScore, trees, Float64Array.from(j.importance), { ...(j.params ?? {}) });
  }
}

function treeFromJSON(t: TreeJSON, index: number, featureCount: number): Tree {
  const size = t?.feature?.length;
  for (const key of ['feature', 'threshold', 'left', 'right', 'value'] as const) {
    if (!Array.isArray(t?.[key]) || t[key].length !== size || size === 0) {
      throw new Error(`tree ${index}: ${key} must be a non-empty array as long as feature`);
    }
  }
  const tree: Tree = {
    feature: Int32Array.from(t.feature),
    threshold: Float32Array.from(t.threshold),
    left: Int32Array.from(t.left),
    right: Int32Array.from(t.right),
    value: Float32Array.from(t.value),
  };
  // Preorder means children come after their parent, which also rules out cycles.
  for (let node = 0; node < size; node++) {
    const f = tree.feature[node]!;
    if (f === -1) continue;
    if (f < 0 || f >= featureCount) throw new Error(`tree ${index}, node ${node}: feature ${f} is outside 0..${featureCount - 1}`);
    for (const child of [tree.left[node]!, tree.right[node]!]) {
      if (child <= node || child >= size) throw new Error(`tree ${index}, node ${node}: child ${child} is not a later node`);
    }
  }
  return tree;
}
