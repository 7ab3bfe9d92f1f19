/**
 * The overdue passes that hold a page or a row at a time, not the whole window: they give what
 * holding everything gives.
 */
import { overdueHoldout, overdueOracle, overdueWindows } from '../../src/evaluation/classifier-holdout';
import { forEachLoanCheckedOut, loansCheckedOutCount, loanWasLate, OVERDUE_FEATURES, overdueTrainingSet } from '../../src/features/overdue';
import { calibrateOutcomeSeasons, type SettledRow } from '../../src/monitoring/seasons';
import { OVERDUE_MAX_TRAINING_ROWS, overdueOutcomeSeasons, overdueTrainingSample } from '../../src/training/overdue';
import { addDays } from '../../src/util/dates';
import { readOnlySmallLibraryStore } from '../fixtures/small-library';

jest.setTimeout(300_000);

const library = readOnlySmallLibraryStore({ seed: 11, members: 600, models: [] });

/** Every loan checked out in [from, to), read in one query, in id order. */
async function everyLoan(from: string, to: string) {
  return library().db
    .selectFrom('loans')
    .select(['id', 'member_id', 'checked_out_at', 'due_at', 'returned_at'])
    .where('checked_out_at', '>=', from)
    .where('checked_out_at', '<', to)
    .orderBy('id')
    .execute();
}

it('visits the loans of a window in id order, a small page at a time, as one query lists them', async () => {
  const w = await overdueWindows(library());
  const all = await everyLoan(w.trainStart, w.testStart);
  expect(all.length).toBeGreaterThan(1000);
  for (const pageSize of [7, all.length, all.length + 1]) {
    const visited: typeof all = [];
    await forEachLoanCheckedOut(library(), w.trainStart, w.testStart, (loan) => visited.push(loan), pageSize);
    expect(visited).toEqual(all);
  }
});

it('samples a training window to its cap, one loan of each stretch in checkout order, with the rows the whole window gives those loans', async () => {
  const w = await overdueWindows(library());
  const whole = await overdueTrainingSet(library(), w.trainStart, w.testStart, w.testStart);
  const population = await loansCheckedOutCount(library(), w.trainStart, w.testStart);
  expect(population).toBeGreaterThanOrEqual(whole.labels.length);
  const maxRows = Math.floor(population / 5);
  const sample = await overdueTrainingSet(library(), w.trainStart, w.testStart, w.testStart, { maxRows, seed: 3 });
  expect(sample.sampledFrom).toBe(population);
  // Loans still out and not yet due have no label: the sample keeps at most one loan a stretch.
  expect(sample.labels.length).toBeLessThanOrEqual(maxRows);
  expect(sample.labels.length).toBeGreaterThan(maxRows * 0.9);
  const d = OVERDUE_FEATURES.length;
  const rowOf = new Map(whole.features.loanIds.map((id, i) => [id, i]));
  sample.features.loanIds.forEach((id, k) => {
    const i = rowOf.get(id)!;
    expect(Array.from(sample.features.values.subarray(k * d, (k + 1) * d))).toEqual(Array.from(whole.features.values.subarray(i * d, (i + 1) * d)));
    expect(sample.labels[k]).toBe(whole.labels[i]);
  });
  // Each fifth of the window, in checkout order, holds a fifth of the sample.
  const all = (await everyLoan(w.trainStart, w.testStart)).map((l) => l.id);
  const fifth = (id: number) => Math.floor((5 * all.indexOf(id)) / all.length);
  const perFifth = [0, 0, 0, 0, 0];
  for (const id of sample.features.loanIds) perFifth[fifth(id)]!++;
  for (const count of perFifth) expect(Math.abs(count - sample.labels.length / 5)).toBeLessThan(maxRows * 0.03);
  expect(await overdueTrainingSet(library(), w.trainStart, w.testStart, w.testStart, { maxRows, seed: 3 })).toEqual(sample);
  const uncapped = await overdueTrainingSet(library(), w.trainStart, w.testStart, w.testStart, { maxRows: population, seed: 3 });
  expect(uncapped).toEqual(whole);
});

it("rebuilds a version's training sample from its metadata: the cap it recorded and its seed, none before the cap", () => {
  expect(overdueTrainingSample({ trees: 60, maxTrainingRows: OVERDUE_MAX_TRAINING_ROWS }, 42)).toEqual({ maxRows: OVERDUE_MAX_TRAINING_ROWS, seed: 42 });
  expect(overdueTrainingSample({ trees: 60 }, 42)).toBeUndefined();
});

it("reads the oracle a slice of loans at a time, each held-out loan's own truth", async () => {
  const holdout = await overdueHoldout(library());
  const w = await overdueWindows(library());
  const test = await overdueTrainingSet(library(), w.testStart, w.testEnd, w.asOf);
  const truth = await library().db.selectFrom('sim_loan_truth').select(['loan_id', 'late_probability']).execute();
  const byLoan = new Map(truth.map((t) => [t.loan_id, t.late_probability]));
  const expected = Float64Array.from(test.features.loanIds, (id) => byLoan.get(id)!);
  expect(holdout.oracle).toEqual(expected);
  expect(await overdueOracle(library(), test.features.loanIds, 7)).toEqual(expected);
  expect(await overdueOracle(library(), [...test.features.loanIds, -1], 7)).toBeUndefined();
});

it("gives the holdout's prior the late share of every training loan whose outcome is known", async () => {
  const w = await overdueWindows(library());
  const outcomes = (await everyLoan(w.trainStart, w.testStart)).map((l) => loanWasLate(l, w.testStart)).filter((late) => late !== undefined);
  const share = outcomes.filter((late) => late).length / outcomes.length;
  expect(share).toBeGreaterThan(0);
  expect(share).toBeLessThan(1);
  const holdout = await overdueHoldout(library());
  const prior = holdout.baselines.find((b) => b.name.startsWith('prior'))!;
  expect(prior.scores.length).toBe(holdout.rows);
  expect(Array.from(new Set(prior.scores))).toEqual([share]);
});

it("computes overdue's outcome seasons a row at a time, as from every row at once", () => {
  const n = 5_000;
  const dueDays = Int32Array.from({ length: n }, (_, i) => 19_000 + (i % 400));
  const labels = Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const scores = Float64Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000 + (i % 11 === 0 ? 0.5 : 0));
  const settledBy = '2022-01-15';
  const rows = Array.from({ length: n }, (_, i): SettledRow => ({
    settledOn: addDays(new Date(dueDays[i]! * 86_400_000).toISOString().slice(0, 10), 1),
    probability: Math.min(1, scores[i]!),
    label: labels[i] === 1 ? 1 : 0,
  }));
  const expected = calibrateOutcomeSeasons(rows, settledBy);
  expect(expected.rows.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  expect(expected.rows.reduce((a, b) => a + b, 0)).toBeLessThan(n);
  expect(overdueOutcomeSeasons({ dueDays, labels }, scores, settledBy)).toEqual(expected);
});
