/**
 * Training/serving skew: the same entities through the trainer's path and the subgraph's path
 * must give the same feature rows and the same probabilities.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Tensor } from 'onnxruntime-node';
import { openServingSession } from '../../src/ml/onnx/session';
import path from 'node:path';
import { churnFeatures, CHURN_FEATURE_NAMES } from '../../src/features/churn';
import { OVERDUE_FEATURE_NAMES, overdueCheckoutFeatures, overdueServingFeatures, overdueTrainingSet } from '../../src/features/overdue';
import { createLogger } from '../../src/logging';
import { createProcessMetrics } from '../../src/metrics';
import { ModelSlot } from '../../src/model-runtime/model-slot';
import type { ModelSubgraphDeps } from '../../src/model-runtime/model-subgraph';
import { NO_PREDICTION_LOGGING } from '../../src/model-runtime/prediction-logging';
import { readProductionPointer } from '../../src/registry';
import { openStore, readAsOf, type Store } from '../../src/store';
import { addDays, daysBetween } from '../../src/util/dates';
import { CHURN_SLOT, isActiveRow } from '../../src/models/churn';
import { RiskLevel } from '../../src/graphql/prediction-types';
import { createChurnServices, predictChurn } from '../../subgraphs/churn';
import { smallLibrary, type SmallLibrary } from '../fixtures/small-library';

let library: SmallLibrary;
let store: Store;
let asOf: string;

beforeAll(async () => {
  library = await smallLibrary();
  store = openStore(library.databaseUrl, { readonly: true });
  asOf = await readAsOf(store);
}, 180_000);
afterAll(async () => {
  await store.close();
});

describe('churn features', () => {
  it('are the same row for a member whether computed in the full training batch or alone', async () => {
    const all = (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
    const bulk = await churnFeatures(store, all, asOf);
    const d = CHURN_FEATURE_NAMES.length;
    for (const id of [all[0]!, all[17]!, all[all.length - 1]!]) {
      const single = await churnFeatures(store, [id], asOf);
      const row = bulk.rowOf[all.indexOf(id)]!;
      expect(Array.from(single.values)).toEqual(Array.from(bulk.values.subarray(row * d, (row + 1) * d)));
    }
  });

  it('served probabilities equal the production model run on the training path rows', async () => {
    const pointer = readProductionPointer(library.modelsDir, 'churn')!;
    const metrics = createProcessMetrics('test');
    const slot = new ModelSlot({ ...CHURN_SLOT, locate: async () => pointer, logger: createLogger('test', 'silent'), metrics, reloadIntervalMs: 60_000 });
    await slot.start();
    const deps = { store, asOf, memos: new Set(), inputs: 0, slots: { churn: slot }, metrics, predictionLog: NO_PREDICTION_LOGGING } as unknown as ModelSubgraphDeps;
    const activity = await churnFeatures(store, (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id), asOf);
    const activeIds = activity.memberIds.filter((_, row) => isActiveRow(activity.values, row));
    const lapsedId = activity.memberIds.find((_, row) => !isActiveRow(activity.values, row))!;
    const [a, b, c] = [activeIds[0]!, activeIds[17]!, activeIds[activeIds.length - 1]!];
    const ids = [String(a), String(b), 'nope', '999999', String(c), String(a), String(lapsedId)];
    const served = await predictChurn(createChurnServices(deps), ids);
    expect(served[2]).toBeNull();
    expect(served[3]).toBeNull();
    const training = await churnFeatures(store, [a, b, c], asOf);
    const session = await openServingSession(path.join(pointer.dir, 'model.onnx'));
    const out = await session.run({ features: new Tensor('float32', training.values, [3, CHURN_FEATURE_NAMES.length]) });
    const expected = Array.from(out.probability!.data as Float32Array);
    expect([served[0]!.probability, served[1]!.probability, served[4]!.probability, served[5]!.probability]).toEqual([
      expected[0], expected[1], expected[2], expected[0],
    ]);
    // A member with no checkout in the window before the date has lapsed: reported as such, not scored.
    const lapsed = slot.current().serving.lapsed!;
    expect(served[6]).toMatchObject({ level: RiskLevel.LAPSED, probability: lapsed.probability, factors: [] });
    expect(served.filter((risk) => risk && risk !== served[6]).every((risk) => risk!.level !== RiskLevel.LAPSED)).toBe(true);
    await slot.stop();
    await session.release();
  });
});

describe('overdue features', () => {
  it('are the same rows through the training loader and the serving loader', async () => {
    const to = addDays(asOf, -60);
    const from = addDays(to, -60);
    const training = await overdueTrainingSet(store, from, to, asOf);
    expect(training.labels.length).toBeGreaterThan(50);
    const sample = training.features.loanIds.filter((_, i) => i % 7 === 0);
    const served = await overdueServingFeatures(store, { loanIds: sample }, asOf);
    const d = training.features.values.length / training.labels.length;
    for (const [k, id] of sample.entries()) {
      const i = training.features.loanIds.indexOf(id);
      const j = served.features.loanIds.indexOf(id);
      expect({ id, row: Array.from(served.features.values.subarray(j * d, (j + 1) * d)) }).toEqual({ id, row: Array.from(training.features.values.subarray(i * d, (i + 1) * d)) });
      if (k > 40) break;
    }
  });

  it("as of checkout, are the serving rows with the loan's own renewals undone: no renewal, the first due date", async () => {
    const renewed = await store.db.selectFrom('loans').select(['id', 'checked_out_at', 'due_at', 'renewals']).where('renewals', '>', 0).where('checked_out_at', '<', addDays(asOf, -60)).orderBy('id').limit(30).execute();
    expect(renewed.length).toBeGreaterThan(5);
    const ids = renewed.map((l) => l.id);
    const [atCheckout, served] = [await overdueCheckoutFeatures(store, ids), await overdueServingFeatures(store, { loanIds: ids }, asOf)];
    const column = (name: string) => OVERDUE_FEATURE_NAMES.indexOf(name);
    const d = OVERDUE_FEATURE_NAMES.length;
    for (const loan of renewed) {
      const a = Array.from(atCheckout.values.subarray(atCheckout.loanIds.indexOf(loan.id) * d, (atCheckout.loanIds.indexOf(loan.id) + 1) * d));
      const s = Array.from(served.features.values.subarray(served.features.loanIds.indexOf(loan.id) * d, (served.features.loanIds.indexOf(loan.id) + 1) * d));
      expect(a[column('renewals')]).toBe(0);
      expect(s[column('renewals')]).toBe(loan.renewals);
      expect(a[column('loan_days')]).toBe(Math.round(daysBetween(loan.checked_out_at, loan.due_at) / (1 + loan.renewals)));
      const own = new Set(['renewals', 'loan_days', 'due_month_sin', 'due_month_cos'].map(column));
      expect(a.filter((_, j) => !own.has(j))).toEqual(s.filter((_, j) => !own.has(j)));
    }
  });
});
