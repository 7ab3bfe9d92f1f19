/**
 * A model subgraph's prediction log, as served, recording as fast as it can into a SQLite file
 * until it is killed. Bundled and started by kill.test.ts; prints "written N" whenever its
 * `prediction_log_records_total` (records the writer thread has committed) grows.
 * Usage: node kill-writer.js FILE CAPACITY
 */
import { loadConfig } from '../../config';
import { createLogger } from '../../logging';
import { createProcessMetrics } from '../../metrics';
import { openPredictionLogging, recorded } from '../../model-runtime/prediction-logging';
import { openStore } from '../../store';
import { createCurrentPredictionLogTable } from '../prediction-log-store';

async function main(): Promise<void> {
  const [file = '', capacity = '2000'] = process.argv.slice(2);
  const config = loadConfig({ SHELFMARK_ROOT: process.env.SHELFMARK_ROOT, DATABASE_URL: `sqlite:${file}`, PREDICTION_LOG_CAPACITY: capacity, PREDICTION_LOG_BATCH_SIZE: '200', PREDICTION_LOG_FLUSH_INTERVAL_MS: '20' });
  const store = openStore(config.databaseUrl);
  await createCurrentPredictionLogTable(store.db);
  const metrics = createProcessMetrics('kill-writer');
  const log = openPredictionLogging({ config: config.predictionLog, store, metrics, logger: createLogger('kill-writer', 'silent'), asOf: () => '2026-12-06' });
  const model = { name: 'churn', version: '1.2.0', arm: null };
  let written = 0;
  setInterval(() => {
    void metrics.predictionLogRecords.get().then(({ values }) => {
      const now = values.reduce((sum, v) => sum + v.value, 0);
      if (now > written) process.stdout.write(`written ${(written = now)}\n`);
    });
  }, 2);
  let n = 0;
  const page = (): void => {
    const answers = Array.from({ length: 100 }, () => ++n);
    recorded(log, `page-${n}`, answers, (id) => ({ model, entityKind: 'member', entityId: String(id), score: (id % 100) / 100, factors: [{ name: 'days_since_last_loan', weight: 0.4 }] }));
    setImmediate(page);
  };
  page();
}

void main();
