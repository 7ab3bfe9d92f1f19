/**
 * Segmentation's settings (the number of segments and the features' scaling) chosen by use on
 * rolling-origin folds inside the training window.
 *
 * Contract: the test window of `npm run evaluate -- --model segmentation` on a version trained
 * at `asOf` starts at asOf − 180 days (its fit cut-off). Each fold lies wholly before it: k-means
 * and the segments' lapse rates are fitted on the members at the fold's fit cut-off (their next
 * 90 days for the rates), and the fold is scored on the members 90 days later with their next 90
 * days, by lapse AUC, exactly as the evaluation scores a version (src/evaluation/segmentation-evaluation.ts).
 * The last fold's outcomes end on asOf − 180 days; earlier folds are 90 days apart.
 */
import { CHURN_WINDOW_DAYS } from '../features/churn';
import { trainSegmentation, type SegmentFeature } from '../ml/kmeans';
import { auc } from '../ml/metrics';
import type { Store } from '../store';
import { addDays } from '../util/dates';
import { rollingOriginDays, selectOnFolds, type DayFold, type FoldSelection } from './backtest';
import { predictions, segmentationHoldout, type SegmentationHoldout } from './segmentation-evaluation';

/** Days of loans a member's features look back over: a fold's fit cut-off needs this much history. */
const FEATURE_HISTORY_DAYS = 365;

export interface SegmentationFold extends DayFold {
  holdout: SegmentationHoldout;
}

/** k-means settings a fold fits with. */
export interface SegmentationSettings {
  /** The columns with their transform and weight (a scaling). */
  features: SegmentFeature[];
  k: number;
  nInit: number;
  maxIter: number;
  seed: number;
}

/** The validation folds of a version trained at `asOf`, earliest first, their members read through the serving feature code. */
export async function segmentationValidationFolds(store: Store, asOf: string, folds: number): Promise<SegmentationFold[]> {
  const first = (await store.db.selectFrom('loans').select((eb) => eb.fn.min('checked_out_at').as('first')).executeTakeFirstOrThrow()).first as string | null;
  if (first === null) throw new Error('the library has no loans to choose segmentation settings on');
  const layout = rollingOriginDays({
    windowStart: first,
    windowEnd: addDays(asOf, -2 * CHURN_WINDOW_DAYS),
    folds,
    validationLength: CHURN_WINDOW_DAYS,
    gap: CHURN_WINDOW_DAYS,
    minTrainLength: FEATURE_HISTORY_DAYS,
  });
  const out: SegmentationFold[] = [];
  for (const fold of layout) out.push({ ...fold, holdout: await segmentationHoldout(store, { end: fold.validationEnd }) });
  return out;
}

/** Lapse AUC of the segments k-means finds with `settings` at the fold's fit cut-off, scored 90 days later. */
export function foldLapseAuc(fold: SegmentationFold, settings: SegmentationSettings): number {
  const { fit, score } = fold.holdout;
  const model = trainSegmentation(fit.rows, settings);
  const p = predictions(fold.holdout, { fit: model.assignNames(fit.rows), score: model.assignNames(score.rows) });
  return auc(p.lapse, score.lapsed);
}

/** A candidate setting: a named scaling of the features and a number of segments. */
export interface SegmentationCandidate {
  scaling: string;
  features: SegmentFeature[];
  k: number;
}

/** The candidate with the best mean lapse AUC over the folds (ties to the earlier one: list simpler ones first). */
export function chooseSegmentation(
  folds: readonly SegmentationFold[],
  candidates: readonly SegmentationCandidate[],
  settings: Omit<SegmentationSettings, 'k' | 'features'>,
  progress: (candidate: SegmentationCandidate, fold: SegmentationFold, lapseAuc: number) => void = () => {},
): FoldSelection<SegmentationCandidate> {
  return selectOnFolds(
    candidates,
    folds,
    (candidate, fold) => {
      const value = foldLapseAuc(fold, { ...settings, features: candidate.features, k: candidate.k });
      progress(candidate, fold, value);
      return value;
    },
    { lowerIsBetter: false },
  );
}
