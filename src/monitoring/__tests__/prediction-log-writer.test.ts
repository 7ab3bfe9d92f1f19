/**
 * The writer thread, on SQLite (a temp file) and on PostgreSQL (a schema of its own, dropped
 * afterwards; skipped with the reason printed when no PostgreSQL answers at
 * SHELFMARK_TEST_POSTGRES_URL). It runs the compiled worker script, so `node scripts/build.js`
 * comes first (as `npm test` does).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Counter, Registry } from 'prom-client';
import { openStore, type Store } from '../../store';
import { createPredictionLog } from '../prediction-log';
import { createCurrentPredictionLogTable, dropPredictionLogTable, recordsOf, type PredictionLogTable, type ProcessLosses } from '../prediction-log-store';
import { startPredictionLogWriter } from '../prediction-log-writer';
import { postgresUnreachableReason, prediction, TEST_POSTGRES_URL } from './fixtures';

function writerContract(name: string, databaseUrl: () => string) {
  describe(`the prediction-log writer thread on ${name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = openStore(databaseUrl());
      await dropPredictionLogTable(store.db);
      await createCurrentPredictionLogTable(store.db);
    });
    afterAll(async () => {
      await store.close();
    });

    it('stores every record as it was logged, counts them, and reports the losses of every process', async () => {
      const registry = new Registry();
      const counters = {
        records: new Counter({ name: 'prediction_log_records_total', help: 'h', labelNames: ['model'], registers: [registry] }),
        dropped: new Counter({ name: 'prediction_log_dropped_total', help: 'h', labelNames: ['model'], registers: [registry] }),
      };
      const checks: ProcessLosses[][] = [];
      const writer = startPredictionLogWriter({ processId: 'writer-1', databaseUrl: databaseUrl(), retentionDays: 3650, checkIntervalMs: 3_600_000, busyTimeoutMs: 1000, onCheck: ({ losses }) => checks.push(losses) });
      const log = createPredictionLog({ sink: writer, processId: 'writer-1', batchSize: 100, flushIntervalMs: 3_600_000, counters });
      const inputs = Array.from({ length: 250 }, (_, n) => ({ ...prediction(n + 1, n % 5 === 0 ? 'recommendations' : 'churn'), items: n % 5 === 0 ? [{ id: String(n), score: 1 / (n + 1) }] : null }));
      // A page: one request's 100 predictions of one model, one row, values of every kind.
      const page = Array.from({ length: 100 }, (_, n) => ({
        ...prediction(n + 1),
        requestId: 'page',
        at: '2026-12-07T10:00:00.000Z',
        score: n === 9 ? null : 1 / (n + 3),
        items: n % 4 === 0 ? [{ id: `b${n}`, score: -1e-300 }, { id: 'q"\\', score: 0.1 + 0.2 }] : null,
        factors: n === 2 ? [] : [{ name: 'days_since_last_loan', weight: (n + 1) / 7 }],
        features: n % 3 ? { recency: 12.345678901234567 * n, branch: 'Central — ünïcode', missing: null, big: 1e21 } : null,
        featureRef: null,
      }));
      for (const input of [...inputs, ...page]) log.log(input);
      await log.close();
      await writer.close();
      const rows = (await store.db.selectFrom('prediction_log' as never).selectAll().where('process_id' as never, '=', 'writer-1' as never).orderBy('sequence' as never).execute()) as unknown as PredictionLogTable[];
      expect(rows).toHaveLength(251);
      expect(rows.flatMap(recordsOf)).toEqual([
        ...inputs.map((input, i) => ({ ...input, asOf: null, label: null, processId: 'writer-1', sequence: i + 1, acceptedThrough: expect.any(Number) })),
        ...page.map((input) => ({ ...input, asOf: null, label: null, processId: 'writer-1', sequence: 251, acceptedThrough: 251 })),
      ]);
      expect((await counters.records.get()).values.map((v) => [v.labels.model, v.value]).sort()).toEqual([['churn', 300], ['recommendations', 50]]);
      // The check at start saw the table, empty of this process.
      expect(checks[0]?.find((l) => l.processId === 'writer-1')).toBeUndefined();
    });

    it('rejects a batch the store refuses with its message, and everything once stopped', async () => {
      const writer = startPredictionLogWriter({ processId: 'writer-2', databaseUrl: databaseUrl(), retentionDays: 3650, checkIntervalMs: 3_600_000, busyTimeoutMs: 100 });
      const record = { ...prediction(1), processId: 'writer-2', sequence: 1, acceptedThrough: 1 };
      await dropPredictionLogTable(store.db);
      try {
        await expect(writer.write([record])).rejects.toThrow(/prediction_log/);
      } finally {
        await createCurrentPredictionLogTable(store.db);
      }
      await expect(writer.write([record])).resolves.toBeUndefined();
      await writer.close();
      await expect(writer.write([record])).rejects.toThrow('stopped');
    });
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-log-writer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

writerContract('SQLite', () => `sqlite:${path.join(dir, 'log.db')}`);

const SCHEMA = 'shelfmark_log_writer_test';
const BASE_URL = TEST_POSTGRES_URL;
const SCHEMA_URL = `${BASE_URL}${BASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;

const unreachable = postgresUnreachableReason(SCHEMA);
if (unreachable) console.warn(`skipping the PostgreSQL writer-thread tests: PostgreSQL is not reachable (${unreachable})`);
if (!unreachable) {
  writerContract('PostgreSQL', () => SCHEMA_URL);
  afterAll(async () => {
    const admin = openStore(BASE_URL);
    await admin.db.schema.dropSchema(SCHEMA).ifExists().cascade().execute();
    await admin.close();
  });
}
