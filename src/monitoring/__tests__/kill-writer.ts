/**
 * A process that logs predictions as fast as it can into a SQLite file until it is killed.
 * Bundled and started by kill.test.ts; prints "written N" each time a batch is durable.
 * Usage: node kill-writer.js FILE CAPACITY
 */
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { createPredictionLog } from '../prediction-log';
import { createPredictionLogTable, createStorePredictionSink } from '../prediction-log-store';
import { prediction } from './fixtures';

async function main(): Promise<void> {
  const [file = '', capacity = '2000'] = process.argv.slice(2);
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: sqlite }) });
  await createPredictionLogTable(db);
  const store = createStorePredictionSink(db);
  let written = 0;
  const log = createPredictionLog({
    sink: {
      async write(records) {
        await store.write(records);
        written += records.length;
        process.stdout.write(`written ${written}\n`);
        // better-sqlite3 writes synchronously; a networked store (PostgreSQL) lets requests
        // run while a batch is in flight, which is the case this process stands for.
        await new Promise((resolve) => setImmediate(resolve));
      },
    },
    capacity: Number(capacity),
    batchSize: 200,
    flushIntervalMs: 20,
    processId: 'killed-writer',
  });
  let n = 0;
  const burst = (): void => {
    for (let i = 0; i < 300; i++) log.log(prediction(++n));
    setImmediate(burst);
  };
  burst();
}

void main();
