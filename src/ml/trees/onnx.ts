/**
 * Export of a tree ensemble to ONNX, as the ai.onnx.ml TreeEnsembleRegressor (ml opset 3).
 *
 * Contract: the graph takes `features` float [batch, d] in the model's feature order and
 * answers `probability` float [batch], the probability of class 1, equal to
 * `predictProba` up to float32 arithmetic. Splits are BRANCH_LEQ on the float32 thresholds the
 * model already holds. Gradient boosting sums its trees onto `base_values` and applies a
 * standard Sigmoid; a random forest averages its trees (aggregate AVERAGE).
 */
import { encodeModel, ML_DOMAIN, node, tensor, valueInfo } from '../onnx/builder';
import type { TreeEnsemble } from './model';

export const TREE_ENSEMBLE_INPUT = 'features';
export const TREE_ENSEMBLE_OUTPUT = 'probability';

export interface TreeEnsembleExportOptions {
  /** One name per feature, in the model's input order; kept in the file's metadata. */
  featureNames: readonly string[];
  /** Extra metadata_props, e.g. the Shelfmark model name and version. */
  metadata?: Record<string, string>;
}

interface RegressorAttributes {
  nodes_treeids: number[];
  nodes_nodeids: number[];
  nodes_featureids: number[];
  nodes_modes: string[];
  nodes_values: number[];
  nodes_truenodeids: number[];
  nodes_falsenodeids: number[];
  target_treeids: number[];
  target_nodeids: number[];
  target_ids: number[];
  target_weights: number[];
}

function regressorAttributes(model: TreeEnsemble): RegressorAttributes {
  const a: RegressorAttributes = {
    nodes_treeids: [],
    nodes_nodeids: [],
    nodes_featureids: [],
    nodes_modes: [],
    nodes_values: [],
    nodes_truenodeids: [],
    nodes_falsenodeids: [],
    target_treeids: [],
    target_nodeids: [],
    target_ids: [],
    target_weights: [],
  };
  model.trees.forEach((tree, treeId) => {
    for (let id = 0; id < tree.feature.length; id++) {
      const f = tree.feature[id]!;
      const isLeaf = f < 0;
      a.nodes_treeids.push(treeId);
      a.nodes_nodeids.push(id);
      a.nodes_featureids.push(isLeaf ? 0 : f);
      a.nodes_modes.push(isLeaf ? 'LEAF' : 'BRANCH_LEQ');
      a.nodes_values.push(isLeaf ? 0 : tree.threshold[id]!);
      a.nodes_truenodeids.push(isLeaf ? 0 : tree.left[id]!);
      a.nodes_falsenodeids.push(isLeaf ? 0 : tree.right[id]!);
      if (isLeaf) {
        a.target_treeids.push(treeId);
        a.target_nodeids.push(id);
        a.target_ids.push(0);
        a.target_weights.push(tree.value[id]!);
      }
    }
  });
  return a;
}

/** The bytes of a model.onnx computing the ensemble's positive-class probability. */
export function exportTreeEnsembleOnnx(model: TreeEnsemble, { featureNames, metadata = {} }: TreeEnsembleExportOptions): Uint8Array {
  const d = model.featureCount;
  if (featureNames.length !== d) {
    throw new Error(`featureNames has ${featureNames.length} names but the model takes ${d} features`);
  }
  const attributes = regressorAttributes(model);
  const common = {
    ...attributes,
    n_targets: 1,
    post_transform: 'NONE',
  };
  const intAttributes = [
    'n_targets',
    'nodes_treeids',
    'nodes_nodeids',
    'nodes_featureids',
    'nodes_truenodeids',
    'nodes_falsenodeids',
    'target_treeids',
    'target_nodeids',
    'target_ids',
  ];
  const mlOptions = { domain: ML_DOMAIN, intAttributes, name: 'tree_ensemble' };
  const flatShape = tensor('flat_shape', 'int64', [1], [-1]);
  const nodes: ReturnType<typeof node>[] = [];
  switch (model.kind) {
    case 'gradient-boosting':
      nodes.push(
        node('TreeEnsembleRegressor', [TREE_ENSEMBLE_INPUT], ['log_odds'], { ...common, aggregate_function: 'SUM', base_values: [model.baseScore] }, mlOptions),
        node('Sigmoid', ['log_odds'], ['probability_column']),
        node('Reshape', ['probability_column', 'flat_shape'], [TREE_ENSEMBLE_OUTPUT]),
      );
      break;
    case 'random-forest':
      nodes.push(
        node('TreeEnsembleRegressor', [TREE_ENSEMBLE_INPUT], ['probability_column'], { ...common, aggregate_function: 'AVERAGE' }, mlOptions),
        node('Reshape', ['probability_column', 'flat_shape'], [TREE_ENSEMBLE_OUTPUT]),
      );
      break;
    default: {
      const unknown: never = model.kind;
      throw new Error(`unknown ensemble kind ${String(unknown)}`);
    }
  }
  return encodeModel({
    graph: {
      name: `shelfmark_${model.kind.replace('-', '_')}`,
      inputs: [valueInfo(TREE_ENSEMBLE_INPUT, 'float', ['batch', d])],
      outputs: [valueInfo(TREE_ENSEMBLE_OUTPUT, 'float', ['batch'])],
      initializers: [flatShape],
      nodes,
    },
    metadata: {
      ...metadata,
      'shelfmark.ensemble_kind': model.kind,
      'shelfmark.feature_names': JSON.stringify(featureNames),
      'shelfmark.trees': String(model.trees.length),
    },
  });
}
