/**
 * Served thresholds with their consequences: choosing a model's MEDIUM and HIGH thresholds
 * from validation scores by a stated rule, and reporting what any threshold does on held-out
 * rows (who is flagged, how many of them are right, how many of the positives are found).
 *
 * Contract: a row is flagged when its score is at or above the threshold (as `accuracy` in
 * src/ml/metrics.ts); scores are finite, labels 0 or 1, parallel arrays of equal length.
 * Thresholds are chosen on validation rows only and then applied unchanged to test rows.
 */
import { accuracy as accuracyAt, brierScore, logLoss } from '../ml/metrics';
import { bootstrapFigures, type BootstrapOptions, type Interval } from './intervals';

type Numbers = ArrayLike<number>;

/**
 * How a threshold is chosen on validation rows:
 * - share: flag the `share` of rows with the highest scores;
 * - capacity: staff can act on `capacity` rows per period (members to call in a week), and a
 *   period holds `rowsPerPeriod` rows: the share flagged is capacity / rowsPerPeriod;
 * - cost: minimise falsePositiveCost·FP + falseNegativeCost·FN over the validation rows;
 * - precision: the lowest threshold whose precision is at least `atLeast` (the most positives
 *   found while that share of the flagged are right).
 */
export type ThresholdRule =
  | { kind: 'share'; share: number }
  | { kind: 'capacity'; capacity: number; rowsPerPeriod: number }
  | { kind: 'cost'; falsePositiveCost: number; falseNegativeCost: number }
  | { kind: 'precision'; atLeast: number };

export function describeThresholdRule(rule: ThresholdRule): string {
  switch (rule.kind) {
    case 'share':
      return `flag the top ${(rule.share * 100).toFixed(1)}% of scores`;
    case 'capacity':
      return `flag ${rule.capacity} of every ${rule.rowsPerPeriod} rows (the capacity to act per period)`;
    case 'cost':
      return `minimise ${rule.falsePositiveCost}·false positives + ${rule.falseNegativeCost}·false negatives`;
    case 'precision':
      return `the lowest threshold with precision at least ${rule.atLeast}`;
    default: {
      const unknown: never = rule;
      throw new Error(`unknown threshold rule ${JSON.stringify(unknown)}`);
    }
  }
}

function checkRows(scores: Numbers, labels: Numbers): void {
  if (scores.length !== labels.length) throw new Error(`scores has ${scores.length} values but labels has ${labels.length}; they must be the same length`);
  if (scores.length === 0) throw new Error('scores and labels are empty; a threshold needs at least one row');
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i]!)) throw new Error(`scores[${i}] is ${scores[i]}; scores must be finite`);
    if (labels[i] !== 0 && labels[i] !== 1) throw new Error(`labels[${i}] is ${labels[i]}; labels must be 0 or 1`);
  }
}

/** Distinct scores, highest first, with the positives and rows at or above each. */
function cumulativeByScore(scores: Numbers, labels: Numbers): { score: number; flagged: number; truePositives: number }[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  const steps: { score: number; flagged: number; truePositives: number }[] = [];
  let flagged = 0;
  let truePositives = 0;
  for (let k = 0; k < order.length; ) {
    const score = scores[order[k]!]!;
    for (; k < order.length && scores[order[k]!] === score; k++) {
      flagged++;
      truePositives += labels[order[k]!]!;
    }
    steps.push({ score, flagged, truePositives });
  }
  return steps;
}

function shareThreshold(scores: Numbers, share: number): number {
  if (!(share > 0 && share <= 1)) throw new Error(`the share flagged must lie in (0, 1], got ${share}`);
  const sorted = Float64Array.from(scores).sort().reverse();
  const count = Math.max(1, Math.round(share * sorted.length));
  return sorted[count - 1]!;
}

/**
 * The threshold the rule picks on validation rows. Ties at the threshold are all flagged, so
 * a share or capacity rule can flag slightly more than asked when scores repeat.
 */
export function chooseThreshold(scores: Numbers, labels: Numbers, rule: ThresholdRule): number {
  checkRows(scores, labels);
  switch (rule.kind) {
    case 'share':
      return shareThreshold(scores, rule.share);
    case 'capacity':
      if (!(rule.capacity > 0 && rule.rowsPerPeriod > 0)) {
        throw new Error(`capacity and rowsPerPeriod must be positive, got ${rule.capacity} and ${rule.rowsPerPeriod}`);
      }
      return shareThreshold(scores, Math.min(1, rule.capacity / rule.rowsPerPeriod));
    case 'cost': {
      const { falsePositiveCost: fpCost, falseNegativeCost: fnCost } = rule;
      if (!(fpCost > 0 && fnCost > 0)) throw new Error(`both costs must be positive, got ${fpCost} and ${fnCost}`);
      const steps = cumulativeByScore(scores, labels);
      const positives = steps[steps.length - 1]!.truePositives;
      let best = { score: Infinity, cost: positives * fnCost };
      for (const step of steps) {
        const cost = (step.flagged - step.truePositives) * fpCost + (positives - step.truePositives) * fnCost;
        if (cost < best.cost) best = { score: step.score, cost };
      }
      return best.score;
    }
    case 'precision': {
      if (!(rule.atLeast > 0 && rule.atLeast <= 1)) throw new Error(`precision must lie in (0, 1], got ${rule.atLeast}`);
      let chosen = Infinity;
      for (const step of cumulativeByScore(scores, labels)) if (step.truePositives / step.flagged >= rule.atLeast) chosen = step.score;
      return chosen;
    }
    default: {
      const unknown: never = rule;
      throw new Error(`unknown threshold rule ${JSON.stringify(unknown)}`);
    }
  }
}

/** The rules of a model's two served levels. */
export interface ThresholdRules {
  medium: ThresholdRule;
  high: ThresholdRule;
}

export interface ServedThresholds {
  medium: number;
  high: number;
  /** The rules in words, to store beside the values in the version's metadata. */
  rules: { medium: string; high: string };
}

/**
 * MEDIUM and HIGH from validation rows. A threshold no row reaches is Infinity (nothing is
 * flagged); MEDIUM above HIGH means the rules contradict each other, and throws.
 */
export function chooseServedThresholds(scores: Numbers, labels: Numbers, rules: { medium: ThresholdRule; high: ThresholdRule }): ServedThresholds {
  const medium = chooseThreshold(scores, labels, rules.medium);
  const high = chooseThreshold(scores, labels, rules.high);
  if (medium > high) {
    throw new Error(`the MEDIUM rule gives ${medium}, above HIGH's ${high}; MEDIUM must flag at least as many rows as HIGH`);
  }
  return { medium, high, rules: { medium: describeThresholdRule(rules.medium), high: describeThresholdRule(rules.high) } };
}

export interface ConfusionMatrix {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
}

export function confusionAt(scores: Numbers, labels: Numbers, threshold: number): ConfusionMatrix {
  checkRows(scores, labels);
  return confusionOfRows(scores, labels, threshold, Uint32Array.from({ length: scores.length }, (_, i) => i));
}

/** Precision, recall, share flagged and lift of one confusion matrix; NaN where undefined (precision with nothing flagged). */
export function thresholdFigures(m: ConfusionMatrix): { precision: number; recall: number; share: number; lift: number; baseRate: number } {
  const rows = m.truePositives + m.falsePositives + m.falseNegatives + m.trueNegatives;
  const flagged = m.truePositives + m.falsePositives;
  const positives = m.truePositives + m.falseNegatives;
  const precision = flagged > 0 ? m.truePositives / flagged : NaN;
  const baseRate = positives / rows;
  return {
    precision,
    recall: positives > 0 ? m.truePositives / positives : NaN,
    share: flagged / rows,
    lift: baseRate > 0 ? precision / baseRate : NaN,
    baseRate,
  };
}

export interface ThresholdReport {
  threshold: number;
  confusion: ConfusionMatrix;
  precision: Interval;
  recall: Interval;
  share: Interval;
  /** Precision over the base rate: how many times likelier a flagged row is positive than any row. */
  lift: Interval;
  baseRate: number;
  /** A dummy that flags the same share at random: its expected precision is the base rate, its recall the share. */
  randomAtSameShare: { precision: number; recall: number };
}

/** The confusion matrix of the rows listed (repeats counting again), without re-checking them. */
function confusionOfRows(scores: Numbers, labels: Numbers, threshold: number, rows: ArrayLike<number>): ConfusionMatrix {
  const m: ConfusionMatrix = { truePositives: 0, falsePositives: 0, falseNegatives: 0, trueNegatives: 0 };
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const flagged = scores[row]! >= threshold;
    if (labels[row] === 1) flagged ? m.truePositives++ : m.falseNegatives++;
    else flagged ? m.falsePositives++ : m.trueNegatives++;
  }
  return m;
}

/** A figure undefined on these rows (precision with nothing flagged) has no interval: low and high are NaN too. */
function withoutUndefined(value: number, interval: () => Interval): Interval {
  return Number.isFinite(value) ? interval() : { value, low: NaN, high: NaN };
}

/** What one threshold does on these rows, each figure with its bootstrap interval (one set of resamples for all). */
export function thresholdReport(scores: Numbers, labels: Numbers, threshold: number, options: BootstrapOptions = {}): ThresholdReport {
  const confusion = confusionAt(scores, labels, threshold);
  const { baseRate, ...figures } = thresholdFigures(confusion);
  const definedKeys = (Object.keys(figures) as (keyof typeof figures)[]).filter((key) => Number.isFinite(figures[key]));
  const intervals = bootstrapFigures(
    scores.length,
    (rows) => {
      const resampled = thresholdFigures(confusionOfRows(scores, labels, threshold, rows));
      return Object.fromEntries(definedKeys.map((key) => [key, resampled[key]])) as Record<keyof typeof figures, number>;
    },
    options,
  );
  const interval = (key: keyof typeof figures): Interval =>
    withoutUndefined(figures[key], () => {
      const { value, low, high } = intervals[key];
      return { value, low, high };
    });
  return {
    threshold,
    confusion,
    precision: interval('precision'),
    recall: interval('recall'),
    share: interval('share'),
    lift: interval('lift'),
    baseRate,
    randomAtSameShare: { precision: baseRate, recall: figures.share },
  };
}

/**
 * MEDIUM and HIGH from validation rows where the levels must nest: when MEDIUM's rule alone
 * would flag fewer rows than HIGH's (a cost rule on a library with few positives, say), MEDIUM
 * is set to HIGH, and its rule says so.
 */
export function chooseNestedThresholds(scores: Numbers, labels: Numbers, rules: ThresholdRules): ServedThresholds {
  const high = chooseThreshold(scores, labels, rules.high);
  const medium = chooseThreshold(scores, labels, rules.medium);
  const words = { medium: describeThresholdRule(rules.medium), high: describeThresholdRule(rules.high) };
  if (medium <= high) return { medium, high, rules: words };
  return { medium: high, high, rules: { ...words, medium: `${words.medium}, capped at HIGH (the rule alone flagged fewer rows)` } };
}

/** One entry of the `thresholds` array of `npm run evaluate -- --json`: ARCHITECTURE's fields, then the rest of the report. */
export interface EvaluatedThreshold {
  level: string;
  value: number;
  precision: Interval;
  recall: Interval;
  share: Interval;
  lift: Interval;
  confusion: ConfusionMatrix;
  /** The positive rate of the rows: the precision of flagging at random. */
  baseRate: number;
  randomAtSameShare: { precision: number; recall: number };
}

/** The `thresholds` entries for served levels (e.g. { MEDIUM: 0.15, HIGH: 0.35 }), in the order given. */
export function evaluatedThresholds(scores: Numbers, labels: Numbers, levels: Record<string, number>, options: BootstrapOptions = {}): EvaluatedThreshold[] {
  return Object.entries(levels).map(([level, value]) => {
    const { precision, recall, share, lift, confusion, baseRate, randomAtSameShare } = thresholdReport(scores, labels, value, options);
    return { level, value, precision, recall, share, lift, confusion, baseRate, randomAtSameShare };
  });
}

export interface DummyBaselines {
  /** Predicts the training majority class for every row. */
  majorityClass: { label: 0 | 1; accuracy: number };
  /** Predicts the training base rate as every row's probability (AUC is ½ by construction). */
  prior: { probability: number; logLoss: number; brierScore: number; auc: number };
}

/**
 * The dummy classifiers every report is read against, fitted on training labels only (no
 * look-ahead) and scored on the test labels.
 */
export function dummyBaselines(trainingLabels: Numbers, testLabels: Numbers): DummyBaselines {
  if (trainingLabels.length === 0) throw new Error('dummy baselines need training labels to fit the prior on');
  let positives = 0;
  for (let i = 0; i < trainingLabels.length; i++) positives += trainingLabels[i]!;
  const rate = positives / trainingLabels.length;
  const label: 0 | 1 = rate > 0.5 ? 1 : 0;
  const constant = (value: number) => new Float64Array(testLabels.length).fill(value);
  return {
    majorityClass: { label, accuracy: accuracyAt(constant(label), testLabels, 0.5) },
    prior: { probability: rate, logLoss: logLoss(constant(rate), testLabels), brierScore: brierScore(constant(rate), testLabels), auc: 0.5 },
  };
}
