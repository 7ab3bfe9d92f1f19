/**
 * The prediction log in the store: the `prediction_log` table (same DDL on SQLite and
 * PostgreSQL), a sink that writes batches into it, retention, and the per-process sequence
 * numbers that `sequenceGaps` needs.
 *
 * One table row per row of the log (since 2026-12-07, migration 0007): the records of one
 * request and model that share time, version, arm, entity kind and feature reference (a page's
 * 100 churn risks) are one row, keyed by (process_id, sequence), so writing a batch twice
 * stores it once. The shared values have their own columns; each record's entity id, score,
 * label, items, factors and features are in `entries` (JSON text, or on SQLite, which keeps
 * each value's own type, packed: prediction-log-batch.ts), and `records` says how many. A row
 * has as many records as the writer had to insert before in rows, so the writer's cost per
 * prediction falls by that factor. Rows written before that (entries null) are one record each,
 * their values in the per-record columns (JSON or packed pair lists); they are kept as they
 * are and read as before, so no data is rewritten. Every reader goes through `recordsOf`,
 * which gives one logical record per entity either way: readers see what they saw before.
 * Timestamps are ISO 8601 text, compared as text on both dialects, like the store's dates.
 *
 * Indexes (after migration 0006): the key, which the monitor reads by (process, sequence), and
 * (model, predicted_at), which retention and per-model readers use. Each index costs every
 * row an insert into its B-tree on the writer thread, so there are no others.
 */
import { sql, type Kysely } from 'kysely';
import { chunks } from '../store/in-chunks';
import type { PredictionRecord, PredictionSink, StoredSequences } from './prediction-log';
import { encodeBatch, PREDICTION_LOG_COLUMNS, readEntriesAs, readPairs, storedRows, type Pair } from './prediction-log-batch';

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
  /** Rows before 2026-12-07 (entries null): the one record's entity; '' in rows with entries. */
  entity_id: string;
  score: number | null;
  /** JSON array of {id, score}, a packed pair list, or null. */
  items: string | Uint8Array | null;
  /** A class answer (a segment), or null. */
  label: string | null;
  /** JSON array of {name, weight}, or a packed pair list. */
  factors: string | Uint8Array;
  /** JSON object of feature values, a packed pair list, or null. */
  features: string | Uint8Array | null;
  feature_ref: string | null;
  /** How many records the row holds (1 in rows before 2026-12-07). */
  records: number;
  /** The records' per-entity values (`readEntries`); null in rows before 2026-12-07. */
  entries: string | Uint8Array | null;
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

/** Creates the table and its first indexes: migration 0004's `up` (0006 drops two of them). */
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

/** The indexes migration 0006 drops: no reader of the serving path or the monitor needs them. */
const UNNEEDED_INDEXES = ['prediction_log_entity_time', 'prediction_log_time'];

/** Migration 0006's `up`: drops the two indexes that only cost the writer. */
export async function dropUnneededPredictionLogIndexes(db: Kysely<any>): Promise<void> {
  for (const name of UNNEEDED_INDEXES) await db.schema.dropIndex(name).ifExists().execute();
}

/** Migration 0006's `down`: puts them back. */
export async function restorePredictionLogIndexes(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('prediction_log_entity_time').ifNotExists().on('prediction_log').columns(['entity_kind', 'entity_id', 'predicted_at']).execute();
  await db.schema.createIndex('prediction_log_time').ifNotExists().on('prediction_log').column('predicted_at').execute();
}

/**
 * Migration 0007's `up`: a row holds the records of one request and model (`records`, and
 * their values in `entries`). Existing rows stay as they are, one record each: `recordsOf`
 * reads them as before.
 */
export async function addPredictionLogEntries(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('prediction_log').addColumn('records', 'integer', (c) => c.notNull().defaultTo(1)).execute();
  await db.schema.alterTable('prediction_log').addColumn('entries', 'text').execute();
}

/**
 * Migration 0007's `down`: rows with entries cannot be read by the earlier schema, so they
 * are deleted (their records are lost) before the columns are dropped.
 */
export async function dropPredictionLogEntries(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('prediction_log').where('entries', 'is not', null).execute();
  await db.schema.alterTable('prediction_log').dropColumn('entries').execute();
  await db.schema.alterTable('prediction_log').dropColumn('records').execute();
}

/** The table as the latest migration leaves it, for tools and tests that make one without migrating a store. */
export async function createCurrentPredictionLogTable(db: Kysely<any>): Promise<void> {
  await createPredictionLogTable(db);
  await dropUnneededPredictionLogIndexes(db);
  await addPredictionLogEntries(db);
}

export async function dropPredictionLogTable(db: StoreDb): Promise<void> {
  await db.schema.dropTable('prediction_log').ifExists().execute();
}

/** What every record of a row shares: its own columns. */
function sharedOf(row: PredictionLogTable) {
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
    featureRef: row.feature_ref,
  };
}

/**
 * A stored row back as its records, one per entity in the order they were logged (JSON
 * columns parsed, bigint columns as numbers): every reader of the table goes through this.
 * Each record is built as one literal of a fixed shape, not spread from the shared values: the
 * monitor expands every record the graph logs.
 */
export function recordsOf(row: PredictionLogTable): PredictionRecord[] {
  if (row.entries === null || row.entries === undefined) return [fromRow(row)];
  const s = sharedOf(row);
  return readEntriesAs(row.entries, (entityId, score, label, items, factors, features): PredictionRecord => ({
    processId: s.processId,
    sequence: s.sequence,
    acceptedThrough: s.acceptedThrough,
    requestId: s.requestId,
    at: s.at,
    asOf: s.asOf,
    model: s.model,
    version: s.version,
    arm: s.arm,
    entityKind: s.entityKind,
    featureRef: s.featureRef,
    entityId,
    score,
    items,
    label,
    factors,
    features,
  }));
}

/** A stored row of the first format (one record, entries null) as its record; `recordsOf` reads either format. */
export function fromRow(row: PredictionLogTable): PredictionRecord {
  if (row.entries !== null && row.entries !== undefined) throw new Error('a prediction-log row with entries holds several records: read it with recordsOf');
  return {
    ...sharedOf(row),
    entityId: row.entity_id,
    score: row.score === null ? null : Number(row.score),
    items: row.items === null ? null : readPairs(row.items, 'id', 'score').map(([id, score]) => ({ id, score: score as number })),
    label: row.label,
    factors: readPairs(row.factors, 'name', 'weight').map(([name, weight]) => ({ name, weight: weight as number })),
    features: row.features === null ? null : Object.fromEntries(readPairs(row.features, '', '') satisfies Pair[]),
  };
}

/** Rows per INSERT: 19 columns × 1,000 stays under SQLite's and PostgreSQL's bound-parameter limits. */
const ROWS_PER_INSERT = 1_000;

/** The table rows of a batch's records (entries as JSON), each process's consecutive records apart. */
export function tableRows(records: readonly PredictionRecord[]): PredictionLogTable[] {
  const rows: PredictionLogTable[] = [];
  for (let start = 0; start < records.length; ) {
    const processId = (records[start] as PredictionRecord).processId;
    let end = start + 1;
    while (end < records.length && (records[end] as PredictionRecord).processId === processId) end++;
    for (const values of storedRows(encodeBatch(processId, records.slice(start, end)), 'json')) {
      rows.push(Object.fromEntries(PREDICTION_LOG_COLUMNS.map((column, c) => [column, values[c] ?? null])) as unknown as PredictionLogTable);
    }
    start = end;
  }
  return rows;
}

/**
 * A sink that writes each batch in one transaction through Kysely, on the calling thread (the
 * writer thread's SQL is in prediction-log-worker.ts); a batch written again is stored once.
 */
export function createStorePredictionSink(db: StoreDb): PredictionSink {
  return {
    async write(records) {
      if (records.length === 0) return;
      const rows = tableRows(records);
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

/** The models the log holds, each found by one seek in the (model, predicted_at) index. */
async function loggedModels(db: StoreDb): Promise<string[]> {
  const models: string[] = [];
  for (;;) {
    const after = models.at(-1);
    const row = await logTable(db)
      .selectFrom('prediction_log')
      .select((eb) => eb.fn.min('model').as('model'))
      .$if(after !== undefined, (q) => q.where('model', '>', after ?? ''))
      .executeTakeFirst();
    if (row?.model === null || row?.model === undefined) return models;
    models.push(row.model);
  }
}

/** Deletes rows predicted before `cutoff` (ISO timestamp or date), a model at a time through its index; returns how many rows. */
export async function deletePredictionsBefore(db: StoreDb, cutoff: string): Promise<number> {
  let deleted = 0;
  for (const model of await loggedModels(db)) {
    const result = await logTable(db).deleteFrom('prediction_log').where('model', '=', model).where('predicted_at', '<', cutoff).executeTakeFirst();
    deleted += Number(result.numDeletedRows);
  }
  return deleted;
}

/**
 * The retention cutoff for `retentionDays` before `now` (ISO timestamp), as an ISO timestamp;
 * records predicted before it are deleted by `deletePredictionsBefore`.
 */
export function retentionCutoff(now: Date, retentionDays: number): string {
  if (!(retentionDays > 0)) throw new RangeError(`retentionDays must be positive, got ${retentionDays}`);
  return new Date(now.getTime() - retentionDays * 86_400_000).toISOString();
}

/** Losses of one process, counted in SQL without reading its rows; counts are of rows (sequence numbers). */
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
 * Per process, how many accepted rows (sequence numbers) the store lacks; a row holds one to
 * `MAX_RECORDS_PER_ROW` records (a page's loader batch: 100). Counted from sequence 1, or from
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

/** Whether record `a` was made after `b`: later time, then the later-accepted (process, sequence). */
function madeAfter(a: PredictionRecord, b: PredictionRecord): boolean {
  if (a.at !== b.at) return a.at > b.at;
  if (a.processId !== b.processId) return a.processId > b.processId;
  return a.sequence > b.sequence;
}

/**
 * The prediction that was live for each entity at `at`: its latest record of `model` made at
 * or before `at`, never one made after it (the point-in-time side of the outcome join).
 * Entities with no such prediction are absent from the map. Records with the same timestamp
 * are told apart by process and sequence, the later-accepted winning. It reads the model's
 * records up to `at` through the (model, predicted_at) index (the log keeps no index by
 * entity, which would cost every write), so it suits a one-off look-up, not a per-request one.
 */
export async function predictionsAsOf(
  db: StoreDb,
  { model, entityKind, entityIds, at }: { model: string; entityKind: string; entityIds: readonly string[]; at: string },
): Promise<Map<string, PredictionRecord>> {
  const latest = new Map<string, PredictionRecord>();
  const wanted = new Set(entityIds);
  const keep = (rows: PredictionLogTable[]) => {
    for (const row of rows) {
      for (const record of recordsOf(row)) {
        if (!wanted.has(record.entityId)) continue;
        const seen = latest.get(record.entityId);
        // Within a row, a later entry of the same entity was logged later.
        if (!seen || !madeAfter(seen, record)) latest.set(record.entityId, record);
      }
    }
  };
  const table = logTable(db);
  const ofModel = () => table.selectFrom('prediction_log').selectAll().where('model', '=', model).where('predicted_at', '<=', at).where('entity_kind', '=', entityKind);
  // Rows with entries name their entities inside: all of the model's up to `at` are read once.
  keep(await ofModel().where('entries', 'is not', null).execute());
  // Rows of the first format, one record each, by entity id.
  for (const ids of chunks(entityIds, IDS_PER_QUERY)) keep(await ofModel().where('entries', 'is', null).where('entity_id', 'in', ids).execute());
  return latest;
}

/** How many records (not rows) of each model the table holds (for reports and tests). */
export async function countPredictions(db: StoreDb): Promise<Record<string, number>> {
  const rows = await logTable(db).selectFrom('prediction_log').select(['model', sql<number>`sum(records)`.as('n')]).groupBy('model').execute();
  return Object.fromEntries(rows.map((row) => [row.model, Number(row.n)]));
}
