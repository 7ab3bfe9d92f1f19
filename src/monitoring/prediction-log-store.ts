/**
 * The prediction log in the store: the `prediction_log` table (same DDL on SQLite and
 * PostgreSQL), a sink that writes batches into it, retention, and the per-process sequence
 * numbers that `sequenceGaps` needs.
 *
 * The table is keyed by (process_id, sequence), so writing a batch twice stores it once.
 * Timestamps are ISO 8601 text, compared as text on both dialects, like the store's dates.
 * JSON columns (items, factors, features) are text, so one schema serves both dialects.
 */
import { sql, type Kysely } from 'kysely';
import { chunks } from '../store/in-chunks';
import type { PredictionRecord, PredictionSink, StoredSequences } from './prediction-log';

export interface PredictionLogTable {
  process_id: string;
  sequence: number;
  accepted_through: number;
  request_id: string;
  predicted_at: string;
  /** The library clock's date when the prediction was made. */
  as_of: string | null;
  model: string;
  version: string;
  arm: string | null;
  entity_kind: string;
  entity_id: string;
  score: number | null;
  /** JSON array of {id, score}, or null. */
  items: string | null;
  /** A class answer (a segment), or null. */
  label: string | null;
  /** JSON array of {name, weight}. */
  factors: string;
  /** JSON object of feature values, or null. */
  features: string | null;
  feature_ref: string | null;
}

export interface PredictionLogDatabase {
  prediction_log: PredictionLogTable;
}

/**
 * Any Kysely instance whose database has the `prediction_log` table (the store's, once its
 * Database type includes PredictionLogDatabase). Kysely's type parameter is invariant, so the
 * functions here take the instance untyped and read it through this one narrowing.
 */
export type StoreDb = Kysely<any>;

function logTable(db: StoreDb): Kysely<PredictionLogDatabase> {
  return db;
}

/** Creates the table and its indexes; written to be called from a migration's `up`. */
export async function createPredictionLogTable(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('prediction_log')
    .ifNotExists()
    .addColumn('process_id', 'text', (c) => c.notNull())
    .addColumn('sequence', 'bigint', (c) => c.notNull())
    .addColumn('accepted_through', 'bigint', (c) => c.notNull())
    .addColumn('request_id', 'text', (c) => c.notNull())
    .addColumn('predicted_at', 'text', (c) => c.notNull())
    .addColumn('as_of', 'text')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('arm', 'text')
    .addColumn('entity_kind', 'text', (c) => c.notNull())
    .addColumn('entity_id', 'text', (c) => c.notNull())
    .addColumn('score', 'double precision')
    .addColumn('items', 'text')
    .addColumn('label', 'text')
    .addColumn('factors', 'text', (c) => c.notNull())
    .addColumn('features', 'text')
    .addColumn('feature_ref', 'text')
    .addPrimaryKeyConstraint('prediction_log_pk', ['process_id', 'sequence'])
    .execute();
  // Windows and retention scan by model and time; the outcome join looks up an entity's
  // predictions made before a date.
  await db.schema.createIndex('prediction_log_model_time').ifNotExists().on('prediction_log').columns(['model', 'predicted_at']).execute();
  await db.schema.createIndex('prediction_log_entity_time').ifNotExists().on('prediction_log').columns(['entity_kind', 'entity_id', 'predicted_at']).execute();
  await db.schema.createIndex('prediction_log_time').ifNotExists().on('prediction_log').column('predicted_at').execute();
}

export async function dropPredictionLogTable(db: StoreDb): Promise<void> {
  await db.schema.dropTable('prediction_log').ifExists().execute();
}

function toRow(record: PredictionRecord): PredictionLogTable {
  return {
    process_id: record.processId,
    sequence: record.sequence,
    accepted_through: record.acceptedThrough,
    request_id: record.requestId,
    predicted_at: record.at,
    as_of: record.asOf ?? null,
    model: record.model,
    version: record.version,
    arm: record.arm,
    entity_kind: record.entityKind,
    entity_id: record.entityId,
    score: record.score,
    items: record.items === null ? null : JSON.stringify(record.items),
    label: record.label ?? null,
    factors: JSON.stringify(record.factors),
    features: record.features === null ? null : JSON.stringify(record.features),
    feature_ref: record.featureRef,
  };
}

/** A stored row back as a record (JSON columns parsed, bigint columns as numbers). */
export function fromRow(row: PredictionLogTable): PredictionRecord {
  return {
    processId: row.process_id,
    sequence: Number(row.sequence),
    acceptedThrough: Number(row.accepted_through),
    requestId: row.request_id,
    at: row.predicted_at,
    asOf: row.as_of,
    model: row.model,
    version: row.version,
    arm: row.arm,
    entityKind: row.entity_kind,
    entityId: row.entity_id,
    score: row.score === null ? null : Number(row.score),
    items: row.items === null ? null : (JSON.parse(row.items) as PredictionRecord['items']),
    label: row.label,
    factors: JSON.parse(row.factors) as PredictionRecord['factors'],
    features: row.features === null ? null : (JSON.parse(row.features) as PredictionRecord['features']),
    featureRef: row.feature_ref,
  };
}

/** Rows per INSERT: 17 columns × 1,000 stays under SQLite's and PostgreSQL's bound-parameter limits. */
const ROWS_PER_INSERT = 1_000;

/** A sink that writes each batch in one transaction; a batch written again is stored once. */
export function createStorePredictionSink(db: StoreDb): PredictionSink {
  return {
    async write(records) {
      if (records.length === 0) return;
      const rows = records.map(toRow);
      await logTable(db).transaction().execute(async (tx) => {
        for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
          await tx
            .insertInto('prediction_log')
            .values(rows.slice(start, start + ROWS_PER_INSERT))
            .onConflict((oc) => oc.columns(['process_id', 'sequence']).doNothing())
            .execute();
        }
      });
    },
  };
}

/** Deletes records predicted before `cutoff` (ISO timestamp or date); returns how many. */
export async function deletePredictionsBefore(db: StoreDb, cutoff: string): Promise<number> {
  const result = await logTable(db).deleteFrom('prediction_log').where('predicted_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/**
 * The retention cutoff for `retentionDays` before `now` (ISO timestamp), as an ISO timestamp;
 * records predicted before it are deleted by `deletePredictionsBefore`.
 */
export function retentionCutoff(now: Date, retentionDays: number): string {
  if (!(retentionDays > 0)) throw new RangeError(`retentionDays must be positive, got ${retentionDays}`);
  return new Date(now.getTime() - retentionDays * 86_400_000).toISOString();
}

/** Losses of one process, counted in SQL without reading its rows. */
export interface ProcessLosses {
  processId: string;
  stored: number;
  firstSequence: number;
  lastSequence: number;
  acceptedThrough: number;
  /** Sequence numbers between the first expected one and `acceptedThrough` that are not stored. */
  missing: number;
}

/**
 * Per process, how many accepted records the store lacks. Counted from sequence 1, or from
 * the lowest stored sequence when `retentionApplied` (older records were deleted on purpose).
 * For where the gaps are, read one process's sequences with `storedSequences`.
 */
export async function predictionLogLosses(
  db: StoreDb,
  { retentionApplied = false }: { retentionApplied?: boolean } = {},
): Promise<ProcessLosses[]> {
  const rows = await logTable(db)
    .selectFrom('prediction_log')
    .select((eb) => [
      'process_id',
      eb.fn.countAll<number>().as('stored'),
      eb.fn.min<number>('sequence').as('first'),
      eb.fn.max<number>('sequence').as('last'),
      eb.fn.max<number>('accepted_through').as('accepted_through'),
    ])
    .groupBy('process_id')
    .orderBy('process_id')
    .execute();
  return rows.map((row) => {
    const first = Number(row.first);
    const acceptedThrough = Math.max(Number(row.accepted_through), Number(row.last));
    const firstExpected = retentionApplied ? first : 1;
    return {
      processId: row.process_id,
      stored: Number(row.stored),
      firstSequence: first,
      lastSequence: Number(row.last),
      acceptedThrough,
      missing: acceptedThrough - firstExpected + 1 - Number(row.stored),
    };
  });
}

/** One process's stored sequence numbers, for `sequenceGaps` to say where records are missing. */
export async function storedSequences(
  db: StoreDb,
  processId: string,
  { retentionApplied = false }: { retentionApplied?: boolean } = {},
): Promise<StoredSequences> {
  const rows = await logTable(db).selectFrom('prediction_log').select(['sequence', 'accepted_through']).where('process_id', '=', processId).orderBy('sequence').execute();
  const sequences = rows.map((row) => Number(row.sequence));
  const acceptedThrough = rows.reduce((highest, row) => Math.max(highest, Number(row.accepted_through)), 0);
  return { processId, sequences, acceptedThrough, firstExpected: retentionApplied ? (sequences[0] ?? 1) : 1 };
}

/** Entity ids per statement of `predictionsAsOf`, well under every dialect's parameter limit. */
const IDS_PER_QUERY = 500;

/**
 * The prediction that was live for each entity at `at`: its latest record of `model` made at
 * or before `at`, never one made after it (the point-in-time side of the outcome join).
 * Entities with no such prediction are absent from the map. Records with the same timestamp
 * are told apart by process and sequence, the later-accepted winning.
 */
export async function predictionsAsOf(
  db: StoreDb,
  { model, entityKind, entityIds, at }: { model: string; entityKind: string; entityIds: readonly string[]; at: string },
): Promise<Map<string, PredictionRecord>> {
  const live = new Map<string, PredictionRecord>();
  const table = logTable(db);
  for (const ids of chunks(entityIds, IDS_PER_QUERY)) {
    const rows = await table
      .selectFrom('prediction_log as p')
      .selectAll('p')
      .where('p.model', '=', model)
      .where('p.entity_kind', '=', entityKind)
      .where('p.entity_id', 'in', ids)
      .where('p.predicted_at', '<=', at)
      .where(({ eb, selectFrom }) =>
        eb(
          'p.predicted_at',
          '=',
          selectFrom('prediction_log as q')
            .select(({ fn }) => fn.max('q.predicted_at').as('latest'))
            .whereRef('q.model', '=', 'p.model')
            .whereRef('q.entity_kind', '=', 'p.entity_kind')
            .whereRef('q.entity_id', '=', 'p.entity_id')
            .where('q.predicted_at', '<=', at),
        ),
      )
      .execute();
    for (const row of rows) {
      const record = fromRow(row);
      const seen = live.get(record.entityId);
      if (!seen || record.processId > seen.processId || (record.processId === seen.processId && record.sequence > seen.sequence)) live.set(record.entityId, record);
    }
  }
  return live;
}

/** How many records of each model the table holds (for reports and tests). */
export async function countPredictions(db: StoreDb): Promise<Record<string, number>> {
  const rows = await logTable(db).selectFrom('prediction_log').select(['model', sql<number>`count(*)`.as('n')]).groupBy('model').execute();
  return Object.fromEntries(rows.map((row) => [row.model, Number(row.n)]));
}
