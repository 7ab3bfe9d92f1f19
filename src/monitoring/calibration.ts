/**
 * Calibration of a classifier's probabilities: rows grouped into equal-width bins of predicted
 * probability, each bin's mean prediction beside the share of positives observed in it, with
 * a Wilson interval. Used by the graph's `predictions` connection and the model card's chart.
 */
import { wilsonInterval, type Interval } from './statistics';

export interface CalibrationBin {
  /** The bin's range of predicted probability, [low, high). */
  low: number;
  high: number;
  rows: number;
  meanPredicted: number;
  observed: Interval;
}

export const MAX_CALIBRATION_BINS = 50;

/** Per-bin sums of equal-width bins of predicted probability: what calibration is computed from. */
export interface CalibrationSums {
  counts: number[];
  positives: number[];
  predicted: number[];
}

export function emptyCalibrationSums(bins = 10): CalibrationSums {
  if (!Number.isInteger(bins) || bins < 1 || bins > MAX_CALIBRATION_BINS) throw new RangeError(`bins must be an integer in 1..${MAX_CALIBRATION_BINS}, got ${bins}`);
  return { counts: new Array<number>(bins).fill(0), positives: new Array<number>(bins).fill(0), predicted: new Array<number>(bins).fill(0) };
}

/** Folds one probability and its 0/1 outcome into `sums` (probabilities outside [0, 1] are left out). */
export function addToCalibration(sums: CalibrationSums, score: number, outcome: number): void {
  if (!(score >= 0 && score <= 1)) return;
  const bins = sums.counts.length;
  const bin = Math.min(bins - 1, Math.floor(score * bins));
  sums.counts[bin] = (sums.counts[bin] ?? 0) + 1;
  sums.positives[bin] = (sums.positives[bin] ?? 0) + (outcome > 0 ? 1 : 0);
  sums.predicted[bin] = (sums.predicted[bin] ?? 0) + score;
}

export function mergeCalibration(into: CalibrationSums, from: CalibrationSums): void {
  from.counts.forEach((n, b) => {
    into.counts[b] = (into.counts[b] ?? 0) + n;
    into.positives[b] = (into.positives[b] ?? 0) + (from.positives[b] ?? 0);
    into.predicted[b] = (into.predicted[b] ?? 0) + (from.predicted[b] ?? 0);
  });
}

/** The non-empty bins of `sums`. */
export function binsOf(sums: CalibrationSums): CalibrationBin[] {
  const bins = sums.counts.length;
  const result: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const n = sums.counts[b] ?? 0;
    if (n === 0) continue;
    result.push({ low: b / bins, high: (b + 1) / bins, rows: n, meanPredicted: (sums.predicted[b] ?? 0) / n, observed: wilsonInterval(sums.positives[b] ?? 0, n) });
  }
  return result;
}

/** Bins of `rows` (probability and 0/1 outcome); empty bins are left out. */
export function calibrationBins(rows: ReadonlyArray<{ score: number; outcome: number }>, bins = 10): CalibrationBin[] {
  const sums = emptyCalibrationSums(bins);
  for (const { score, outcome } of rows) addToCalibration(sums, score, outcome);
  return binsOf(sums);
}
