/**
 * WAL checkpoints off the writer's thread. SQLite's automatic checkpoint runs inside whichever
 * commit crosses the WAL's size threshold: that commit copies the WAL back into the database
 * and fsyncs both, on the writer's thread, while every other request of the process waits.
 * On the mutation path this made one commit in fifty take tens of milliseconds.
 *
 * `startCheckpointer` turns the writer connection's automatic checkpoint off and runs passive
 * checkpoints every `intervalMs` from a worker thread with its own connection instead. A passive
 * checkpoint never blocks the writer or readers; what it could not copy (frames a reader still
 * needs) is copied by the next one. Should the worker fail, the writer's automatic checkpoint
 * comes back on, so the WAL never grows without bound.
 */
import { Worker } from 'node:worker_threads';
import type { Database as SqliteDatabase } from 'better-sqlite3';

export interface CheckpointerOptions {
  /** Time between checkpoints (default 1000 ms). */
  intervalMs?: number;
  /** Called when the worker failed and the writer checkpoints for itself again. */
  onError?: (error: Error) => void;
}

export interface Checkpointer {
  /** Stops the worker after one last checkpoint. */
  stop(): Promise<void>;
}

/** SQLite's default threshold, in pages, restored when the worker fails. */
const AUTOMATIC_CHECKPOINT_PAGES = 1000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Sqlite = require(workerData.driver);
const db = new Sqlite(workerData.file, { timeout: 5000 });
const checkpoint = () => db.pragma('wal_checkpoint(PASSIVE)');
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export function startCheckpointer(writer: SqliteDatabase, file: string, options: CheckpointerOptions = {}): Checkpointer {
  const intervalMs = options.intervalMs ?? 1000;
  if (!Number.isInteger(intervalMs) || intervalMs < 1) throw new RangeError(`checkpoint interval must be a positive whole number of ms, got ${intervalMs}`);
  writer.pragma('wal_autocheckpoint = 0');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver: require.resolve('better-sqlite3'), file, intervalMs } });
  worker.unref();
  let stopped = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.once('error', (error) => {
    if (!stopped && writer.open) writer.pragma(`wal_autocheckpoint = ${AUTOMATIC_CHECKPOINT_PAGES}`);
    options.onError?.(error);
  });
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      worker.postMessage('stop');
      await exited;
    },
  };
}
