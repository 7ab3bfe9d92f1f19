/**
 * The judged-prediction table on SQLite and PostgreSQL: a pending row is replaced by a later
 * prediction of its subject, a known row never is; pages come newest day first with cursors
 * that continue where they stopped; filters by segment, branch and status hold.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { migrateStore, openStore, type Store } from '../../store';
import { readLabelledScores, readPredictionOutcomes, upsertPredictionOutcomes, type PredictionOutcomeTable } from '../outcome-store';
import { ownSchema, postgresUnreachableReason } from '../../../test/fixtures/postgres';

function row(subject: string, extra: Partial<PredictionOutcomeTable> = {}): PredictionOutcomeTable {
  return {
    model: 'churn', subject, version: '1.0.0', arm: null, entity_kind: 'member', entity_id: subject.split('@')[0] ?? '', process_id: 'p', sequence: 1,
    predicted_on: '2025-07-01', score: 0.4, branch_id: 1, segment: 'Loyal', status: 'pending', outcome: null, known_on: null, ...extra,
  };
}

function behaves(open: () => Promise<Store>): void {
  let store: Store;
  beforeAll(async () => {
    store = await open();
    await migrateStore(store);
  });
  afterAll(() => store.close());

  it('replaces a pending row with a later prediction, and keeps a known one as judged', async () => {
    await upsertPredictionOutcomes(store.db, [row('1@2025-07-01'), row('2@2025-07-01')]);
    await upsertPredictionOutcomes(store.db, [row('1@2025-07-01', { sequence: 2, score: 0.6 }), row('2@2025-07-01', { sequence: 3, status: 'known', outcome: 1, known_on: '2025-09-29' })]);
    await upsertPredictionOutcomes(store.db, [row('2@2025-07-01', { sequence: 9, score: 0.99, status: 'pending' })]);
    const { rows, total } = await readPredictionOutcomes(store.db, { model: 'churn', from: '2025-07-01', through: '2025-07-01' }, { first: 10 });
    expect(total).toBe(2);
    expect(rows.map((r) => [r.subject, Number(r.sequence), Number(r.score), r.status, r.outcome === null ? null : Number(r.outcome)])).toEqual([
      ['1@2025-07-01', 2, 0.6, 'pending', null],
      ['2@2025-07-01', 3, 0.4, 'known', 1],
    ]);
  });

  it('pages newest day first and filters by segment, branch and status', async () => {
    await upsertPredictionOutcomes(store.db, [
      row('3@2025-07-03', { predicted_on: '2025-07-03', segment: 'At Risk', branch_id: 2, status: 'known', outcome: 0, known_on: '2025-07-05' }),
      row('4@2025-07-02', { predicted_on: '2025-07-02', status: 'known', outcome: 1, known_on: '2025-09-30', score: 0.8 }),
    ]);
    const filter = { model: 'churn', from: '2025-07-01', through: '2025-07-03' };
    const first = await readPredictionOutcomes(store.db, filter, { first: 2 });
    const last = first.rows[first.rows.length - 1];
    const second = await readPredictionOutcomes(store.db, filter, { first: 2, after: last ? { predictedOn: last.predicted_on, subject: last.subject } : null });
    expect([...first.rows, ...second.rows].map((r) => r.subject)).toEqual(['3@2025-07-03', '4@2025-07-02', '1@2025-07-01', '2@2025-07-01']);
    expect((await readPredictionOutcomes(store.db, { ...filter, segment: 'At Risk' }, { first: 10 })).rows.map((r) => r.subject)).toEqual(['3@2025-07-03']);
    expect((await readPredictionOutcomes(store.db, { ...filter, branchId: 1, status: 'known' }, { first: 10 })).total).toBe(2);
    const labelled = await readLabelledScores(store.db, filter, 100);
    expect(labelled.map((r) => [r.score, r.outcome, r.segment, r.branch_id]).sort()).toEqual([[0.4, 1, 'Loyal', 1], [0.4, 0, 'At Risk', 2], [0.8, 1, 'Loyal', 1]].sort());
  });
}

describe('prediction_outcomes on SQLite', () => {
  behaves(async () => openStore(':memory:'));
});

const unreachable = postgresUnreachableReason('the PostgreSQL prediction_outcomes tests');
(unreachable ? describe.skip : describe)('prediction_outcomes on PostgreSQL', () => {
  let schema: Awaited<ReturnType<typeof ownSchema>>;
  beforeAll(async () => {
    schema = await ownSchema('shelfmark_outcome_store_test');
  });
  afterAll(() => schema?.drop());
  behaves(async () => openStore(schema.url));
});
