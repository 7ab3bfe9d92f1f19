/**
 * Judged predictions in the store: the `prediction_outcomes` table (same DDL on SQLite and
 * PostgreSQL), written by the live monitor and read by the graph's `predictions` connection.
 *
 * One row per model and subject (what an outcome is about: a loan, member@day, book@week; see
 * outcomes.ts): the prediction live for it, replaced by a later one while the outcome is
 * pending, and fixed once the outcome is known. Each row carries where the prediction came
 * from in the log (process id and sequence), so outcomes are reachable from predictions, and
 * the slices analysts ask by: the member's branch and segment at the time of the prediction.
 */
import { sql, type Kysely } from 'kysely';
import type { StoreDb } from './prediction-log-store';

export interface PredictionOutcomeTable {
  model: string;
  subject: string;
  version: string;
  arm: string | null;
  entity_kind: string;
  entity_id: string;
  process_id: string;
  sequence: number;
  /** The library day of the prediction. */
  predicted_on: string;
  /** The probability served, or for demand the forecast of the subject's week. */
  score: number | null;
  branch_id: number | null;
  /** The member's segment as last served on or before `predicted_on`, when one was. */
  segment: string | null;
  /** 'pending' or 'known'. */
  status: string;
  /** 1/0 (late, churned, hit) or the week's checkouts; null while pending. */
  outcome: number | null;
  known_on: string | null;
}

export interface PredictionOutcomeDatabase {
  prediction_outcomes: PredictionOutcomeTable;
}

function outcomeTable(db: StoreDb): Kysely<PredictionOutcomeDatabase> {
  return db;
}

/** Creates the table and its indexes; written to be called from a migration's `up`. */
export async function createPredictionOutcomeTable(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('prediction_outcomes')
    .ifNotExists()
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('arm', 'text')
    .addColumn('entity_kind', 'text', (c) => c.notNull())
    .addColumn('entity_id', 'text', (c) => c.notNull())
    .addColumn('process_id', 'text', (c) => c.notNull())
    .addColumn('sequence', 'bigint', (c) => c.notNull())
    .addColumn('predicted_on', 'text', (c) => c.notNull())
    .addColumn('score', 'double precision')
    .addColumn('branch_id', 'integer')
    .addColumn('segment', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('outcome', 'double precision')
    .addColumn('known_on', 'text')
    .addPrimaryKeyConstraint('prediction_outcomes_pk', ['model', 'subject'])
    .execute();
  // The connection pages a model's predictions by day, newest first.
  await db.schema.createIndex('prediction_outcomes_model_day').ifNotExists().on('prediction_outcomes').columns(['model', 'predicted_on', 'subject']).execute();
}

export async function dropPredictionOutcomeTable(db: StoreDb): Promise<void> {
  await db.schema.dropTable('prediction_outcomes').ifExists().execute();
}

/** Rows per statement: 16 columns × 500 stays under every dialect's bound-parameter limit. */
const ROWS_PER_UPSERT = 500;

/**
 * Writes rows in one transaction. A row replaces the stored one of its subject unless that one
 * is already known: a known outcome stays joined to the prediction it was judged with.
 */
export async function upsertPredictionOutcomes(db: StoreDb, rows: readonly PredictionOutcomeTable[]): Promise<void> {
  if (rows.length === 0) return;
  await outcomeTable(db).transaction().execute(async (tx) => {
    for (let start = 0; start < rows.length; start += ROWS_PER_UPSERT) {
      await tx
        .insertInto('prediction_outcomes')
        .values(rows.slice(start, start + ROWS_PER_UPSERT))
        .onConflict((oc) =>
          oc
            .columns(['model', 'subject'])
            .doUpdateSet((eb) => ({
              version: eb.ref('excluded.version'),
              arm: eb.ref('excluded.arm'),
              process_id: eb.ref('excluded.process_id'),
              sequence: eb.ref('excluded.sequence'),
              predicted_on: eb.ref('excluded.predicted_on'),
              score: eb.ref('excluded.score'),
              branch_id: eb.ref('excluded.branch_id'),
              segment: eb.ref('excluded.segment'),
              status: eb.ref('excluded.status'),
              outcome: eb.ref('excluded.outcome'),
              known_on: eb.ref('excluded.known_on'),
            }))
            .where('prediction_outcomes.status', '=', 'pending'),
        )
        .execute();
    }
  });
}

export interface PredictionOutcomeFilter {
  model: string;
  /** Predictions made on days from `from` to `through`, inclusive. */
  from: string;
  through: string;
  segment?: string | null;
  branchId?: number | null;
  status?: 'pending' | 'known' | null;
}

function filtered(db: StoreDb, filter: PredictionOutcomeFilter) {
  let query = outcomeTable(db)
    .selectFrom('prediction_outcomes')
    .where('model', '=', filter.model)
    .where('predicted_on', '>=', filter.from)
    .where('predicted_on', '<=', filter.through);
  if (filter.segment) query = query.where('segment', '=', filter.segment);
  if (filter.branchId !== undefined && filter.branchId !== null) query = query.where('branch_id', '=', filter.branchId);
  if (filter.status) query = query.where('status', '=', filter.status);
  return query;
}

/** A page of rows, newest day first, then by subject; `after` is the last row of the previous page. */
export async function readPredictionOutcomes(
  db: StoreDb,
  filter: PredictionOutcomeFilter,
  { first, after }: { first: number; after?: { predictedOn: string; subject: string } | null },
): Promise<{ rows: PredictionOutcomeTable[]; total: number }> {
  let page = filtered(db, filter).selectAll();
  if (after) page = page.where((eb) => eb.or([eb('predicted_on', '<', after.predictedOn), eb.and([eb('predicted_on', '=', after.predictedOn), eb('subject', '>', after.subject)])]));
  const [rows, count] = await Promise.all([
    page.orderBy('predicted_on', 'desc').orderBy('subject').limit(first).execute(),
    filtered(db, filter).select(sql<number>`count(*)`.as('n')).executeTakeFirst(),
  ]);
  return { rows: rows.map((r) => ({ ...r, sequence: Number(r.sequence) })), total: Number(count?.n ?? 0) };
}

/** Score and outcome of the known rows matching `filter`, with their segment and branch, at most `limit`. */
export async function readLabelledScores(db: StoreDb, filter: PredictionOutcomeFilter, limit: number): Promise<Array<{ score: number; outcome: number; segment: string | null; branch_id: number | null }>> {
  const rows = await filtered(db, { ...filter, status: 'known' })
    .select(['score', 'outcome', 'segment', 'branch_id'])
    .where('score', 'is not', null)
    .where('outcome', 'is not', null)
    .limit(limit)
    .execute();
  return rows.map((r) => ({ score: Number(r.score), outcome: Number(r.outcome), segment: r.segment, branch_id: r.branch_id === null ? null : Number(r.branch_id) }));
}
