/**
 * Prometheus metrics for one process (gateway or subgraph), served on GET /metrics.
 * Model metrics carry the model name as a label so one scrape of a subgraph shows how many
 * inference runs a query cost and how large each batch was.
 */
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics, Gauge } from 'prom-client';

export interface ProcessMetrics {
  registry: Registry;
  inferenceRuns: Counter<'model'>;
  /** Inference runs in one GraphQL request, per model that ran in it (background runs are not in it). */
  requestInferenceRuns: Histogram<'model'>;
  inferenceBatchSize: Histogram<'model'>;
  inferenceSeconds: Histogram<'model'>;
  featureQueries: Counter<'model'>;
  modelVersion: Gauge<'model' | 'version'>;
  /** 1 while a subgraph serves `version` because the production version (`production`) cannot be loaded. */
  modelServingFallback: Gauge<'model' | 'version' | 'production'>;
  httpRequestSeconds: Histogram<'route' | 'status'>;
  /** Entities whose feature inputs a subgraph holds precomputed at the as-of date, by memo. */
  featureMemoEntries: Gauge<'memo'>;
  /** Lookups answered by a memo's in-process cache (or a computation already running for it). */
  featureCacheHits: Counter<'memo'>;
  /** Lookups the cache did not hold: read from the shared store or computed. */
  featureCacheMisses: Counter<'memo'>;
  /** Entities dropped from a memo's cache to stay within FEATURE_CACHE_ENTRIES. */
  featureCacheEvictions: Counter<'memo'>;
  /** Cache misses found in the shared online store (not computed). */
  featureStoreHits: Counter<'memo'>;
  /** Shared-store commands that failed or timed out (the batch was computed from the store). */
  featureStoreErrors: Counter<'memo'>;
  /** Values not written back to the shared store because their entity changed while they were computed. */
  featureStoreRefused: Counter<'memo'>;
  /** Seconds since the memos last reflected every change record written, by model: how far behind the feed they are. */
  featuresRefreshLag: Gauge<'model'>;
  /** Wall seconds of each roll of the memos to a new library date. */
  featuresRollSeconds: Histogram;
  /** CPU seconds the process spent while rolling (the roll and whatever it answered meanwhile). */
  featuresRollCpuSeconds: Counter;
  /** Event-loop delay during the last roll, by statistic (p99, max): how long a request could wait on it. */
  featuresRollLoopDelay: Gauge<'statistic'>;
  /** Prediction-log records written to the store, by model. */
  predictionLogRecords: Counter<'model'>;
  /** Prediction-log records dropped because the in-memory queue was full or the store refused a batch. */
  predictionLogDropped: Counter<'model'>;
  /** Records missing from the stored prediction log (gaps in per-process sequence numbers), by process. */
  predictionLogMissing: Gauge<'process'>;
  /** Live quality of a model version over a window (day, week, 30d); metric names come from src/monitoring/quality. */
  modelLiveMetric: Gauge<'model' | 'version' | 'metric' | 'window'>;
  /** A served version's held-out figure (from its metadata), beside which live quality is judged. */
  modelOfflineMetric: Gauge<'model' | 'version' | 'metric'>;
  /** Drift of one feature (or of the score, feature="__score__") against the version's reference. */
  modelFeatureDrift: Gauge<'model' | 'version' | 'feature' | 'statistic'>;
  /** V8 heap in use of the library subgraph's live-monitor thread, as it posted after its last run (bytes); and all the heap it holds (`monitorThreadHeapTotal`). */
  monitorThreadHeap: Gauge;
  monitorThreadHeapTotal: Gauge;
}

export function createProcessMetrics(service: string): ProcessMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    inferenceRuns: new Counter({
      name: 'model_inference_runs_total',
      help: 'ONNX inference runs (one run scores a whole batch)',
      labelNames: ['model'],
      registers: [registry],
    }),
    requestInferenceRuns: new Histogram({
      name: 'model_request_inference_runs',
      help: 'Inference runs of a model in one GraphQL request, observed once per request that ran the model',
      labelNames: ['model'],
      buckets: [1, 2, 3, 5, 10],
      registers: [registry],
    }),
    inferenceBatchSize: new Histogram({
      name: 'model_inference_batch_size',
      help: 'Entities scored per inference run',
      labelNames: ['model'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000],
      registers: [registry],
    }),
    inferenceSeconds: new Histogram({
      name: 'model_inference_seconds',
      help: 'Wall time of one inference run',
      labelNames: ['model'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers: [registry],
    }),
    featureQueries: new Counter({
      name: 'model_feature_batches_total',
      help: 'Feature extractions (each one query per table for a whole batch)',
      labelNames: ['model'],
      registers: [registry],
    }),
    modelVersion: new Gauge({
      name: 'model_version_info',
      help: 'The model version being served (value 1)',
      labelNames: ['model', 'version'],
      registers: [registry],
    }),
    modelServingFallback: new Gauge({
      name: 'model_serving_fallback',
      help: 'Serving an earlier version because the production version cannot be loaded (value 1; absent when serving production)',
      labelNames: ['model', 'version', 'production'],
      registers: [registry],
    }),
    httpRequestSeconds: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    featureMemoEntries: new Gauge({
      name: 'feature_memo_entries',
      help: 'Entities whose feature inputs are held precomputed at the as-of date, by memo',
      labelNames: ['memo'],
      registers: [registry],
    }),
    featureCacheHits: new Counter({
      name: 'feature_cache_hits_total',
      help: 'Entity lookups answered by the in-process feature cache, by memo',
      labelNames: ['memo'],
      registers: [registry],
    }),
    featureCacheMisses: new Counter({
      name: 'feature_cache_misses_total',
      help: 'Entity lookups the in-process feature cache did not hold, by memo',
      labelNames: ['memo'],
      registers: [registry],
    }),
    featureCacheEvictions: new Counter({
      name: 'feature_cache_evictions_total',
      help: 'Entities evicted from the in-process feature cache (FEATURE_CACHE_ENTRIES), by memo',
      labelNames: ['memo'],
      registers: [registry],
    }),
    featureStoreHits: new Counter({
      name: 'feature_store_hits_total',
      help: 'Cache misses found in the shared online feature store, by memo',
      labelNames: ['memo'],
      registers: [registry],
    }),
    featureStoreErrors: new Counter({
      name: 'feature_store_errors_total',
      help: 'Shared feature store commands that failed or timed out (computed from the store instead), by memo',
      labelNames: ['memo'],
      registers: [registry],
    }),
    featureStoreRefused: new Counter({
      name: 'feature_store_refused_writes_total',
      help: 'Feature values not written back because their entity changed while they were computed, by memo',
      labelNames: ['memo'],
      registers: [registry],
    }),
    featuresRefreshLag: new Gauge({
      name: 'features_refresh_lag_seconds',
      help: 'Seconds since the memoised features last reflected every change record written, by model',
      labelNames: ['model'],
      registers: [registry],
    }),
    featuresRollSeconds: new Histogram({
      name: 'features_roll_seconds',
      help: 'Wall time of one roll of the memoised features to a new library date',
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160],
      registers: [registry],
    }),
    featuresRollCpuSeconds: new Counter({
      name: 'features_roll_cpu_seconds_total',
      help: 'CPU seconds of the process while it rolled its features forward (requests answered meanwhile included)',
      registers: [registry],
    }),
    featuresRollLoopDelay: new Gauge({
      name: 'features_roll_event_loop_delay_seconds',
      help: 'Event-loop delay during the last roll of the features, by statistic (p99, max)',
      labelNames: ['statistic'],
      registers: [registry],
    }),
    predictionLogRecords: new Counter({
      name: 'prediction_log_records_total',
      help: 'Prediction-log records written to the store, by model',
      labelNames: ['model'],
      registers: [registry],
    }),
    predictionLogDropped: new Counter({
      name: 'prediction_log_dropped_total',
      help: 'Prediction-log records dropped (queue full or a batch the store refused), by model',
      labelNames: ['model'],
      registers: [registry],
    }),
    monitorThreadHeap: new Gauge({
      name: 'monitor_thread_heap_used_bytes',
      help: "V8 heap in use of the live monitor's worker thread (the library subgraph), as posted after its last run; nodejs_heap_size_used_bytes is the serving thread's only",
      registers: [registry],
    }),
    monitorThreadHeapTotal: new Gauge({
      name: 'monitor_thread_heap_total_bytes',
      help: "V8 heap the live monitor's worker thread holds from the system (in use or not), as posted after its last run",
      registers: [registry],
    }),
    ...createMonitoringGauges(registry),
  };
}

/** The gauges the live monitor and the prediction log's checks set (`publish*` in src/monitoring/gauges). */
export type MonitoringGauges = Pick<ProcessMetrics, 'predictionLogMissing' | 'modelLiveMetric' | 'modelOfflineMetric' | 'modelFeatureDrift'>;

/**
 * The monitoring gauges on `registry`. A process's metrics hold them (createProcessMetrics); the
 * live monitor's thread makes its own on a registry nobody scrapes, and posts their values to
 * the serving thread, which sets them on the process's (src/monitoring/monitor-thread).
 */
export function createMonitoringGauges(registry: Registry): MonitoringGauges {
  return {
    predictionLogMissing: new Gauge({
      name: 'prediction_log_missing_records',
      help: 'Rows (each the records of one request and model) missing from the stored prediction log by gaps in per-process sequence numbers, at the last check',
      labelNames: ['process'],
      registers: [registry],
    }),
    modelLiveMetric: new Gauge({
      name: 'model_live_metric',
      help: 'Live quality of a model version over a window (day, week, 30d), from labelled outcomes or estimated before them',
      labelNames: ['model', 'version', 'metric', 'window'],
      registers: [registry],
    }),
    modelOfflineMetric: new Gauge({
      name: 'model_offline_metric',
      help: 'Held-out metric of a model version, from its metadata, to compare live quality with',
      labelNames: ['model', 'version', 'metric'],
      registers: [registry],
    }),
    modelFeatureDrift: new Gauge({
      name: 'model_feature_drift',
      help: 'Drift of a feature (feature="__score__" for the model output) against the version reference, by statistic',
      labelNames: ['model', 'version', 'feature', 'statistic'],
      registers: [registry],
    }),
  };
}

export interface MetricsAccess {
  /** With a token, a scrape must send `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** Without a token: answer loopback clients only (production), or anyone (development). */
  loopbackOnlyWithoutToken: boolean;
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * GET /metrics, not open to the world: with METRICS_TOKEN set a scrape must carry it (401
 * otherwise); without it, production answers scrapes from the machine itself only (403 to
 * anyone else), and development answers everyone.
 */
export function metricsHandler(registry: Registry, { token, loopbackOnlyWithoutToken }: MetricsAccess): RequestHandler {
  return async (req, res) => {
    if (token !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      if (!match?.[1] || !sameSecret(match[1], token)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
        res.status(401).type('text/plain').send('metrics need "Authorization: Bearer <METRICS_TOKEN>"\n');
        return;
      }
    } else if (loopbackOnlyWithoutToken && !LOOPBACK.has(req.socket.remoteAddress ?? '')) {
      res.status(403).type('text/plain').send('metrics are served to this machine only; set METRICS_TOKEN to scrape from elsewhere\n');
      return;
    }
    res.type(registry.contentType).send(await registry.metrics());
  };
}
