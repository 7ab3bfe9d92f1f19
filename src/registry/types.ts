/**
 * The registry's public types: what a trainer writes into metadata.json and parity.json, and
 * what the registry answers with.
 *
 * A trainer fills a `ModelMetadataDraft` (everything it knows) and hands it to
 * `registerVersion`; the registry adds what only it can decide (version, stage, sha256 of the
 * bytes it wrote, the parity result it measured itself) and writes the `ModelMetadata`.
 */
import type { ElementType } from '../ml/onnx/builder';
import type { DriftConfig, DriftReferences } from '../monitoring/drift';
import type { HeldOutWeeks } from '../monitoring/quality';
import type { OutcomeSeasons } from '../monitoring/seasons';

export const STAGES = ['experiments', 'staging', 'production', 'archived'] as const;
export type Stage = (typeof STAGES)[number];

/** Element types in onnxruntime's vocabulary (`Tensor.Type`), which serving code builds tensors with. */
export type TensorElementType = 'float32' | 'float64' | 'int32' | 'int64' | 'bool' | 'string' | 'uint8' | 'int8';

/** The builder says 'float' where onnxruntime says 'float32'. */
export function tensorElementType(builderType: ElementType): TensorElementType {
  switch (builderType) {
    case 'float':
      return 'float32';
    case 'int64':
    case 'int32':
    case 'bool':
    case 'string':
      return builderType;
    default: {
      const unhandled: never = builderType;
      throw new Error(`no tensor element type for builder type ${String(unhandled)}`);
    }
  }
}

/** A fixed size, or a symbolic name: 'batch' for the first dimension, others such as 'k' or 'time'. */
export type TensorDim = number | string;

export interface TensorSpec {
  name: string;
  elementType: TensorElementType;
  shape: TensorDim[];
  /**
   * The axis of this tensor that carries `featureSpec`, in order (e.g. 1 for [batch, features],
   * 2 for [batch, time, features]). Validation checks that the model fixes that axis to the
   * number of features.
   */
  featureAxis?: number;
  description?: string;
}

/** How a feature's values should be read; the feature module owns the exact encoding. */
export type FeatureType = 'numeric' | 'count' | 'binary' | 'categorical' | 'id';

export interface FeatureSpecEntry {
  name: string;
  type: FeatureType;
  description: string;
}

export type ModelTask = 'classification' | 'recommendation' | 'segmentation' | 'forecast';

export interface BaselineMetrics {
  /** In a librarian's words, e.g. "member's past late-return rate". */
  name: string;
  metrics: Record<string, number>;
}

/**
 * One served risk level on held-out rows: flagged means probability ≥ value. Precision and lift
 * are null when nothing is flagged. `npm run evaluate` reports the same figures with intervals.
 */
export interface ThresholdFigures {
  level: string;
  value: number;
  /** The rule that chose `value` on validation rows, in words. */
  rule: string;
  precision: number | null;
  recall: number;
  share: number;
  lift: number | null;
  /** Positive rate of the rows: the precision of a dummy that flags the same share at random. */
  baseRate: number;
  confusion: { truePositives: number; falsePositives: number; falseNegatives: number; trueNegatives: number };
}

export interface SliceFigures {
  name: string;
  rows: number;
  positiveRate: number;
  auc: number | null;
  oracleAuc: number | null;
}

/**
 * How a served choice was made on rolling origins inside the training window: every candidate's
 * score on each validation fold (lower is better), the chosen one first by mean.
 */
export interface BacktestFigures {
  /** What the choice is for, e.g. "books (weekly)". */
  name: string;
  /** What the folds score, e.g. "RMSE of weekly loans". */
  criterion: string;
  chosen: string;
  /** Each fold's validation periods, e.g. "2023-12-25 to 2024-03-24". */
  folds: string[];
  candidates: { name: string; scores: number[]; mean: number; sd: number }[];
}

export interface HeadlineMetric {
  /** A key of `metrics.heldOut`. */
  name: string;
  value: number;
  higherIsBetter: boolean;
}

export type HyperparameterValue = number | string | boolean | null | number[] | string[];

export interface ParityResult {
  /** Largest absolute difference over compared values; null when the rows could not be run at all. */
  maxAbsError: number | null;
  tolerance: number;
  passed: boolean;
  /** Rows (first dimension of the inputs) compared. */
  rows: number;
}

export interface ArtefactFile {
  /** Relative to the version directory, e.g. 'parity.json' or 'similar.onnx'. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface ModelMetadata {
  name: string;
  /** Semver, chosen by the registry. */
  version: string;
  /** Rewritten by the registry whenever the version directory moves. */
  stage: Stage;
  /** ISO timestamp of training. */
  created: string;
  task: ModelTask;
  /** What the model predicts, in one sentence a librarian can read. */
  predicts: string;
  /** e.g. "random forest (ai.onnx.ml TreeEnsembleClassifier)". */
  algorithm: string;
  trainingData: {
    /** Calendar days, YYYY-MM-DD. */
    window: { from: string; to: string };
    /** sampledFrom: when the training rows are a sample, the training window's loans (or members) they were drawn from. */
    rows: { train: number; test: number; sampledFrom?: number };
    /** The system's "now" for features. */
    asOf: string;
    seed: number;
    /** Where the rows came from, e.g. "simulated library, 5 000 members". */
    source?: string;
  };
  /** In the order the model's feature tensor expects them. */
  featureSpec: FeatureSpecEntry[];
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  metrics: {
    heldOut: Record<string, number>;
    /**
     * Classifiers: held-out metrics over the week-long windows of the held-out rows, what the
     * live monitor's ModelQualityBelowOffline compares a live week with (src/monitoring/quality.ts).
     */
    heldOutWeeks?: Record<string, HeldOutWeeks>;
    baseline: BaselineMetrics;
    /** Further simple baselines the model was compared with. */
    otherBaselines?: BaselineMetrics[];
    /** On simulated data: the true probabilities behind the outcomes, scored the same way. */
    oracle?: { metrics: Record<string, number> };
    /** Classifiers: what each served risk level does on the held-out rows. */
    thresholds?: ThresholdFigures[];
    /** Classifiers: AUC on parts of the held-out rows that matter on their own, next to the oracle's. */
    slices?: SliceFigures[];
    /** Choices made by backtest (the demand method per level), with every candidate's fold scores. */
    backtests?: BacktestFigures[];
  };
  headlineMetric: HeadlineMetric;
  hyperparameters: Record<string, HyperparameterValue>;
  /**
   * Constants the serving path needs from training, e.g. reference values for explanations
   * and risk thresholds. Part of the version, so hot reload swaps them with the model.
   */
  serving?: Record<string, unknown>;
  /**
   * Distributions of every feature and of the score (key `__score__`) on the training rows,
   * which live windows are compared with (src/monitoring). Absent on versions registered before
   * references existed, until `models reference` adds them.
   */
  driftReferences?: DriftReferences;
  /**
   * A classifier's outcome ratio per week of the year on its training rows (src/monitoring/
   * seasons.ts): what ModelOutcomeRateShift expects of each week instead of 1. Absent on
   * versions trained before it existed and on models whose trainer does not compute it.
   */
  outcomeSeasons?: OutcomeSeasons;
  /**
   * Per-feature drift thresholds the live monitor judges this version with (a DriftConfig as
   * calibrateThresholds returns it; src/monitoring/thresholds.ts). Absent: Evidently's
   * defaults. Either way the monitor caps the p-value tests' α at 0.05 / (features × 365).
   */
  driftThresholds?: DriftConfig;
  parity: ParityResult;
  /** Of model.onnx. */
  sha256: string;
  /** Every other file in the version directory except metadata.json. */
  files: ArtefactFile[];
  notes: string;
}

/** What a trainer provides; the registry fills in the rest. */
export type ModelMetadataDraft = Omit<ModelMetadata, 'version' | 'stage' | 'sha256' | 'files' | 'parity' | 'created'> & {
  created?: string;
};

/** JSON cannot carry int64 or typed arrays: integers are plain numbers (exact below 2^53). */
export type ParityValue = number | boolean | string;

export interface ParityInput {
  name: string;
  type: TensorElementType;
  dims: number[];
  data: ParityValue[];
}

export interface ParityExpectation {
  name: string;
  data: ParityValue[];
  /**
   * 'exact' for ids and labels, 'tolerance' for scores. Defaults from the output's element
   * type: integer, bool and string outputs must match exactly, floating point within tolerance.
   */
  match?: 'exact' | 'tolerance';
}

/**
 * parity.json: rows the trainer scored itself (in TypeScript) and what it got. Validation runs
 * the same inputs through onnxruntime-node and compares.
 */
export interface ParityFile {
  inputs: ParityInput[];
  expected: ParityExpectation[];
  /** Largest allowed absolute difference for 'tolerance' outputs. */
  tolerance: number;
}

export type LifecycleAction = 'register' | 'promote' | 'archive' | 'rollback' | 'restore';

export interface StageChange {
  action: LifecycleAction;
  /** null when the version was registered. */
  from: Stage | null;
  to: Stage;
  when: string;
  who: string;
  why: string;
  /** Present when validation failed and a person overrode it. */
  forced?: { reason: string; failedChecks: string[] };
}

/** One version as the registry lists it, without opening its directory. */
export interface RegisteredVersion {
  name: string;
  version: string;
  stage: Stage;
  /** Relative to the models directory, e.g. 'production/churn/1.2.0'. */
  dir: string;
  sha256: string;
  created: string;
  headlineMetric: HeadlineMetric;
  /** The baseline's value of the headline metric, when it reports one. */
  baselineValue: number | null;
  baselineName: string;
  /** Digest of the feature spec and input tensors: equal digests mean a drop-in retrain. */
  featureSignature: string;
  history: StageChange[];
}

export type CheckName = 'files' | 'sha256' | 'loads' | 'inputs' | 'outputs' | 'parity' | 'regression';

export interface ValidationCheck {
  name: CheckName;
  passed: boolean;
  detail: string;
  /** Set when the check could not run because one it depends on failed (it counts as failed). */
  notRun?: true;
}

export interface ValidationReport {
  name: string;
  version: string;
  stage: Stage;
  passed: boolean;
  checks: ValidationCheck[];
}

export interface ProductionPointer {
  version: string;
  /** Absolute path of the version directory. */
  dir: string;
  sha256: string;
}
