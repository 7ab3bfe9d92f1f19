/**
 * The prediction-log sink on SQLite (a temp file) and on PostgreSQL (a schema of its own,
 * dropped afterwards; skipped with the reason printed when no PostgreSQL answers at
 * SHELFMARK_TEST_POSTGRES_URL, default postgres://127.0.0.1:5432/test).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import { Pool } from 'pg';
import { createPredictionLog, sequenceGaps, type PredictionSink } from '../prediction-log';
import {
  countPredictions,
  createPredictionLogTable,
  createStorePredictionSink,
  deletePredictionsBefore,
  dropPredictionLogTable,
  fromRow,
  predictionLogLosses,
  predictionsAsOf,
  retentionCutoff,
  storedSequences,
  type PredictionLogDatabase,
} from '../prediction-log-store';
import { postgresUnreachableReason, prediction, TEST_POSTGRES_URL } from './fixtures';

/** A sink that stores the first `batches` batches, then hangs as a killed process would. */
function dyingAfter(sink: PredictionSink, batches: number): PredictionSink {
  let written = 0;
  return {
    write: (records) => (written++ < batches ? sink.write(records) : new Promise<void>(() => undefined)),
  };
}

function sinkContract(name: string, open: () => Kysely<PredictionLogDatabase>) {
  describe(`prediction log on ${name}`, () => {
    let db: Kysely<PredictionLogDatabase>;
    beforeAll(async () => {
      db = open();
      await dropPredictionLogTable(db);
      await createPredictionLogTable(db);
      await createPredictionLogTable(db); // a migration run twice changes nothing
    });
    afterAll(async () => {
      await dropPredictionLogTable(db);
      await db.destroy();
    });

    it('stores records as logged, once even when a batch is written twice', async () => {
      const sink = createStorePredictionSink(db);
      const log = createPredictionLog({ sink, processId: 'round-trip', batchSize: 3, flushIntervalMs: 3_600_000 });
      log.log(prediction(1));
      log.log({ ...prediction(2, 'recommendations'), score: null, items: [{ id: '17', score: 0.9 }], features: null, featureRef: 'features:2', arm: 'control' });
      await log.close();
      const rows = await db.selectFrom('prediction_log').selectAll().where('process_id', '=', 'round-trip').orderBy('sequence').execute();
      const records = rows.map(fromRow);
      expect(records[0]).toMatchObject({ ...prediction(1), processId: 'round-trip', sequence: 1, acceptedThrough: 2 });
      expect(records[1]).toMatchObject({ model: 'recommendations', score: null, items: [{ id: '17', score: 0.9 }], features: null, featureRef: 'features:2', arm: 'control' });
      await sink.write(records);
      expect(await countPredictions(db)).toMatchObject({ churn: 1, recommendations: 1 });
    });

    it('shows the records a killed writer lost as a gap up to what it had accepted', async () => {
      const log = createPredictionLog({ sink: dyingAfter(createStorePredictionSink(db), 1), processId: 'killed', batchSize: 10, flushIntervalMs: 3_600_000 });
      for (let n = 1; n <= 25; n++) log.log(prediction(n, 'overdue'));
      await new Promise((resolve) => setImmediate(resolve));
      for (let i = 0; i < 20 && (await db.selectFrom('prediction_log').select('sequence').where('process_id', '=', 'killed').execute()).length < 10; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const losses = await predictionLogLosses(db);
      expect(losses.find((l) => l.processId === 'killed')).toEqual({ processId: 'killed', stored: 10, firstSequence: 1, lastSequence: 10, acceptedThrough: 25, missing: 15 });
      expect(losses.find((l) => l.processId === 'round-trip')?.missing).toBe(0);
      expect(sequenceGaps([await storedSequences(db, 'killed')])).toEqual([{ processId: 'killed', from: 11, to: 25, missing: 15 }]);
    });

    it('joins an outcome to the prediction live at its time, never to one made after it', async () => {
      const log = createPredictionLog({ sink: createStorePredictionSink(db), processId: 'as-of', batchSize: 100, flushIntervalMs: 3_600_000 });
      const at = (day: string, entityId: string, score: number) => ({ ...prediction(1, 'overdue'), entityKind: 'loan', entityId, score, at: `${day}T09:00:00.000Z` });
      log.log(at('2026-12-01', 'L1', 0.1));
      log.log(at('2026-12-10', 'L1', 0.2));
      log.log(at('2026-12-20', 'L1', 0.9));
      log.log(at('2026-12-15', 'L2', 0.4));
      log.log({ ...at('2026-12-05', 'L1', 0.7), model: 'churn' });
      await log.close();
      const live = await predictionsAsOf(db, { model: 'overdue', entityKind: 'loan', entityIds: ['L1', 'L2', 'L3'], at: '2026-12-12T00:00:00.000Z' });
      expect([...live.keys()]).toEqual(['L1']);
      expect(live.get('L1')).toMatchObject({ score: 0.2, at: '2026-12-10T09:00:00.000Z' });
      const later = await predictionsAsOf(db, { model: 'overdue', entityKind: 'loan', entityIds: ['L1', 'L2'], at: '2027-01-01T00:00:00.000Z' });
      expect(Object.fromEntries([...later].map(([id, r]) => [id, r.score]))).toEqual({ L1: 0.9, L2: 0.4 });
    });

    it('deletes records older than the retention cutoff and counts from the oldest kept after it', async () => {
      const log = createPredictionLog({ sink: createStorePredictionSink(db), processId: 'retained', batchSize: 100, flushIntervalMs: 3_600_000 });
      log.log({ ...prediction(1), at: '2026-09-01T08:00:00.000Z' });
      log.log({ ...prediction(2), at: '2026-12-01T08:00:00.000Z' });
      await log.close();
      const cutoff = retentionCutoff(new Date('2026-12-06T00:00:00.000Z'), 30);
      expect(cutoff).toBe('2026-11-06T00:00:00.000Z');
      expect(await deletePredictionsBefore(db, cutoff)).toBe(1);
      const retained = (await predictionLogLosses(db, { retentionApplied: true })).find((l) => l.processId === 'retained');
      expect(retained).toMatchObject({ stored: 1, firstSequence: 2, missing: 0 });
      expect((await predictionLogLosses(db)).find((l) => l.processId === 'retained')?.missing).toBe(1);
    });
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-prediction-log-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

sinkContract('SQLite', () => new Kysely<PredictionLogDatabase>({ dialect: new SqliteDialect({ database: new SqliteDatabase(path.join(dir, 'log.db')) }) }));

const SCHEMA = 'shelfmark_prediction_log_test';
const BASE_URL = TEST_POSTGRES_URL;

const unreachable = postgresUnreachableReason(SCHEMA);
if (unreachable) console.warn(`skipping the PostgreSQL prediction-log tests: PostgreSQL is not reachable (${unreachable})`);
if (!unreachable) {
  const pool = new Pool({ connectionString: BASE_URL, max: 2, options: `-c search_path=${SCHEMA}` });
  sinkContract('PostgreSQL', () => new Kysely<PredictionLogDatabase>({ dialect: new PostgresDialect({ pool }) }));
  afterAll(async () => {
    const admin = new Pool({ connectionString: BASE_URL, max: 1 });
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin.end();
  });
}
