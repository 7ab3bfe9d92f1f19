/**
 * A model subgraph's prediction log: one per process, opened by the runtime, written to by
 * every model field through `record`.
 *
 * Contract:
 * - `record` stamps wall time and the library clock, hands the record to the bounded queue of
 *   src/monitoring/prediction-log and returns at once; it never throws and never awaits, so an
 *   answer is neither failed nor delayed by logging. A full queue drops and counts.
 * - Batches go to the store on a writer thread (src/monitoring/prediction-log-writer) with its
 *   own connection: the INSERT, the encoding of items, factors and features, the retention
 *   DELETE and the loss count never run on the thread that answers. A batch the store refuses
 *   (busy, or the table not migrated yet while the library subgraph starts) is tried again with
 *   backoff before it is dropped and counted.
 * - Every retention interval the writer deletes records past the retention and sets
 *   `prediction_log_missing_records{process}` from the sequence gaps of every process in the
 *   store, so a process killed mid-write shows in the next check of any survivor or successor.
 * - `close` writes everything queued, then ends the writer thread and its connection.
 * - With logging off, `record` does nothing and no connection is opened.
 */
import { randomUUID } from 'node:crypto';
import type { PredictionLogConfig } from '../config';
import type { ModelRef, RiskLevel, RiskPrediction } from '../graphql/prediction-types';
import type { Logger } from '../logging';
import type { ProcessMetrics } from '../metrics';
import { publishLosses } from '../monitoring/gauges';
import { RULE_ANSWER_LABEL } from '../monitoring/outcomes';
import { createPredictionLog, type PredictionFactor, type PredictionInput, type PredictionLog, type PredictionRecord, type PredictionSink, type RankedItem } from '../monitoring/prediction-log';
import type { EncodedBatch } from '../monitoring/prediction-log-batch';
import { startPredictionLogWriter, type PredictionLogWriter } from '../monitoring/prediction-log-writer';
import type { Store } from '../store';

/** One served prediction, as a model field knows it. */
export interface ServedPrediction {
  requestId: string;
  model: ModelRef;
  /** What was scored: 'member', 'loan', 'book', 'collection', ... */
  entityKind: string;
  entityId: string;
  /** A probability or expected value; null for list predictions. */
  score?: number | null;
  /** A ranked list (recommendations, forecast points as {id: week, score}); null for scores. */
  items?: RankedItem[] | null;
  /** A class answer (a segment). */
  label?: string | null;
  factors?: PredictionFactor[];
  /** The feature values used, or null with `featureRef` naming where they are kept. */
  features?: Record<string, number | string | null> | null;
  featureRef?: string | null;
}

export interface PredictionLogging {
  readonly enabled: boolean;
  /** Hands one answer to the queue and returns at once. */
  record(requestId: string, prediction: PredictionOf): void;
  /** Writes everything queued now. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The feature reference of a record that carries no feature values: the model's own feature
 * functions over the store at this library date (features are point in time) give them back.
 */
export const FEATURES_AS_OF = 'as-of:';

/** A served prediction without its request id: what a model field describes of one answer. */
export type PredictionOf = Omit<ServedPrediction, 'requestId'>;

/**
 * Records every non-null answer of a batch as `describe` tells it, and returns the answers
 * unchanged: a loader wraps its batch function with this.
 */
export function recorded<T>(log: PredictionLogging, requestId: string, answers: T[], describe: (answer: NonNullable<T>, index: number) => PredictionOf | null): T[] {
  if (!log.enabled) return answers;
  answers.forEach((answer, i) => {
    if (answer === null || answer === undefined) return;
    const prediction = describe(answer, i);
    if (prediction) log.record(requestId, prediction);
  });
  return answers;
}

/**
 * RiskLevel.LAPSED by value: the enum's module registers it with type-graphql, which the
 * prediction log's writer (bundled on its own, see src/monitoring/__tests__/kill-writer.ts)
 * must not load.
 */
const LAPSED = 'LAPSED' as RiskLevel.LAPSED;

/** A risk answer as a record: its probability and top factors, and the label of an answer a rule gave (LAPSED). */
export function riskPrediction(entityKind: string, entityId: string, risk: RiskPrediction): PredictionOf {
  const factors: PredictionFactor[] = new Array<PredictionFactor>(risk.factors.length);
  for (let f = 0; f < factors.length; f++) {
    const factor = risk.factors[f] as RiskPrediction['factors'][number];
    factors[f] = { name: factor.feature, weight: factor.weight };
  }
  return { model: risk.model, entityKind, entityId, score: risk.probability, label: risk.level === LAPSED ? RULE_ANSWER_LABEL : null, factors };
}

/** Logging off: records nothing, opens nothing. */
export const NO_PREDICTION_LOGGING: PredictionLogging = {
  enabled: false,
  record: () => undefined,
  flush: async () => undefined,
  close: async () => undefined,
};

/** Waits between tries of a refused batch; the records stay queued (and count against capacity) meanwhile. */
const RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000];
/**
 * How long a SQLite write of the log waits for another connection's lock. It blocks only the
 * writer thread; the queue fills (and drops past its bound) meanwhile.
 */
const WRITER_BUSY_TIMEOUT_MS = 2_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** A sink that tries a refused batch again after each of `delays`, then rejects with the last error. */
export function retryingSink(sink: PredictionSink, delays: readonly number[] = RETRY_DELAYS_MS): PredictionSink {
  const retried = async <B>(write: (batch: B) => Promise<void>, batch: B): Promise<void> => {
    for (const delay of delays) {
      try {
        return await write(batch);
      } catch {
        await sleep(delay);
      }
    }
    return write(batch);
  };
  const writeBatch = sink.writeBatch?.bind(sink);
  return {
    write: (records) => retried((r: readonly PredictionRecord[]) => sink.write(r), records),
    ...(writeBatch ? { writeBatch: (batch: EncodedBatch) => retried(writeBatch, batch) } : {}),
  };
}

export interface PredictionLoggingOptions {
  config: PredictionLogConfig;
  /** The subgraph's store: the writer thread opens its own connection to the same database. */
  store: Store;
  metrics: ProcessMetrics;
  logger: Logger;
  /** The library clock's date now. */
  asOf: () => string;
}

/**
 * The time of a record as ISO text: read once per turn of the event loop, so the records a
 * loader's batch logs in one synchronous pass share it (and so one row of the log, see
 * src/monitoring/prediction-log), and formatted once per millisecond however many share it.
 */
function wallClock(): () => string {
  let lastMs = NaN;
  let lastText = '';
  let inTurn = false;
  const endTurn = () => {
    inTurn = false;
  };
  return () => {
    if (inTurn) return lastText;
    inTurn = true;
    queueMicrotask(endTurn);
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastText = new Date(now).toISOString();
    }
    return lastText;
  };
}

export function openPredictionLogging({ config, store, metrics, logger, asOf }: PredictionLoggingOptions): PredictionLogging {
  if (!config.enabled) return NO_PREDICTION_LOGGING;
  const processId = randomUUID();
  let writer: PredictionLogWriter;
  try {
    writer = startPredictionLogWriter({
      processId,
      databaseUrl: store.url,
      retentionDays: config.retentionDays,
      checkIntervalMs: config.retentionIntervalMs,
      busyTimeoutMs: WRITER_BUSY_TIMEOUT_MS,
      onCheck: ({ deleted, losses }) => {
        if (deleted > 0) logger.info({ deleted, retentionDays: config.retentionDays }, 'prediction-log records past retention deleted');
        publishLosses(metrics, losses);
      },
      onCheckFailed: (message) => logger.warn({ err: message }, 'the prediction log\'s retention run and loss count failed; tried again next interval'),
    });
  } catch (error) {
    // Serving matters more than its record: without the writer's script the log stays off. (A
    // writer that starts but cannot open the store refuses every batch: dropped and counted.)
    logger.error({ err: (error as Error).message }, 'the prediction log cannot start its writer; predictions are served unrecorded');
    return NO_PREDICTION_LOGGING;
  }
  let lastWarning = 0;
  const log: PredictionLog = createPredictionLog({
    sink: retryingSink(writer),
    processId,
    capacity: config.capacity,
    batchSize: config.batchSize,
    flushIntervalMs: config.flushIntervalMs,
    counters: { records: metrics.predictionLogRecords, dropped: metrics.predictionLogDropped },
    onError: (error, dropped) => {
      // At most one warning a minute: a store that stays down would otherwise flood the log.
      if (Date.now() - lastWarning < 60_000) return;
      lastWarning = Date.now();
      logger.warn({ dropped, err: (error as Error).message }, 'the store refused a batch of the prediction log; its records were dropped (prediction_log_dropped_total)');
    },
  });
  const at = wallClock();
  // One input object, filled per record: the log copies what it keeps (prediction-log-batch.ts)
  // and holds no reference to it, so a page's records make no object here.
  const input: PredictionInput = { requestId: '', at: '', asOf: null, model: '', version: '', arm: null, entityKind: '', entityId: '', score: null, items: null, label: null, factors: [], features: null, featureRef: null };
  // The feature reference of the library date, built once per date rather than per record.
  let refDate = '';
  let asOfRef = '';
  const NO_FACTORS: PredictionFactor[] = [];

  return {
    enabled: true,
    record(requestId, p) {
      const date = asOf();
      try {
        if (date !== refDate) (refDate = date), (asOfRef = `${FEATURES_AS_OF}${date}`);
        input.requestId = requestId;
        input.at = at();
        input.asOf = date;
        input.model = p.model.name;
        input.version = p.model.version;
        input.arm = p.model.arm;
        input.entityKind = p.entityKind;
        input.entityId = p.entityId;
        input.score = p.score ?? null;
        input.items = p.items ?? null;
        input.label = p.label ?? null;
        input.factors = p.factors ?? NO_FACTORS;
        input.features = p.features ?? null;
        input.featureRef = p.featureRef ?? (p.features ? null : asOfRef);
        log.log(input);
      } catch (error) {
        // Never fails an answer: a record that cannot be built is dropped and counted.
        metrics.predictionLogDropped.inc({ model: p.model.name });
        logger.debug({ err: (error as Error).message }, 'a prediction could not be recorded');
      } finally {
        // Nothing of the answer stays reachable from here.
        input.items = null;
        input.factors = NO_FACTORS;
        input.features = null;
      }
    },
    flush: () => log.flush(),
    async close() {
      await log.close();
      await writer.close();
    },
  };
}
