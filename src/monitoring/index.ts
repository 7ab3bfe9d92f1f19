/**
 * Model monitoring: the prediction log, drift against each version's training reference,
 * live quality per window, and their Prometheus gauges. Everything exported here is public.
 */
export {
  createPredictionLog,
  sequenceGaps,
  DEFAULT_BATCH_SIZE,
  DEFAULT_CAPACITY,
  DEFAULT_FLUSH_INTERVAL_MS,
  MAX_RECORDS_PER_ROW,
} from './prediction-log';
export type { PredictionFactor, PredictionInput, PredictionLog, PredictionLogOptions, PredictionLogStats, PredictionRecord, PredictionSink, RankedItem, SequenceGap, StoredSequences } from './prediction-log';
export {
  countPredictions,
  createPredictionLogTable,
  createStorePredictionSink,
  deletePredictionsBefore,
  dropPredictionLogTable,
  fromRow,
  recordsOf,
  predictionLogLosses,
  predictionsAsOf,
  retentionCutoff,
  storedSequences,
} from './prediction-log-store';
export type { PredictionLogDatabase, PredictionLogTable, ProcessLosses, StoreDb } from './prediction-log-store';
export {
  buildReference,
  buildReferences,
  calibrateThresholds,
  compareFeature,
  compareWindow,
  driftGaugeSamples,
  falseAlarmRate,
  EVIDENTLY_THRESHOLDS,
  OTHER,
  SMALL_WINDOW,
} from './drift';
export type { CalibrationOptions, DriftConfig, DriftReferences, DriftTest, DriftThresholds, DriftWindow, FalseAlarms, FeatureDrift, FeatureReference, FeatureValue, ReferenceOptions } from './drift';
export {
  ClassifierQualityWindows,
  DemandQualityWindows,
  EstimatedQualityWindows,
  RecommendationQualityWindows,
  SegmentStabilityWindows,
  figuresOf,
  histogramAuc,
  liveMetricSamples,
  OUTCOME_RATIO_BOUNDS,
  outcomeRatio,
  OutcomeRatioWindows,
  SCORE_BINS,
} from './quality';
export type { ClassifierQuality, DemandOutcome, DemandQuality, EstimatedClassifierQuality, LabelledPrediction, LiveFigures, RecommendationQuality, SegmentStability } from './quality';
export { calibrateOutcomeSeasons, outcomeSeasonsOf, SEASON_PRIOR, SEASON_WEEKS, seasonalFactor, seasonOf } from './seasons';
export type { OutcomeSeasons, SettledRow } from './seasons';
export { QUALITY_WINDOWS, WINDOW_DAYS } from './windows';
export type { QualityWindow } from './windows';
export type { Interval } from './statistics';
export { publishDrift, publishLiveQuality, publishLosses } from './gauges';
export { referencesFromRows, SCORE_REFERENCE } from './references';
export type { ReferenceRows } from './references';
