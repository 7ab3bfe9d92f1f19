/**
 * The model registry: versions of Shelfmark's models by lifecycle stage, under MODELS_DIR.
 * Everything exported here is the registry's public API; the rest of the folder is internal.
 *
 *   models/<stage>/<model>/<semver>/model.onnx, metadata.json, parity.json, ...
 *   models/metadata/registry.json     every version, its stage and stage history
 *
 * Trainers call `registerVersion`; the `models` command promotes, rolls back and archives;
 * model subgraphs poll `readProductionPointer` (or `watchProductionPointer`) to hot-reload.
 */
export { registerVersion, promoteVersion, rollback, archiveVersion, setDriftReferences, listModels, getProduction, featureSignature, currentUser, CARD_FILE, CHARTS_FILE } from './lifecycle';
export type { RegisterOptions, RegisteredModel, LifecycleOptions, ForceOption, PromotionResult, RollbackResult, ProductionModel } from './lifecycle';
export { validateVersion, failedChecks, readMetadata, DEFAULT_REGRESSION_TOLERANCE, MODEL_FILE, METADATA_FILE, PARITY_FILE } from './validate';
export type { ValidateOptions, Rescore, RescoredVersion } from './validate';
export { readFallbackPointers, readProductionPointer, watchProductionPointer } from './pointer';
export type { ProductionWatch } from './pointer';
export { checkParity } from './parity';
export type { ParityOutcome } from './parity';
export { RegistryError } from './errors';
export type { RegistryErrorReason } from './errors';
export type { LockOptions } from './lock';
export { compareVersions, nextVersion } from './semver';
export { STAGES, tensorElementType } from './types';
export type * from './types';
