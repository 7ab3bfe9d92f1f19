/**
 * The held-out rows of the two classifiers, defined once: the trainers evaluate on them and
 * `npm run evaluate` re-scores any version on them, so a figure from either is measured on the
 * same rows of a library.
 *
 *   overdue: loans checked out in the OVERDUE_TEST_DAYS before (as-of − OVERDUE_TEST_END_GAP_DAYS),
 *            labelled with what is known on the as-of date; trained on loans before that window.
 *   churn:   members active at as-of − CHURN_WINDOW_DAYS (a checkout in the window before it),
 *            labelled "no checkout in the following CHURN_WINDOW_DAYS"; trained on cut-offs
 *            whose window ends by then. Members already lapsed at the cut-off are not scored.
 */
import { CHURN_FEATURE_NAMES, CHURN_WINDOW_DAYS, churnFeatures, churnLabels } from '../features/churn';
import { forEachLoanCheckedOut, loanWasLate, OVERDUE_FEATURE_NAMES, overdueTrainingSet } from '../features/overdue';
import { isActiveRow } from '../models/churn';
import { chunks, IDS_PER_QUERY, readAsOf, type Store } from '../store';
import { addDays } from '../util/dates';

/** Loans checked out in the last OVERDUE_TEST_DAYS before the test window's end are held out. */
export const OVERDUE_TEST_DAYS = 120;
/** The test window ends this many days before the as-of date, so nearly all its loans are due. */
export const OVERDUE_TEST_END_GAP_DAYS = 45;
/** Training loans start this many days after the first checkout, so every borrower has some history. */
export const OVERDUE_TRAIN_START_DAYS = 90;

export interface OverdueWindows {
  asOf: string;
  trainStart: string;
  testStart: string;
  testEnd: string;
}

/** The windows as of `asOf` (default: the library's clock), e.g. a version's training date. */
export async function overdueWindows(store: Store, asOf?: string): Promise<OverdueWindows> {
  asOf ??= await readAsOf(store);
  const testEnd = addDays(asOf, -OVERDUE_TEST_END_GAP_DAYS);
  const testStart = addDays(testEnd, -OVERDUE_TEST_DAYS);
  const first = (await store.db.selectFrom('loans').select((eb) => eb.fn.min('checked_out_at').as('first')).executeTakeFirstOrThrow()).first as string | null;
  if (first === null) throw new Error('the library has no loans to evaluate on');
  return { asOf, trainStart: addDays(first, OVERDUE_TRAIN_START_DAYS), testStart, testEnd };
}

export interface ChurnCutoffs {
  asOf: string;
  trainCutoff: string;
  testCutoff: string;
}

export async function churnCutoffs(store: Store, asOf?: string): Promise<ChurnCutoffs> {
  asOf ??= await readAsOf(store);
  return { asOf, trainCutoff: addDays(asOf, -2 * CHURN_WINDOW_DAYS), testCutoff: addDays(asOf, -CHURN_WINDOW_DAYS) };
}

/** The simulator's true late probability of each loan, or undefined when the library has no truth for every one. */
export async function overdueOracle(store: Store, loanIds: readonly number[], sliceSize = IDS_PER_QUERY): Promise<Float64Array | undefined> {
  const values = new Float64Array(loanIds.length);
  // A slice of loans at a time: one object per held-out loan at once is gigabytes of heap at a million members.
  for (const [k, slice] of chunks(loanIds, sliceSize).entries()) {
    const rows = await store.db.selectFrom('sim_loan_truth').select(['loan_id', 'late_probability']).where('loan_id', 'in', slice).execute();
    const truth = everyOne(slice, new Map(rows.map((r) => [r.loan_id, r.late_probability])));
    if (!truth) return undefined;
    values.set(truth, k * sliceSize);
  }
  return loanIds.length > 0 ? values : undefined;
}

/** The simulator's true churn probability of each member at the cut-off, or undefined when not known for every one. */
export async function churnOracle(store: Store, memberIds: readonly number[], cutoff: string): Promise<Float64Array | undefined> {
  const rows = await store.db.selectFrom('sim_churn_truth').select(['member_id', 'probability']).where('cutoff', '=', cutoff).execute();
  return everyOne(memberIds, new Map(rows.map((r) => [r.member_id, r.probability])));
}

function everyOne(ids: readonly number[], truth: ReadonlyMap<number, number>): Float64Array | undefined {
  const values = new Float64Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const value = truth.get(ids[i]!);
    if (value === undefined) return undefined;
    values[i] = value;
  }
  return ids.length > 0 ? values : undefined;
}

/** A simple rule scored on the held-out rows; a rank-only score (days since the last loan) is judged by AUC alone. */
export interface BaselineScores {
  name: string;
  scores: Float64Array;
  /** The scores are probabilities, so log loss and Brier score apply. */
  probabilities: boolean;
  /** The scores are 0/1 decisions, so precision and recall at 1 apply. */
  decisions?: boolean;
}

/** What every version of a classifier is scored on. */
export interface ClassifierHoldout {
  model: 'overdue' | 'churn';
  /** Where the rows come from, for people. */
  description: string;
  rows: number;
  featureCount: number;
  /** The columns of `features`, in order: a version whose feature spec is another list (some of them) is scored on its own. */
  featureNames: readonly string[];
  /** Row-major rows x featureCount, as the serving feature code computes them. */
  features: Float32Array;
  labels: Uint8Array;
  /** One id per row whose rows are resampled together (the borrower), or undefined for independent rows. */
  clusters?: number[];
  baselines: BaselineScores[];
  oracle?: Float64Array;
  /** Subsets reported on their own (churn: new, declining and steady members), each a list of rows. */
  slices?: { name: string; rows: number[] }[];
}

function column(features: Float32Array, rows: number, names: readonly string[], name: string): Float64Array {
  const d = names.length;
  const j = names.indexOf(name);
  if (j < 0) throw new Error(`no feature "${name}" among ${names.join(', ')}`);
  return Float64Array.from({ length: rows }, (_, i) => features[i * d + j]!);
}

function share(labels: ArrayLike<number>): number {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i]!;
  return labels.length > 0 ? positives / labels.length : NaN;
}

/** The prior: every row gets the training base rate (fitted before the test window, no look-ahead). */
function priorBaseline(trainingRate: number, rows: number): BaselineScores {
  return { name: 'prior (training base rate)', scores: new Float64Array(rows).fill(trainingRate), probabilities: true };
}

export async function overdueHoldout(store: Store): Promise<ClassifierHoldout> {
  const w = await overdueWindows(store);
  const test = await overdueTrainingSet(store, w.testStart, w.testEnd, w.asOf);
  const rows = test.labels.length;
  // The prior's base rate: the training window's late share, counted a page of loans at a time.
  let known = 0;
  let late = 0;
  await forEachLoanCheckedOut(store, w.trainStart, w.testStart, (loan) => {
    const wasLate = loanWasLate(loan, w.testStart);
    if (wasLate === undefined) return;
    known++;
    if (wasLate) late++;
  });
  return {
    model: 'overdue',
    description: `loans checked out ${w.testStart} to ${w.testEnd}, outcomes as known on ${w.asOf}`,
    rows,
    featureCount: OVERDUE_FEATURE_NAMES.length,
    featureNames: OVERDUE_FEATURE_NAMES,
    features: test.features.values,
    labels: test.labels,
    clusters: Array.from(test.memberIds),
    baselines: [
      priorBaseline(known > 0 ? late / known : NaN, rows),
      { name: "the borrower's past late share", scores: column(test.features.values, rows, OVERDUE_FEATURE_NAMES, 'member_late_share'), probabilities: true },
    ],
    oracle: await overdueOracle(store, test.features.loanIds),
  };
}

/** The rows of a churn feature batch whose members were active at its cut-off. */
export function activeRows(values: Float32Array, rows: number): number[] {
  return Array.from({ length: rows }, (_, i) => i).filter((i) => isActiveRow(values, i));
}

/** Keeps `rows` of a row-major batch of width d. */
export function pickRows(values: Float32Array, d: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((row, k) => out.set(values.subarray(row * d, (row + 1) * d), k * d));
  return out;
}

/** Active members at a cut-off, their feature rows and outcomes. */
export async function activeChurnRows(store: Store, memberIds: readonly number[], cutoff: string): Promise<{ memberIds: number[]; values: Float32Array; labels: Uint8Array; lapsed: { rows: number; churned: number } }> {
  const all = await churnFeatures(store, memberIds, cutoff);
  const labels = await churnLabels(store, all.memberIds, cutoff);
  const active = activeRows(all.values, all.memberIds.length);
  const isActive = new Uint8Array(all.memberIds.length);
  for (const row of active) isActive[row] = 1;
  let lapsedRows = 0;
  let lapsedChurned = 0;
  for (let i = 0; i < labels.length; i++) {
    if (isActive[i]) continue;
    lapsedRows++;
    lapsedChurned += labels[i]!;
  }
  return {
    memberIds: active.map((row) => all.memberIds[row]!),
    values: pickRows(all.values, CHURN_FEATURE_NAMES.length, active),
    labels: Uint8Array.from(active, (row) => labels[row]!),
    lapsed: { rows: lapsedRows, churned: lapsedChurned },
  };
}

/** New members (joined within the window), then the others split by whether their borrowing fell. */
function churnSlices(values: Float32Array, rows: number): { name: string; rows: number[] }[] {
  const tenure = column(values, rows, CHURN_FEATURE_NAMES, 'tenure_days');
  const recent = column(values, rows, CHURN_FEATURE_NAMES, 'loans_90d');
  const before = column(values, rows, CHURN_FEATURE_NAMES, 'loans_prev_90d');
  const all = Array.from({ length: rows }, (_, i) => i);
  const isNew = (i: number) => tenure[i]! < CHURN_WINDOW_DAYS;
  return [
    { name: `new (joined in the last ${CHURN_WINDOW_DAYS} days)`, rows: all.filter(isNew) },
    { name: `declining (fewer loans in the last ${CHURN_WINDOW_DAYS} days than the ${CHURN_WINDOW_DAYS} before)`, rows: all.filter((i) => !isNew(i) && recent[i]! < before[i]!) },
    { name: 'steady or growing', rows: all.filter((i) => !isNew(i) && recent[i]! >= before[i]!) },
  ];
}

export async function churnHoldout(store: Store): Promise<ClassifierHoldout> {
  const c = await churnCutoffs(store);
  const allIds = (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
  const test = await activeChurnRows(store, allIds, c.testCutoff);
  const training = await activeChurnRows(store, allIds, c.trainCutoff);
  const rows = test.memberIds.length;
  const daysSince = column(test.values, rows, CHURN_FEATURE_NAMES, 'days_since_last_loan');
  const loans90 = column(test.values, rows, CHURN_FEATURE_NAMES, 'loans_90d');
  return {
    model: 'churn',
    description:
      `members active at ${c.testCutoff} (a checkout in the ${CHURN_WINDOW_DAYS} days before; ${test.lapsed.rows} lapsed members not scored), ` +
      `outcome: no checkout up to ${addDays(c.testCutoff, CHURN_WINDOW_DAYS)}`,
    rows,
    featureCount: CHURN_FEATURE_NAMES.length,
    featureNames: CHURN_FEATURE_NAMES,
    features: test.values,
    labels: test.labels,
    baselines: [
      priorBaseline(share(training.labels), rows),
      { name: 'days since the last loan', scores: daysSince, probabilities: false },
      { name: `fewer loans in the last ${CHURN_WINDOW_DAYS} days`, scores: loans90.map((n) => -n), probabilities: false },
    ],
    oracle: await churnOracle(store, test.memberIds, c.testCutoff),
    slices: churnSlices(test.values, rows),
  };
}

/** The classifiers `npm run evaluate` and the promotion gate can re-score, by model name. */
export const CLASSIFIER_HOLDOUTS: Readonly<Record<string, (store: Store) => Promise<ClassifierHoldout>>> = { overdue: overdueHoldout, churn: churnHoldout };
