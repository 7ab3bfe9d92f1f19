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
  inferenceBatchSize: Histogram<'model'>;
  inferenceSeconds: Histogram<'model'>;
  featureQueries: Counter<'model'>;
  modelVersion: Gauge<'model' | 'version'>;
  httpRequestSeconds: Histogram<'route' | 'status'>;
  /** Entities whose feature inputs a subgraph holds precomputed at the as-of date, by memo. */
  featureMemoEntries: Gauge<'memo'>;
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
