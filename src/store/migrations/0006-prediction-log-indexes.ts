/**
 * The prediction log keeps two indexes: its key (the monitor reads by process and sequence) and
 * (model, predicted_at) (retention, per model, and per-model readers). The index by entity and
 * the one by time alone had no reader on the serving path or in the monitor, and each cost
 * every logged prediction a B-tree insert on the writer thread.
 */
import type { Kysely } from 'kysely';
import { dropUnneededPredictionLogIndexes, restorePredictionLogIndexes } from '../../monitoring/prediction-log-store';

export async function up(db: Kysely<unknown>): Promise<void> {
  await dropUnneededPredictionLogIndexes(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await restorePredictionLogIndexes(db);
}
