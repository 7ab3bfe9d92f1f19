/**
 * The overdue passes that hold a page or a row at a time, not the whole window: they give what
 * holding everything gives.
 */
import { overdueHoldout, overdueWindows } from '../../src/evaluation/classifier-holdout';
import { forEachLoanCheckedOut, loanWasLate } from '../../src/features/overdue';
import { calibrateOutcomeSeasons, type SettledRow } from '../../src/monitoring/seasons';
import { overdueOutcomeSeasons } from '../../src/training/overdue';
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
