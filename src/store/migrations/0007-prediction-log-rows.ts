/**
 * The prediction log keeps one row per request and model: the records a loader batch logs
 * together (a page's 100 churn risks) share the request id, time, model, version, arm, entity
 * kind and feature reference, so they are one row, their per-entity values packed in `entries`
 * and their number in `records`. The writer inserts one row where it inserted a hundred.
 * Existing rows are kept as they are (one record each, entries null) and read as before; no
 * data is rewritten. `down` deletes the rows with entries, which the earlier schema cannot read.
 */
import type { Kysely } from 'kysely';
import { addPredictionLogEntries, dropPredictionLogEntries } from '../../monitoring/prediction-log-store';

export async function up(db: Kysely<unknown>): Promise<void> {
  await addPredictionLogEntries(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await dropPredictionLogEntries(db);
}
