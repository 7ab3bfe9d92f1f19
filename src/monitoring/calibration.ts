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

/** Bins of `rows` (probability and 0/1 outcome); empty bins are left out. */
export function calibrationBins(rows: ReadonlyArray<{ score: number; outcome: number }>, bins = 10): CalibrationBin[] {
  if (!Number.isInteger(bins) || bins < 1 || bins > MAX_CALIBRATION_BINS) throw new RangeError(`bins must be an integer in 1..${MAX_CALIBRATION_BINS}, got ${bins}`);
  const counts = new Array<number>(bins).fill(0);
  const positives = new Array<number>(bins).fill(0);
  const predicted = new Array<number>(bins).fill(0);
  for (const { score, outcome } of rows) {
    if (!(score >= 0 && score <= 1)) continue;
    const bin = Math.min(bins - 1, Math.floor(score * bins));
    counts[bin] = (counts[bin] ?? 0) + 1;
    positives[bin] = (positives[bin] ?? 0) + (outcome > 0 ? 1 : 0);
    predicted[bin] = (predicted[bin] ?? 0) + score;
  }
  const result: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const n = counts[b] ?? 0;
    if (n === 0) continue;
    result.push({ low: b / bins, high: (b + 1) / bins, rows: n, meanPredicted: (predicted[b] ?? 0) / n, observed: wilsonInterval(positives[b] ?? 0, n) });
  }
  return result;
}
