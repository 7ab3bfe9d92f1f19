/**
 * The prediction log: every prediction a model field serves (src/monitoring/prediction-log-store
 * owns the table's shape, so the store and its readers agree on one definition).
 */
import type { Kysely } from 'kysely';
import { createPredictionLogTable, dropPredictionLogTable } from '../../monitoring/prediction-log-store';

export async function up(db: Kysely<unknown>): Promise<void> {
  await createPredictionLogTable(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await dropPredictionLogTable(db);
}
