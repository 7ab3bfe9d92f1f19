/**
 * Rolling-origin backtests: several cut-offs inside a training window, each fold training on
 * what came before its origin and validating on a window after it, so that hyperparameters
 * are chosen on validation folds only, and the test window after the training window is
 * scored once, with the choice already made.
 *
 * Time is a plain number on any regular clock (day number, week index, month index from
 * src/ml/forecasting/periods.ts); `rollingOriginDays` does the same on ISO days.
 *
 * Fold layout (all intervals half-open, [from, to)):
 *
 *   train [windowStart, origin)  gap [origin, origin + gap)  validate [origin + gap, origin + gap + validationLength)
 *
 * The last fold's validation ends exactly at `windowEnd` (the start of the test window); each
 * earlier fold's origin is `step` earlier. No validation period reaches `windowEnd` or beyond.
 */
import { addDays, daysBetween } from '../util/dates';

export interface Fold {
  /** 0 for the earliest fold. */
  index: number;
  trainStart: number;
  /** First time not trained on: the cut-off. */
  origin: number;
  validationStart: number;
  /** Exclusive. */
  validationEnd: number;
}

export interface RollingOriginOptions {
  windowStart: number;
  /** Exclusive end of the training window: the first time of the test window. */
  windowEnd: number;
  folds: number;
  validationLength: number;
  /** Time left out between the cut-off and the validation window (a label's horizon, say). Default 0. */
  gap?: number;
  /** Distance between consecutive origins. Default validationLength (validation windows abut). */
  step?: number;
  /** Fewest time units of training the earliest fold may have. Default 1. */
  minTrainLength?: number;
}

function checkInteger(name: string, value: number, least: number): void {
  if (!Number.isInteger(value) || value < least) throw new Error(`${name} must be an integer of at least ${least}, got ${value}`);
}

/** The folds, earliest first; throws, saying how much is missing, when the window is too short. */
export function rollingOrigins(options: RollingOriginOptions): Fold[] {
  const { windowStart, windowEnd, folds, validationLength, gap = 0, minTrainLength = 1 } = options;
  const step = options.step ?? validationLength;
  checkInteger('folds', folds, 1);
  checkInteger('validationLength', validationLength, 1);
  checkInteger('gap', gap, 0);
  checkInteger('step', step, 1);
  checkInteger('minTrainLength', minTrainLength, 1);
  const lastOrigin = windowEnd - validationLength - gap;
  const firstOrigin = lastOrigin - (folds - 1) * step;
  if (firstOrigin - windowStart < minTrainLength) {
    const needed = minTrainLength + (folds - 1) * step + gap + validationLength;
    throw new Error(`${folds} folds of ${validationLength} (gap ${gap}, step ${step}) with at least ${minTrainLength} to train on need a window of ${needed}; it has ${windowEnd - windowStart}`);
  }
  return Array.from({ length: folds }, (_, index) => {
    const origin = firstOrigin + index * step;
    return { index, trainStart: windowStart, origin, validationStart: origin + gap, validationEnd: origin + gap + validationLength };
  });
}

export interface DayFold {
  index: number;
  trainStart: string;
  /** The cut-off day: training sees days before it (and the state as of the day before). */
  origin: string;
  validationStart: string;
  /** Exclusive. */
  validationEnd: string;
}

/** `rollingOrigins` on ISO days (YYYY-MM-DD); lengths are in days. */
export function rollingOriginDays(options: Omit<RollingOriginOptions, 'windowStart' | 'windowEnd'> & { windowStart: string; windowEnd: string }): DayFold[] {
  const base = options.windowStart;
  return rollingOrigins({ ...options, windowStart: 0, windowEnd: daysBetween(base, options.windowEnd) }).map((f) => ({
    index: f.index,
    trainStart: base,
    origin: addDays(base, f.origin),
    validationStart: addDays(base, f.validationStart),
    validationEnd: addDays(base, f.validationEnd),
  }));
}

export interface FoldSummary {
  folds: number;
  mean: number;
  /** Sample standard deviation across folds (0 for one fold). */
  sd: number;
  min: number;
  max: number;
}

export function summariseFolds(values: readonly number[]): FoldSummary {
  if (values.length === 0) throw new Error('no fold scores to summarise');
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { folds: values.length, mean, sd, min: Math.min(...values), max: Math.max(...values) };
}

export interface CandidateScores<C> extends FoldSummary {
  candidate: C;
  scores: number[];
}

export interface FoldSelection<C> {
  best: C;
  /** Every candidate's fold scores and summary, in the order given. */
  table: CandidateScores<C>[];
}

/**
 * Scores every candidate (a hyperparameter setting, a forecasting method) on every fold and
 * picks the best mean; ties go to the earlier candidate, so list the simpler ones first. A
 * score that is not finite is an error in the scorer, and throws naming the fold.
 */
export function selectOnFolds<C, F extends { index: number }>(
  candidates: readonly C[],
  folds: readonly F[],
  score: (candidate: C, fold: F) => number,
  { lowerIsBetter = true }: { lowerIsBetter?: boolean } = {},
): FoldSelection<C> {
  if (candidates.length === 0) throw new Error('no candidates to choose from');
  if (folds.length === 0) throw new Error('no folds to score the candidates on');
  const table = candidates.map((candidate) => {
    const scores = folds.map((fold) => {
      const value = score(candidate, fold);
      if (!Number.isFinite(value)) throw new Error(`fold ${fold.index}: the score of ${JSON.stringify(candidate)} is ${value}`);
      return value;
    });
    return { candidate, scores, ...summariseFolds(scores) };
  });
  let best = table[0]!;
  for (const row of table) if (lowerIsBetter ? row.mean < best.mean : row.mean > best.mean) best = row;
  return { best: best.candidate, table };
}

/**
 * Wraps the scoring of the test window so that it can run once: the second call throws. A
 * test window scored again after a change is a validation window, and must be reported as one.
 */
export function testWindowOnce<A extends unknown[], R>(scoreTest: (...args: A) => R): (...args: A) => R {
  let used = false;
  return (...args: A) => {
    if (used) throw new Error('the test window has already been scored; choose on validation folds, then score the test window once');
    used = true;
    return scoreTest(...args);
  };
}
