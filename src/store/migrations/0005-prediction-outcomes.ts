/**
 * Judged predictions: the prediction live for each outcome of circulation, and the outcome
 * once known (src/monitoring/outcome-store owns the table's shape).
 */
import type { Kysely } from 'kysely';
import { createPredictionOutcomeTable, dropPredictionOutcomeTable } from '../../monitoring/outcome-store';

export async function up(db: Kysely<unknown>): Promise<void> {
  await createPredictionOutcomeTable(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await dropPredictionOutcomeTable(db);
}
