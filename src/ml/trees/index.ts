/**
 * Public surface of the tree learners: everything exported here is what trainers and model
 * subgraphs may rely on; the rest of this folder is internal.
 */
export { binFeatures } from './data';
export type { BinnedFeatures, BinningOptions, TrainingData, TrainOptions } from './data';
export { trainGradientBoosting } from './gradient-boosting';
export type { GradientBoostingParams } from './gradient-boosting';
export { trainRandomForest } from './random-forest';
export type { RandomForestParams } from './random-forest';
export { TreeEnsemble } from './model';
export type { EnsembleKind, TreeEnsembleJSON } from './model';
export { exportTreeEnsembleOnnx, TREE_ENSEMBLE_INPUT, TREE_ENSEMBLE_OUTPUT } from './onnx';
export type { TreeEnsembleExportOptions } from './onnx';
