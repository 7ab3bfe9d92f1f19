import { describe, expect, it } from '@jest/globals';
import { Counter, Registry } from 'prom-client';
import { createPredictionLog, MAX_RECORDS_PER_ROW, sequenceGaps, type PredictionRecord, type PredictionSink } from '../prediction-log';
import { decodeBatch, type EncodedBatch } from '../prediction-log-batch';
import { prediction } from './fixtures';

function memorySink(): PredictionSink & { batches: PredictionRecord[][] } {
  const batches: PredictionRecord[][] = [];
  return { batches, write: async (records) => void batches.push([...records]) };
}

/** A sink whose writes wait until released, as a slow store would. */
function stalledSink(): PredictionSink & { writes: number; release(): void } {
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const sink = { writes: 0, release: () => release(), write: async () => { sink.writes += 1; await gate; } };
  return sink;
}

function counters() {
  const registry = new Registry();
  const records = new Counter({ name: 'prediction_log_records_total', help: 'h', labelNames: ['model'], registers: [registry] });
  const dropped = new Counter({ name: 'prediction_log_dropped_total', help: 'h', labelNames: ['model'], registers: [registry] });
  return { records, dropped };
}

async function valueOf(counter: Counter<'model'>, model: string): Promise<number> {
  return (await counter.get()).values.find((v) => v.labels.model === model)?.value ?? 0;
}

describe('createPredictionLog', () => {
  it('writes full batches without waiting for the timer, numbering records per process', async () => {
    const sink = memorySink();
    const log = createPredictionLog({ sink, batchSize: 4, flushIntervalMs: 3_600_000, processId: 'p1' });
    for (let n = 1; n <= 10; n++) expect(log.log(prediction(n))).toBe(true);
    expect(sink.batches).toHaveLength(0);
    await log.close();
    expect(sink.batches.map((b) => b.length)).toEqual([4, 4, 2]);
    const all = sink.batches.flat();
    expect(all.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(all.every((r) => r.processId === 'p1' && r.acceptedThrough === 10)).toBe(true);
    expect(log.stats()).toEqual({ accepted: 10, rows: 10, written: 10, dropped: 0, queued: 0 });
  });

  it('numbers rows: consecutive records of one request and model share a sequence number, and a batch never splits a row', async () => {
    const sink = memorySink();
    const log = createPredictionLog({ sink, batchSize: 3, flushIntervalMs: 3_600_000, processId: 'p1' });
    const page = (requestId: string, model: string, n: number) => ({ ...prediction(n, model), requestId, at: '2026-12-07T10:00:00.000Z' });
    // A page: five churn risks, then five segments of the same request, then another request's churn risks.
    for (let n = 1; n <= 5; n++) log.log(page('r1', 'churn', n));
    for (let n = 1; n <= 5; n++) log.log(page('r1', 'segmentation', n));
    for (let n = 1; n <= 2; n++) log.log(page('r2', 'churn', n));
    // Same request and model, another version: a row of its own.
    log.log({ ...page('r2', 'churn', 3), version: '1.3.0' });
    await log.close();
    expect(sink.batches.map((b) => b.map((r) => r.sequence))).toEqual([[1, 1, 1, 1, 1], [2, 2, 2, 2, 2], [3, 3, 4]]);
    expect(sink.batches.flat().map((r) => r.entityId)).toEqual(['1', '2', '3', '4', '5', '1', '2', '3', '4', '5', '1', '2', '3']);
    expect(log.stats()).toEqual({ accepted: 13, rows: 4, written: 13, dropped: 0, queued: 0 });
  });

  it('hands a sink that takes batches each batch as built, and keeps nothing of the object a record was logged from', async () => {
    const batches: EncodedBatch[] = [];
    let recordsWritten = 0;
    const sink: PredictionSink = { write: async (records) => void (recordsWritten += records.length), writeBatch: async (batch) => void batches.push(batch) };
    const log = createPredictionLog({ sink, batchSize: 4, flushIntervalMs: 3_600_000, processId: 'p1' });
    // One object, changed between calls, as a subgraph's logging reuses it.
    const input = { ...prediction(0), requestId: 'r1', at: '2026-12-07T10:00:00.000Z' };
    const logged = [];
    for (let n = 1; n <= 6; n++) {
      Object.assign(input, { entityId: String(n), score: n / 10, factors: [{ name: 'loans', weight: n }], features: { days: n, genre: `g${n}` } });
      if (n === 5) input.requestId = 'r2';
      logged.push({ ...input });
      log.log(input);
    }
    await log.close();
    expect(recordsWritten).toBe(0);
    expect(batches.map((b) => b.count)).toEqual([4, 2]);
    const records = batches.flatMap(decodeBatch);
    expect(records).toEqual(logged.map((r) => ({ ...r, asOf: null, label: null, processId: 'p1', sequence: r.requestId === 'r1' ? 1 : 2, acceptedThrough: 2 })));
  });

  it('starts a new row past MAX_RECORDS_PER_ROW records', async () => {
    const sink = memorySink();
    const log = createPredictionLog({ sink, batchSize: 10_000, capacity: 10_000, flushIntervalMs: 3_600_000 });
    for (let n = 0; n < MAX_RECORDS_PER_ROW + 1; n++) log.log({ ...prediction(n), requestId: 'big', at: '2026-12-07T10:00:00.000Z' });
    await log.close();
    const sequences = sink.batches.flat().map((r) => r.sequence);
    expect(sequences.filter((s) => s === 1)).toHaveLength(MAX_RECORDS_PER_ROW);
    expect(sequences.at(-1)).toBe(2);
  });

  it('writes a partial batch when the timer fires', async () => {
    let written: (records: readonly PredictionRecord[]) => void = () => undefined;
    const arrived = new Promise<readonly PredictionRecord[]>((resolve) => (written = resolve));
    const log = createPredictionLog({ sink: { write: async (records) => written(records) }, batchSize: 100, flushIntervalMs: 5 });
    log.log(prediction(1));
    expect((await arrived).map((r) => r.requestId)).toEqual(['req-1']);
    await log.close();
  });

  it('drops and counts past the bound, counting the batch being written against it, and never waits for the store', async () => {
    const sink = stalledSink();
    const { records, dropped } = counters();
    const log = createPredictionLog({ sink, capacity: 6, batchSize: 4, flushIntervalMs: 3_600_000, counters: { records, dropped } });
    const accepted = Array.from({ length: 5 }, (_, n) => log.log(prediction(n, 'overdue')));
    const flushed = log.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.writes).toBe(1);
    expect(accepted).toEqual([true, true, true, true, true]);
    expect(log.stats().queued).toBe(5);
    expect(log.log(prediction(6, 'overdue'))).toBe(true);
    expect(log.log(prediction(7, 'overdue'))).toBe(false);
    expect(log.log(prediction(8, 'churn'))).toBe(false);
    expect(await valueOf(dropped, 'overdue')).toBe(1);
    expect(await valueOf(dropped, 'churn')).toBe(1);
    sink.release();
    await flushed;
    await log.close();
    expect(log.stats()).toEqual({ accepted: 6, rows: 6, written: 6, dropped: 2, queued: 0 });
    expect(await valueOf(records, 'overdue')).toBe(6);
  });

  it('drops and counts a batch the store refuses, and keeps logging', async () => {
    const { records, dropped } = counters();
    const errors: string[] = [];
    let fail = true;
    const sink: PredictionSink = {
      write: async () => {
        if (fail) throw new Error('disk full');
      },
    };
    const log = createPredictionLog({ sink, batchSize: 2, flushIntervalMs: 3_600_000, counters: { records, dropped }, onError: (e, n) => errors.push(`${(e as Error).message}:${n}`) });
    log.log(prediction(1));
    log.log(prediction(2));
    await log.flush();
    fail = false;
    log.log(prediction(3));
    await log.close();
    expect(errors).toEqual(['disk full:2']);
    expect(await valueOf(dropped, 'churn')).toBe(2);
    expect(await valueOf(records, 'churn')).toBe(1);
    expect(log.stats()).toMatchObject({ accepted: 3, written: 1, dropped: 2 });
  });

  it('refuses records after close and rejects a bound that is not a positive integer', async () => {
    const log = createPredictionLog({ sink: memorySink() });
    await log.close();
    expect(log.log(prediction(1))).toBe(false);
    expect(() => createPredictionLog({ sink: memorySink(), capacity: 0 })).toThrow('capacity must be a positive integer, got 0');
  });
});

describe('sequenceGaps', () => {
  it('finds missing runs, a lost tail, and nothing for a complete process', () => {
    expect(
      sequenceGaps([
        { processId: 'a', sequences: [1, 2, 5, 6, 9], acceptedThrough: 12 },
        { processId: 'b', sequences: [1, 2, 3], acceptedThrough: 3 },
        { processId: 'c', sequences: [40, 41], acceptedThrough: 41, firstExpected: 40 },
      ]),
    ).toEqual([
      { processId: 'a', from: 3, to: 4, missing: 2 },
      { processId: 'a', from: 7, to: 8, missing: 2 },
      { processId: 'a', from: 10, to: 12, missing: 3 },
    ]);
  });
});
