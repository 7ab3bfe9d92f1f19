/**
 * The serving thread's side of the prediction log's writer thread (prediction-log-worker.ts):
 * a `PredictionSink` whose `write` posts the batch in compact form and resolves when the writer
 * thread has committed it.
 *
 * Contract:
 * - `writeBatch` costs the caller one `postMessage` of the batch the log built as it queued the
 *   records (prediction-log-batch.ts); `write` takes records and lays them out first
 *   (`encodeBatch`). The INSERT, the encoding of the stored columns and retention run on the
 *   writer thread. It rejects with the store's
 *   message when the writer could not write the batch, and with "stopped" once the thread has
 *   ended, so the log drops and counts instead of waiting forever.
 * - `onCheck` hears each retention run and loss count of the writer thread.
 * - `close` waits for the batches posted so far, then ends the thread and its connection.
 * - The thread keeps the process alive only while a batch or `close` waits for it.
 */
import { Worker } from 'node:worker_threads';
import type { PredictionRecord, PredictionSink } from './prediction-log';
import { encodeBatch, type EncodedBatch } from './prediction-log-batch';
import type { ProcessLosses } from './prediction-log-store';
import type { FromWriter, ToWriter, WriterSettings } from './prediction-log-worker';
import { monitoringScript } from './worker-script';

export interface PredictionLogWriter extends PredictionSink {
  close(): Promise<void>;
}

export interface WriterOptions extends WriterSettings {
  processId: string;
  /** Each retention run and loss count (every `checkIntervalMs`). */
  onCheck?: (result: { deleted: number; losses: ProcessLosses[] }) => void;
  onCheckFailed?: (message: string) => void;
  /** The compiled worker script; found beside this module by default. */
  workerFile?: string;
}

/** The compiled writer script (worker-script.ts). */
export function writerScript(): string {
  return monitoringScript('prediction-log-worker.js', 'the prediction-log writer');
}

export function startPredictionLogWriter({ processId, onCheck = () => undefined, onCheckFailed = () => undefined, workerFile = writerScript(), ...settings }: WriterOptions): PredictionLogWriter {
  const worker = new Worker(workerFile, { workerData: settings });
  worker.unref();
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let stopped: Error | undefined;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

  const stop = (error: Error) => {
    stopped ??= error;
    for (const { reject } of pending.values()) reject(stopped);
    pending.clear();
  };
  worker.on('message', (message: FromWriter) => {
    switch (message.kind) {
      case 'written':
      case 'failed': {
        const waiting = pending.get(message.id);
        pending.delete(message.id);
        if (pending.size === 0) worker.unref();
        if (message.kind === 'written') waiting?.resolve();
        else waiting?.reject(new Error(message.message));
        return;
      }
      case 'checked':
        onCheck({ deleted: message.deleted, losses: message.losses });
        return;
      case 'check-failed':
        onCheckFailed(message.message);
        return;
      default: {
        const unknown: never = message;
        throw new Error(`unknown message from the prediction-log writer: ${JSON.stringify(unknown)}`);
      }
    }
  });
  worker.on('error', (error: unknown) => stop(new Error(`the prediction-log writer thread stopped: ${(error as Error | undefined)?.message ?? String(error)}`)));
  worker.on('exit', () => stop(new Error('the prediction-log writer thread stopped')));

  const writeBatch = (batch: EncodedBatch): Promise<void> => {
    if (stopped) return Promise.reject(stopped);
    if (batch.count === 0) return Promise.resolve();
    const id = ++nextId;
    return new Promise<void>((resolve, reject) => {
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      const message: ToWriter = { kind: 'write', id, batch };
      // Copied, not transferred: a refused batch may be posted again. Its two Float64Arrays
      // are a few tens of kilobytes for a batch of 500 records.
      worker.postMessage(message);
    });
  };

  return {
    write: (records: readonly PredictionRecord[]) => (records.length === 0 && !stopped ? Promise.resolve() : writeBatch(encodeBatch(processId, records))),
    writeBatch,
    async close() {
      if (stopped) return;
      // The writer answers the batches posted before this message first.
      const message: ToWriter = { kind: 'close' };
      worker.ref();
      worker.postMessage(message);
      await exited;
    },
  };
}
