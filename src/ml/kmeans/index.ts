/**
 * Member segmentation: k-means over standardised recency, frequency, monetary, engagement and
 * tenure features, with named segments and an ONNX export. Everything exported here is the
 * folder's public API; the rest is internal.
 */
export { adjustedRandIndex } from './ari';
export { DEFAULT_SEGMENT_COUNT, DEFAULT_K_RANGE, SegmentationModel, trainSegmentation } from './model';
export type { Segment, SegmentationModelData, SegmentationTrainOptions, SegmentationTraining } from './model';
export { MAX_SEGMENTS, SEGMENT_RULES } from './naming';
export type { SegmentRule } from './naming';
export { SEGMENTATION_INPUT, SEGMENTATION_OUTPUTS, exportSegmentationOnnx, segmentationGraph } from './onnx';
export { segmentProfiles } from './profiles';
export type { SegmentProfile } from './profiles';
export type { KCandidate } from './silhouette';
export { FEATURE_ROLES, featureWeight, fitStandardiser, standardise, unstandardise } from './standardise';
export type { FeatureRole, SegmentFeature, Standardiser } from './standardise';
export type { FeatureRows } from './matrix';
