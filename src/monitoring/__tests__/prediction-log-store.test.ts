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
import { createPredictionLog, sequenceGaps, type PredictionInput, type PredictionSink } from '../prediction-log';
import {
  countPredictions,
  addPredictionLogEntries,
  createPredictionLogTable,
  createStorePredictionSink,
  deletePredictionsBefore,
  dropPredictionLogTable,
  predictionLogLosses,
  predictionsAsOf,
  recordsOf,
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
      await addPredictionLogEntries(db);
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
      const records = rows.flatMap(recordsOf);
      expect(records[0]).toMatchObject({ ...prediction(1), processId: 'round-trip', sequence: 1, acceptedThrough: 2 });
      expect(records[1]).toMatchObject({ model: 'recommendations', score: null, items: [{ id: '17', score: 0.9 }], features: null, featureRef: 'features:2', arm: 'control' });
      await sink.write(records);
      expect(await countPredictions(db)).toMatchObject({ churn: 1, recommendations: 1 });
    });

    it('stores a page of one request and model as one row, and reads it back as its records', async () => {
      const log = createPredictionLog({ sink: createStorePredictionSink(db), processId: 'page', batchSize: 500, flushIntervalMs: 3_600_000 });
      const inputs: PredictionInput[] = Array.from({ length: 100 }, (_, n) => ({
        ...prediction(n + 1),
        requestId: 'page-1',
        at: '2026-12-07T10:00:00.000Z',
        asOf: '2026-12-07',
        score: n === 7 ? null : 1 / (n + 3),
        label: n % 2 ? 'Champions' : null,
        factors: n === 3 ? [] : [{ name: 'days_since_last_loan', weight: -(n + 1) / 7 }, { name: 'loans_last_90d', weight: 0.1 + 0.2 }],
        features: n % 3 ? { recency: n / 3, branch: 'Central — ünïcode', missing: null } : null,
        featureRef: null,
      }));
      inputs.push({ ...prediction(101, 'recommendations'), requestId: 'page-1', at: '2026-12-07T10:00:00.000Z', asOf: '2026-12-07', score: null, items: [{ id: '17', score: 0.9 }, { id: 'q"', score: 1e-300 }], label: null, features: null, featureRef: 'as-of:2026-12-07' });
      for (const input of inputs) log.log(input);
      await log.close();
      const rows = await db.selectFrom('prediction_log').selectAll().where('process_id', '=', 'page').orderBy('sequence').execute();
      expect(rows.map((r) => [Number(r.sequence), Number(r.records)])).toEqual([[1, 100], [2, 1]]);
      expect(rows.flatMap(recordsOf)).toEqual(inputs.map((input, i) => ({ ...input, processId: 'page', sequence: i < 100 ? 1 : 2, acceptedThrough: 2 })));
      expect(await countPredictions(db)).toMatchObject({ churn: 101 });
      const live = await predictionsAsOf(db, { model: 'churn', entityKind: 'member', entityIds: ['5', '50', 'none'], at: '2026-12-08' });
      expect(Object.fromEntries([...live].map(([id, r]) => [id, r.score]))).toEqual({ 5: 1 / 7, 50: 1 / 52 });
    });

    it('reads rows written before records were grouped, one record each', async () => {
      await db
        .insertInto('prediction_log')
        .values({ process_id: 'before', sequence: 1, accepted_through: 1, request_id: 'old', predicted_at: '2026-12-01T00:00:00.000Z', as_of: null, model: 'churn', version: '1.2.0', arm: null, entity_kind: 'member', entity_id: '9', score: 0.25, items: null, label: null, factors: '[{"name":"x","weight":0.5}]', features: '{"x":1}', feature_ref: null, records: 1, entries: null })
        .execute();
      const rows = await db.selectFrom('prediction_log').selectAll().where('process_id', '=', 'before').execute();
      expect(rows.flatMap(recordsOf)).toEqual([{ processId: 'before', sequence: 1, acceptedThrough: 1, requestId: 'old', at: '2026-12-01T00:00:00.000Z', asOf: null, model: 'churn', version: '1.2.0', arm: null, entityKind: 'member', entityId: '9', score: 0.25, items: null, label: null, factors: [{ name: 'x', weight: 0.5 }], features: { x: 1 }, featureRef: null }]);
      const live = await predictionsAsOf(db, { model: 'churn', entityKind: 'member', entityIds: ['9'], at: '2026-12-02' });
      expect(live.get('9')?.score).toBe(0.25);
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
