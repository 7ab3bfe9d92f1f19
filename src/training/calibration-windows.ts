/**
 * Unshifted windows of a library's past, as the live monitor would see them, and the drift
 * thresholds calibrated on them: what `npm run bench:drift` measured its false alarms with
 * and what `models reference --calibrate-weeks N` stores in a version's metadata
 * (`driftThresholds`), so the monitor uses the thresholds the bench validated.
 *
 * A window of `width` days holds what serving scores:
 *   overdue          loans checked out in the window, as known at checkout (no renewals yet,
 *                    the loan's first due date), and their scores
 *   churn            the members active on the day (a checkout in the ACTIVE_WITHIN_DAYS days
 *                    before it: the population churn is trained on, at its monthly cut-offs,
 *                    and the one it scores, lapsed members being answered by rule), features
 *                    on the day, and scores
 *   segmentation     the members with a checkout in the window, their features and the segment they are given
 *   recommendations  the same members' history lengths, and the genre of each book borrowed
 *
 * Churn's window is not the week's borrowers: they borrow more than the active members of the
 * training panel (their `loans_prev_90d` mean was 10 to 17 against the reference's 7.4), so every
 * week stood far from the reference and its threshold measured how far, a distance that grows
 * with the library's year-on-year activity rather than with any shift.
 *
 * Calibration takes one such window a week for `weeks` weeks up to the library's as-of date
 * (two years show every season twice, so no threshold rests on one year's version of a week)
 * and runs calibrateThresholds on them with the p-value tests' α divided among the version's
 * features × a year of days (thresholds.ts), fixed before any live day is seen.
 *
 * Features that grow with the clock by construction (CLOCK_FEATURES: a member's days since
 * joining, and the books in a borrower's history) are compared with their newest weeks, not
 * with the whole training period. The
 * library's members age a day a day and its 2020–2022 cohorts were large, so the loans' tenure
 * at checkout rose about 100 days a year (mean 1,762 in 2022, 1,863 in 2023, 1,975 in 2024 on
 * the 10,000-member library): a training period of 2.6 years is centred more than a year before
 * the version serves, the KS D of unshifted weeks against it grew from 0.03 (mid-2023) to 0.08
 * (the last weeks before the as-of date), and on lived days it kept growing past the calibrated
 * threshold (overdue's tenure fired on days 86–89 of 90 unshifted days). Against the newest
 * RECENT_REFERENCE_WEEKS weeks the reference is the era served, and the calibration weeks, up to
 * two years older, measure how far two years of ageing move the statistic: more than the year
 * a version's thresholds stand for (thresholds.ts FAMILY_DAYS). A classifier's score, computed
 * from such a feature, moves with the clock too, and is compared the same way
 * (RECENT_REFERENCE_COLUMNS).
 */
import path from 'node:path';
import type { ModelName } from '../config';
import { churnFeatures } from '../features/churn';
import { loanAtCheckout, overdueFeatures } from '../features/overdue';
import { borrowingHistories } from '../features/recommendations';
import { segmentationFeatures } from '../features/segmentation';
import { SEGMENTATION_OUTPUTS } from '../ml/kmeans';
import { ACTIVE_WITHIN_DAYS, isActiveRow } from '../models/churn';
import { buildReference, calibrateThresholds, type DriftConfig, type DriftReferences, type DriftWindow, type FeatureValue } from '../monitoring/drift';
import { SCORE_REFERENCE } from '../monitoring/references';
import { familyTestsOf } from '../monitoring/thresholds';
import { parseSegmentationServing } from '../models/segmentation';
import type { ProductionModel } from '../registry';
import type { Store } from '../store';
import { addDays } from '../util/dates';
import { bookGenres, scoreRows } from './references';

/** Newest weekly windows a clock feature's reference is built from (a quarter). */
export const RECENT_REFERENCE_WEEKS = 13;

/** The models whose drift thresholds can be calibrated on windows of the library's past. */
export const CALIBRATED_MODELS = ['overdue', 'churn', 'segmentation', 'recommendations'] as const satisfies readonly ModelName[];
export type CalibratedModel = (typeof CALIBRATED_MODELS)[number];
/** Two years of weekly windows: every season twice. */
export const CALIBRATION_WEEKS = 104;
/** Days in each window (the monitor's week). */
export const CALIBRATION_WINDOW_DAYS = 7;
/**
 * Windows up to this size use the p-value tests. Well above any window of the calibrated library
 * size, so calibration and monitoring use the same test: a window that crossed Evidently's
 * 1,000 would switch to a distance whose threshold no unshifted window has calibrated.
 */
export const CALIBRATION_SMALL_WINDOW = 5_000;

/** A version as calibration needs it: its folder (for model.onnx) and metadata. */
export type CalibratedVersion = Pick<ProductionModel, 'dir' | 'metadata'>;

/** Per model, the features that grow with the clock by construction: compared with their newest weeks (see above). */
export const CLOCK_FEATURES: Record<CalibratedModel, readonly string[]> = {
  overdue: ['member_tenure_days'],
  churn: ['tenure_days'],
  segmentation: ['tenure_days'],
  recommendations: ['history_books'],
};

/**
 * Per model, the columns whose reference is their newest weeks: the clock features, and the
 * probability of each classifier that takes one as an input. A churn or overdue score is a
 * function of its tenure feature among others, so it moves with the clock by the same
 * construction, and the cohorts' ageing moved it: the 10,000-member library's active members'
 * mean churn score in early March was 0.190 in 2023, 0.177 in 2024 and 0.159 in 2025, against
 * a reference of the training cut-offs (2023-08 to 2024-07, mean 0.180), and an unshifted living
 * run raised churn's score alarm on days 63–69. Segmentation's output is a segment name (a
 * categorical reference), and stays on its training reference.
 */
export const RECENT_REFERENCE_COLUMNS: Record<CalibratedModel, readonly string[]> = {
  overdue: [...CLOCK_FEATURES.overdue, SCORE_REFERENCE],
  churn: [...CLOCK_FEATURES.churn, SCORE_REFERENCE],
  segmentation: CLOCK_FEATURES.segmentation,
  recommendations: CLOCK_FEATURES.recommendations,
};

/**
 * `references` with each of `features` rebuilt from the newest `weeks` of `windows` (newest
 * first, as calibrationWindows returns them): the values those windows hold, as one numeric
 * reference. A feature absent from the references or with no value in those windows is left as it is.
 */
export function recentReferences(references: DriftReferences, windows: readonly DriftWindow[], features: readonly string[], weeks = RECENT_REFERENCE_WEEKS): DriftReferences {
  if (!Number.isInteger(weeks) || weeks < 1) throw new RangeError(`a recent reference needs at least 1 week, got ${weeks}`);
  const rebuilt = { ...references.features };
  for (const feature of features) {
    if (!rebuilt[feature]) continue;
    const values = windows.slice(0, weeks).flatMap((w) => w[feature] ?? []).filter((v) => v !== null && !(typeof v === 'number' && Number.isNaN(v)));
    if (values.length > 0) rebuilt[feature] = buildReference(values, { kind: 'numeric' });
  }
  return { features: rebuilt };
}

export function isCalibratedModel(name: string): name is CalibratedModel {
  return (CALIBRATED_MODELS as readonly string[]).includes(name);
}

const LOAN_COLUMNS = ['id', 'member_id', 'book_id', 'checked_out_at', 'due_at', 'returned_at', 'renewals'] as const;

export interface OverdueRows {
  days: string[];
  values: Float32Array;
  scores: number[];
  /** 1 late, 0 on time, as the store stands; settled the day after `finalDue`. */
  late: (0 | 1)[];
  finalDue: string[];
  /** The score of the loan after its last renewal: the last prediction before its outcome. */
  settledScores: number[];
}

/**
 * Every loan checked out from `from` on, with its features and score at checkout (they never
 * change afterwards), and its outcome: on time when it came back by its final due date,
 * otherwise late (as src/monitoring/outcomes judges), with its score as last renewed.
 */
export async function overdueAtCheckout(store: Store, version: CalibratedVersion, from: string): Promise<OverdueRows> {
  const histories = await store.db.selectFrom('loans').select([...LOAN_COLUMNS]).execute();
  const targets = histories.filter((l) => l.checked_out_at >= from).map(loanAtCheckout);
  const [books, members] = await Promise.all([
    store.db.selectFrom('books').select(['id', 'collection', 'ratings_count']).execute(),
    store.db.selectFrom('members').select(['id', 'joined_at']).execute(),
  ]);
  const features = overdueFeatures(targets, histories, new Map(books.map((b) => [b.id, b])), new Map(members.map((m) => [m.id, m.joined_at])));
  const scores = await scoreRows(path.join(version.dir, 'model.onnx'), version.metadata, features.values, targets.length);
  const final = histories.filter((l) => l.checked_out_at >= from).map((l) => ({ ...l, returned_at: null }));
  const settled = overdueFeatures(final, histories, new Map(books.map((b) => [b.id, b])), new Map(members.map((m) => [m.id, m.joined_at])));
  const settledScores = await scoreRows(path.join(version.dir, 'model.onnx'), version.metadata, settled.values, final.length);
  const returned = histories.filter((l) => l.checked_out_at >= from).map((l) => l.returned_at);
  return {
    days: targets.map((l) => l.checked_out_at),
    values: features.values,
    scores,
    late: final.map((l, i) => ((returned[i] ?? null) !== null && (returned[i] ?? '') <= l.due_at ? 0 : 1)),
    finalDue: final.map((l) => l.due_at),
    settledScores,
  };
}

function matrixWindow(names: readonly string[], values: ArrayLike<number>, rows: number[], score: readonly FeatureValue[]): DriftWindow {
  const d = names.length;
  const window: Record<string, FeatureValue[]> = { [SCORE_REFERENCE]: [...score] };
  names.forEach((name, j) => (window[name] = rows.map((i) => values[i * d + j] ?? null)));
  return window;
}

/** Members with a checkout in the `days` days up to and including `day`, ascending. */
async function recentBorrowers(store: Store, day: string, days: number): Promise<number[]> {
  const rows = await store.db.selectFrom('loans').select('member_id').distinct().where('checked_out_at', '>', addDays(day, -days)).where('checked_out_at', '<=', day).execute();
  return rows.map((r) => r.member_id).sort((a, b) => a - b);
}

/** What windows are built from: the store, the versions to window (any of the calibrated models), overdue's loans when overdue is one. */
export interface WindowSource {
  store: Store;
  versions: Partial<Record<CalibratedModel, CalibratedVersion>>;
  overdue?: OverdueRows;
  genres: Map<number, string>;
}

/** The window of the `width` days up to and including `day` of each model in `source.versions`. */
export async function windowsAt(source: WindowSource, day: string, width: number): Promise<Partial<Record<CalibratedModel, DriftWindow>>> {
  const from = addDays(day, -width);
  const { store, versions, overdue } = source;
  const loans = await store.db.selectFrom('loans').select(['member_id', 'book_id']).where('checked_out_at', '>', from).where('checked_out_at', '<=', day).execute();
  const memberIds = [...new Set(loans.map((l) => l.member_id))].sort((a, b) => a - b);
  const names = (version: CalibratedVersion) => version.metadata.featureSpec.map((f) => f.name);
  const all = (n: number) => Array.from({ length: n }, (_, i) => i);
  const windows: Partial<Record<CalibratedModel, DriftWindow>> = {};
  if (versions.overdue) {
    if (!overdue) throw new Error("overdue's windows need its loans at checkout (overdueAtCheckout)");
    const loanRows: number[] = [];
    overdue.days.forEach((d, i) => d > from && d <= day && loanRows.push(i));
    windows.overdue = matrixWindow(names(versions.overdue), overdue.values, loanRows, loanRows.map((i) => overdue.scores[i] ?? null));
  }
  if (versions.churn) {
    const churn = await churnFeatures(store, await recentBorrowers(store, day, ACTIVE_WITHIN_DAYS + 1), day);
    const active = all(churn.memberIds.length).filter((i) => isActiveRow(churn.values, i));
    const churnScores = await scoreRows(path.join(versions.churn.dir, 'model.onnx'), versions.churn.metadata, churn.values, churn.memberIds.length);
    windows.churn = matrixWindow(names(versions.churn), churn.values, active, active.map((i) => churnScores[i] ?? null));
  }
  if (versions.segmentation) {
    const segments = await segmentationFeatures(store, memberIds, day);
    const serving = parseSegmentationServing(versions.segmentation.metadata);
    const segmentIds = await scoreRows(path.join(versions.segmentation.dir, 'model.onnx'), versions.segmentation.metadata, segments.values, segments.memberIds.length, SEGMENTATION_OUTPUTS.segment);
    windows.segmentation = matrixWindow(names(versions.segmentation), segments.values, all(segments.memberIds.length), segmentIds.map((id) => serving.segments[id]?.name ?? `segment ${id}`));
  }
  if (versions.recommendations) {
    const histories = (await borrowingHistories(store, memberIds, day)).filter((h) => h !== undefined);
    windows.recommendations = { history_books: histories.map((h) => h.bookIds.length), borrowed_genre: loans.map((l) => source.genres.get(l.book_id) ?? 'unknown') };
  }
  return windows;
}

export interface CalibrationRun {
  /** Weekly windows up to `asOf` (default CALIBRATION_WEEKS). */
  weeks?: number;
  /** Days per window (default CALIBRATION_WINDOW_DAYS). */
  width?: number;
  /** The last day of the newest window: the library's as-of date. */
  asOf: string;
  /** Called with each week's day and windows, e.g. to trace their tests. */
  onWeek?: (day: string, windows: Partial<Record<CalibratedModel, DriftWindow>>) => void;
}

/**
 * The unshifted weekly windows of each version in `versions`, newest first, from `store` (the
 * library the versions were trained on, as it stood at their training date).
 */
export async function calibrationWindows(store: Store, versions: WindowSource['versions'], { weeks = CALIBRATION_WEEKS, width = CALIBRATION_WINDOW_DAYS, asOf, onWeek }: CalibrationRun): Promise<Partial<Record<CalibratedModel, DriftWindow[]>>> {
  if (!Number.isInteger(weeks) || weeks < 2) throw new RangeError(`calibration needs at least 2 weekly windows, got ${weeks}`);
  const source: WindowSource = {
    store,
    versions,
    overdue: versions.overdue ? await overdueAtCheckout(store, versions.overdue, addDays(asOf, -7 * weeks - width)) : undefined,
    genres: await bookGenres(store),
  };
  const windows: Partial<Record<CalibratedModel, DriftWindow[]>> = {};
  for (let week = 0; week < weeks; week++) {
    const day = addDays(asOf, -7 * week);
    const at = await windowsAt(source, day, width);
    onWeek?.(day, at);
    for (const [model, window] of Object.entries(at) as [CalibratedModel, DriftWindow][]) (windows[model] ??= []).push(window);
  }
  return windows;
}

/** calibrateThresholds on `windows` as the bench and `models reference --calibrate-weeks` run it: small-window tests up to CALIBRATION_SMALL_WINDOW, the family of thresholds.ts. */
export function calibratedDriftConfig(references: DriftReferences, windows: readonly DriftWindow[]): DriftConfig {
  return calibrateThresholds(references, windows, { smallWindow: CALIBRATION_SMALL_WINDOW, familyTests: familyTestsOf(references) });
}
