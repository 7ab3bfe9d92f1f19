/**
 * The prediction log's writer thread: owns its own store connection and writes the batches the
 * serving thread posts, so that no INSERT, encoding of stored columns or retention DELETE runs
 * on the answer path. Started by prediction-log-writer.ts (`startPredictionLogWriter`), never on its own.
 *
 * Contract:
 * - Batches arrive one at a time (the serving side waits for each answer before it posts the
 *   next) and each is written in one transaction, one table row per row of the log (the
 *   records of one request and model, prediction-log-batch.ts): on SQLite a prepared INSERT run
 *   per row, the records' values packed (no double is turned into text); on PostgreSQL one
 *   INSERT ... SELECT FROM unnest(...) of column arrays, the values as JSON text. A batch written twice is stored once (the table's key is process id and sequence).
 * - Every batch gets exactly one answer, `written` or `failed` with the store's message.
 * - Every `checkIntervalMs` (and once at start) it deletes records past the retention and counts
 *   each process's missing sequence numbers (`predictionLogLosses`), and posts both.
 * - `close` finishes the batch in hand, closes the connection and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { sql } from 'kysely';
import { openStore } from '../store';
import { PREDICTION_LOG_COLUMNS, storedRows, type EncodedBatch, type StoredValue } from './prediction-log-batch';
import { deletePredictionsBefore, predictionLogLosses, retentionCutoff, type ProcessLosses } from './prediction-log-store';

export interface WriterSettings {
  databaseUrl: string;
  retentionDays: number;
  /** How often retention and the loss count run. */
  checkIntervalMs: number;
  /** SQLite: how long a write waits for another connection's lock (this thread may block). */
  busyTimeoutMs: number;
}

export type ToWriter = { kind: 'write'; id: number; batch: EncodedBatch } | { kind: 'close' };

export type FromWriter =
  | { kind: 'written'; id: number }
  | { kind: 'failed'; id: number; message: string }
  | { kind: 'checked'; deleted: number; losses: ProcessLosses[] }
  | { kind: 'check-failed'; message: string };

/** PostgreSQL element types of the columns, in `PREDICTION_LOG_COLUMNS` order. */
const PG_TYPES = ['text', 'int8', 'int8', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'float8', 'text', 'text', 'text', 'text', 'text', 'int4', 'text'] as const;

type Writer = (batch: EncodedBatch) => Promise<void>;

function sqliteWriter(store: ReturnType<typeof openStore>): Writer {
  const connection = store.sqlite;
  if (!connection) throw new Error('a SQLite store without its connection');
  const text = `INSERT INTO prediction_log (${PREDICTION_LOG_COLUMNS.join(', ')}) VALUES (${PREDICTION_LOG_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT (process_id, sequence) DO NOTHING`;
  // Prepared at the first write, and again after a failed one: the table may not exist yet
  // while the library subgraph migrates the store.
  let writeAll: ((rows: StoredValue[][]) => void) | undefined;
  return async (batch) => {
    const rows = storedRows(batch, 'packed');
    try {
      if (!writeAll) {
        const insert = connection.prepare(text);
        writeAll = connection.transaction((batch: StoredValue[][]) => {
          for (const row of batch) insert.run(row);
        });
      }
      writeAll(rows);
    } catch (error) {
      writeAll = undefined;
      throw error;
    }
  };
}

function postgresWriter(store: ReturnType<typeof openStore>): Writer {
  const columns = sql.join(PREDICTION_LOG_COLUMNS.map((c) => sql.ref(c)));
  return async (batch) => {
    const rows = storedRows(batch, 'json');
    const arrays = PREDICTION_LOG_COLUMNS.map((_, c) => rows.map((row) => row[c] ?? null));
    const unnest = sql.join(arrays.map((values, c) => sql`${values}::${sql.raw(PG_TYPES[c] ?? 'text')}[]`));
    await sql`INSERT INTO prediction_log (${columns}) SELECT * FROM unnest(${unnest}) ON CONFLICT (process_id, sequence) DO NOTHING`.execute(store.db);
  };
}

function run(port: NonNullable<typeof parentPort>, settings: WriterSettings): void {
  const store = openStore(settings.databaseUrl, { busyTimeoutMs: settings.busyTimeoutMs, cacheSizeKb: 1024 });
  const write = store.dialect === 'sqlite' ? sqliteWriter(store) : postgresWriter(store);
  const post = (message: FromWriter) => port.postMessage(message);
  let work: Promise<void> = Promise.resolve();
  /** Store work runs one piece at a time, in arrival order. */
  const serially = (task: () => Promise<void>) => (work = work.then(task));

  const check = () =>
    serially(async () => {
      try {
        const deleted = await deletePredictionsBefore(store.db, retentionCutoff(new Date(), settings.retentionDays));
        // Retention deletes each process's oldest records on purpose: count from the oldest kept.
        post({ kind: 'checked', deleted, losses: await predictionLogLosses(store.db, { retentionApplied: true }) });
      } catch (error) {
        post({ kind: 'check-failed', message: (error as Error).message });
      }
    });
  const timer = setInterval(check, settings.checkIntervalMs);
  void check();

  port.on('message', (message: ToWriter) => {
    switch (message.kind) {
      case 'write':
        void serially(async () => {
          try {
            await write(message.batch);
            post({ kind: 'written', id: message.id });
          } catch (error) {
            post({ kind: 'failed', id: message.id, message: (error as Error).message });
          }
        });
        return;
      case 'close':
        clearInterval(timer);
        void serially(async () => {
          await store.close();
          // Ends this thread only; the serving thread waits for its 'exit'.
          process.exit(0);
        });
        return;
      default: {
        const unknown: never = message;
        throw new Error(`the prediction-log writer got an unknown message: ${JSON.stringify(unknown)}`);
      }
    }
  });
}

if (parentPort) run(parentPort, workerData as WriterSettings);
