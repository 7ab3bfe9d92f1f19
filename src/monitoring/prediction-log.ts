/**
 * The prediction log: every prediction a model field serves, recorded off the answer path.
 *
 * Contract:
 * - `log(input)` never blocks, never awaits and never throws for a full queue. It stamps the
 *   record with this process's id and a per-process sequence number and puts it on a bounded
 *   in-memory queue, or, when the queue already holds `capacity` records, drops it and counts
 *   it in `prediction_log_dropped_total{model}`.
 * - Sequence numbers count rows, not records (since 2026-12-07). Consecutive records that share
 *   the request id, time, library date, model, version, arm, entity kind and feature reference
 *   (a loader's batch: a page's 100 churn risks) form one row of the log and share its sequence
 *   number, up to `MAX_RECORDS_PER_ROW`; the store keeps a row as one table row, so the writer
 *   pays one insert per row rather than per prediction. A dropped record takes no sequence
 *   number and opens no row, so sequence gaps in the store mean rows lost after they were
 *   accepted (a crash, or a batch the sink refused), while drops under overload show in the
 *   counter, which counts records.
 * - Records leave the queue in batches of about `batchSize` records, when that many are waiting
 *   or every `flushIntervalMs`, whichever comes first; a batch never splits a row (it runs to
 *   the end of its last row, so it may hold up to `MAX_RECORDS_PER_ROW - 1` more); one batch is
 *   written at a time, in order.
 *   Written records count in `prediction_log_records_total{model}`. A batch the sink refuses is
 *   dropped and counted (the process keeps serving; `onError` hears why).
 * - `close()` stops the timer and writes everything still queued.
 * - At most `capacity` accepted records are lost when the process dies (`kill -9`): those still
 *   queued plus the batch being written, in at most as many rows. With the defaults that is
 *   10,000 records in at most 10,000 rows (a page's traffic: about 100 rows).
 * - Each stored row carries `acceptedThrough`, the highest sequence number accepted when its
 *   batch was written, so rows queued behind the last batch a process wrote show as
 *   missing too (see `sequenceGaps`). Records accepted after the last write began leave no
 *   trace in the store: that tail (about one flush interval of traffic when the store keeps
 *   up, never more than `capacity`) is the part of a crash's loss the store cannot show.
 */
import { randomUUID } from 'node:crypto';
import type { Counter } from 'prom-client';
import { BatchBuilder, decodeBatch, type EncodedBatch } from './prediction-log-batch';

/** One ranked item of a list prediction (recommendations, similar books). */
export interface RankedItem {
  id: string;
  score: number;
}

/** One factor behind a prediction, as the model field reports it. */
export interface PredictionFactor {
  name: string;
  weight: number;
}

/** What the caller knows when a prediction is served. */
export interface PredictionInput {
  requestId: string;
  /** When the prediction was served (ISO 8601 timestamp, wall time). */
  at: string;
  /** The library clock (its as-of date) the prediction was made at; null when unknown. */
  asOf?: string | null;
  model: string;
  version: string;
  /** The experiment arm ("control" | "candidate" | "shadow"); null while no experiment runs. */
  arm: string | null;
  /** What was scored: 'member', 'loan', 'book', 'collection', ... */
  entityKind: string;
  entityId: string;
  /** A probability or expected value; null for list predictions. */
  score: number | null;
  /** A ranked list; null for score predictions. */
  items: RankedItem[] | null;
  /** A class answer (a segment); null otherwise. */
  label?: string | null;
  factors: PredictionFactor[];
  /** The feature values used, or null when `featureRef` names where they are kept. */
  features: Record<string, number | string | null> | null;
  featureRef: string | null;
}

/** A record as stored: the input plus where it came from. */
export interface PredictionRecord extends PredictionInput {
  processId: string;
  /** Its row's number: 1, 2, 3, ... per process, in the order the rows were opened; the records of one row share it. */
  sequence: number;
  /** The highest sequence number this process had accepted when the record's batch was written. */
  acceptedThrough: number;
}

/** Where batches go. `write` resolves once the records are durable. */
export interface PredictionSink {
  write(records: readonly PredictionRecord[]): Promise<void>;
  /** The same, the batch in its compact form (the writer thread's sink): the log then builds no record objects. */
  writeBatch?(batch: EncodedBatch): Promise<void>;
}

export interface PredictionLogOptions {
  sink: PredictionSink;
  /** Most records held in memory; past it records are dropped and counted. */
  capacity?: number;
  /** Most records per sink write; a full batch is written without waiting for the timer. */
  batchSize?: number;
  flushIntervalMs?: number;
  /** Identifies this process in stored records; a random id by default. */
  processId?: string;
  /** prom-client counters (from createProcessMetrics); optional so tests and tools can leave them out. */
  counters?: { records: Counter<'model'>; dropped: Counter<'model'> };
  /** Hears about batches the sink refused (they are dropped and counted). */
  onError?: (error: unknown, dropped: number) => void;
}

export interface PredictionLogStats {
  /** Records accepted. */
  accepted: number;
  /** Rows opened (the last sequence number given). */
  rows: number;
  written: number;
  dropped: number;
  queued: number;
}

export interface PredictionLog {
  /** Accepts a record or drops it; returns whether it was accepted. */
  log(input: PredictionInput): boolean;
  /** Writes everything queued now (resolves when written). */
  flush(): Promise<void>;
  /** Stops the timer and writes everything queued. */
  close(): Promise<void>;
  stats(): PredictionLogStats;
  readonly processId: string;
}

export const DEFAULT_CAPACITY = 10_000;
export const DEFAULT_BATCH_SIZE = 500;
export const DEFAULT_FLUSH_INTERVAL_MS = 1_000;
/**
 * Most records in one row. A loader batch is at most a few hundred keys; the bound keeps a
 * row's packed values (and a batch's overrun past `batchSize`) small whatever a caller sends.
 */
export const MAX_RECORDS_PER_ROW = 1_000;

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function countByModel(counter: Counter<'model'> | undefined, batch: BatchBuilder): void {
  if (!counter) return;
  for (const [model, n] of batch.modelCounts()) counter.inc({ model }, n);
}

export function createPredictionLog({
  sink,
  capacity = DEFAULT_CAPACITY,
  batchSize = DEFAULT_BATCH_SIZE,
  flushIntervalMs = DEFAULT_FLUSH_INTERVAL_MS,
  processId = randomUUID(),
  counters,
  onError = () => undefined,
}: PredictionLogOptions): PredictionLog {
  positiveInteger('capacity', capacity);
  positiveInteger('batchSize', batchSize);
  positiveInteger('flushIntervalMs', flushIntervalMs);
  // The queue: batches being filled, oldest first; records go into the last one, laid out
  // flat as they come (prediction-log-batch.ts), so no record object outlives its `log()` call.
  const queue: BatchBuilder[] = [];
  let queued = 0;
  let sequence = 0;
  const totals = { accepted: 0, written: 0, dropped: 0 };
  // The batch being written still counts against the capacity: that is what a crash can lose.
  let inFlight = 0;
  let writing: Promise<void> = Promise.resolve();
  let sizeTriggerPending = false;
  let closed = false;

  const writeBatch = async (): Promise<void> => {
    // A batch holds whole rows: a row is written whole, in one table row.
    const builder = queue.shift();
    if (!builder) return;
    queued -= builder.count;
    inFlight = builder.count;
    const batch = builder.finish(sequence);
    try {
      await (sink.writeBatch ? sink.writeBatch(batch) : sink.write(decodeBatch(batch)));
      totals.written += builder.count;
      countByModel(counters?.records, builder);
    } catch (error) {
      totals.dropped += builder.count;
      countByModel(counters?.dropped, builder);
      onError(error, builder.count);
    } finally {
      inFlight = 0;
    }
  };
  /** Chains batches so that one is written at a time, until the queue is empty. */
  const drain = (): Promise<void> => {
    writing = writing.then(async () => {
      while (queue.length > 0) await writeBatch();
    });
    return writing;
  };
  const timer = setInterval(() => void drain(), flushIntervalMs);
  timer.unref();

  return {
    processId,
    log(input) {
      if (closed || queued + inFlight >= capacity) {
        totals.dropped += 1;
        counters?.dropped.inc({ model: input.model });
        return false;
      }
      let builder = queue[queue.length - 1];
      if (!builder || builder.rowRecords >= MAX_RECORDS_PER_ROW || !builder.sameRow(input)) {
        sequence += 1;
        // A batch ends where a row ends, once it holds `batchSize` records.
        if (!builder || builder.count >= batchSize) queue.push((builder = new BatchBuilder(processId, batchSize)));
        builder.openRow(sequence, sequence, input);
      }
      builder.add(input);
      queued += 1;
      totals.accepted += 1;
      if (queued >= batchSize && !sizeTriggerPending) {
        // Written after the caller's turn of the event loop, never inside it.
        sizeTriggerPending = true;
        setImmediate(() => {
          sizeTriggerPending = false;
          void drain();
        });
      }
      return true;
    },
    flush: drain,
    async close() {
      closed = true;
      clearInterval(timer);
      await drain();
    },
    stats: () => ({ accepted: totals.accepted, rows: sequence, written: totals.written, dropped: totals.dropped, queued: queued + inFlight }),
  };
}

/** A run of sequence numbers of one process that the store does not hold. */
export interface SequenceGap {
  processId: string;
  /** First and last missing sequence number, inclusive. */
  from: number;
  to: number;
  missing: number;
}

/** What the store holds of one process: its sequence numbers and the highest `acceptedThrough`. */
export interface StoredSequences {
  processId: string;
  sequences: Iterable<number>;
  acceptedThrough: number;
  /** The first sequence number expected (default 1; later when retention has deleted older records). */
  firstExpected?: number;
}

/**
 * The records lost from each process: runs of sequence numbers missing below the highest one
 * stored, plus the tail between the highest stored and the highest `acceptedThrough` (records
 * accepted but never written). Records before the first stored one are counted from 1, since
 * every process starts at 1, unless `firstExpected` says retention has cut older ones.
 */
export function sequenceGaps(stored: Iterable<StoredSequences>): SequenceGap[] {
  const gaps: SequenceGap[] = [];
  for (const { processId, sequences, acceptedThrough, firstExpected = 1 } of stored) {
    const sorted = [...new Set(sequences)].sort((a, b) => a - b);
    let expected = firstExpected;
    for (const value of sorted) {
      if (value < expected) continue;
      if (value > expected) gaps.push({ processId, from: expected, to: value - 1, missing: value - expected });
      expected = value + 1;
    }
    if (acceptedThrough >= expected) gaps.push({ processId, from: expected, to: acceptedThrough, missing: acceptedThrough - expected + 1 });
  }
  return gaps;
}
