/**
 * Monitoring results onto the process's Prometheus gauges (src/metrics): drift verdicts onto
 * `model_feature_drift`, window figures onto `model_live_metric`, stored-log losses onto
 * `prediction_log_missing_records`. Each call sets the samples it computes; a feature or a
 * version that is no longer monitored keeps its last value until the process restarts or the
 * caller resets the gauge.
 */
import type { ProcessMetrics } from '../metrics';
import { driftGaugeSamples, type FeatureDrift } from './drift';
import type { ProcessLosses } from './prediction-log-store';
import { figuresOf, liveMetricSamples } from './quality';
import type { QualityWindow } from './windows';

type MonitoringGauges = Pick<ProcessMetrics, 'modelFeatureDrift' | 'modelLiveMetric' | 'predictionLogMissing'>;

/** Sets the drift samples of one model version (every feature compared in one window). */
export function publishDrift(gauges: MonitoringGauges, model: string, version: string, verdicts: readonly FeatureDrift[]): void {
  for (const verdict of verdicts) {
    for (const { statistic, value } of driftGaugeSamples(verdict)) gauges.modelFeatureDrift.set({ model, version, feature: verdict.feature, statistic }, value);
  }
}

/**
 * Sets the figures of one window of one model version: any quality object of quality.ts
 * (each Interval field becomes M, M_low, M_high); `estimated` prefixes CBPE figures.
 */
export function publishLiveQuality(gauges: MonitoringGauges, labels: { model: string; version: string; window: QualityWindow }, quality: object, estimated = false): void {
  for (const { metric, value } of liveMetricSamples(figuresOf(quality), estimated)) gauges.modelLiveMetric.set({ ...labels, metric }, value);
}

/**
 * Sets the rows (sequence numbers; a row is the records of one request and model, one to
 * `MAX_RECORDS_PER_ROW`) each process is missing from the stored prediction log, replacing the last
 * check's samples (a process whose records have all passed retention no longer shows).
 */
export function publishLosses(gauges: MonitoringGauges, losses: readonly ProcessLosses[]): void {
  gauges.predictionLogMissing.reset();
  for (const loss of losses) gauges.predictionLogMissing.set({ process: loss.processId }, loss.missing);
}
