/**
 * Held-out evaluation shared by the two classifiers (overdue, churn): the same figures for the
 * model, its simple baseline and, on simulated data, the oracle probabilities the simulator
 * drew the outcomes from. The oracle is the ceiling no model can beat on average.
 */
import { accuracy, auc, brierScore, calibrationBins, expectedCalibrationError, logLoss, rocCurve } from '../ml/metrics';
import type { ChartData } from '../model-cards';
import { exportTreeEnsembleOnnx, TREE_ENSEMBLE_INPUT, TREE_ENSEMBLE_OUTPUT, type TreeEnsemble } from '../ml/trees';
import type { ParityFile, ThresholdFigures } from '../registry';
import { chooseNestedThresholds, confusionAt, thresholdFigures, type ServedThresholds, type ThresholdRules } from '../evaluation/thresholds';

export interface ClassifierFigures {
  auc: number;
  logLoss: number;
  brier: number;
  ece: number;
  accuracy: number;
  positiveRate: number;
}

export function classifierFigures(probabilities: ArrayLike<number>, labels: Uint8Array): ClassifierFigures {
  let positives = 0;
  for (const label of labels) positives += label;
  return {
    auc: auc(probabilities, labels),
    logLoss: logLoss(probabilities, labels),
    brier: brierScore(probabilities, labels),
    ece: expectedCalibrationError(probabilities, labels, 10),
    accuracy: accuracy(probabilities, labels, 0.5),
    positiveRate: positives / labels.length,
  };
}

/**
 * A baseline score need not be a probability (e.g. days since the last loan): only its ranking
 * (AUC) is comparable, so the other figures are left out.
 */
export function rankingFigures(scores: ArrayLike<number>, labels: Uint8Array): { auc: number } {
  return { auc: auc(scores, labels) };
}

export function classifierCharts(
  probabilities: ArrayLike<number>,
  labels: Uint8Array,
  baseline: { name: string; scores: ArrayLike<number> },
): ChartData[] {
  const points = (scores: ArrayLike<number>) => rocCurve(scores, labels, 100).map((p) => ({ fpr: p.falsePositiveRate, tpr: p.truePositiveRate }));
  return [
    {
      kind: 'roc',
      points: points(probabilities),
      auc: auc(probabilities, labels),
      baseline: { name: baseline.name, points: points(baseline.scores), auc: auc(baseline.scores, labels) },
    },
    {
      kind: 'calibration',
      bins: calibrationBins(probabilities, labels, 10)
        .filter((b) => b.count > 0)
        .map((b) => ({ predicted: b.meanPredicted, observed: b.observedRate, count: b.count })),
    },
  ];
}

/** Per-feature medians of the training rows: the reference values explanations compare with. */
export function featureMedians(values: Float32Array, rows: number, d: number): number[] {
  const medians: number[] = [];
  const column = new Float64Array(rows);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < rows; i++) column[i] = values[i * d + j]!;
    column.sort();
    medians.push(Math.fround(rows ? column[Math.floor(rows / 2)]! : 0));
  }
  return medians;
}

/** Up to `rows` rows of a feature matrix, for parity.json. */
export function headRows(values: Float32Array, d: number, rows: number): Float32Array {
  return values.slice(0, Math.min(rows, values.length / d) * d);
}

/** The ONNX bytes of a tree ensemble and parity rows: up to 256 held-out rows as the trainer scores them. */
export function treeEnsembleArtefacts(model: TreeEnsemble, names: string[], heldOut: Float32Array): { onnxBytes: Uint8Array; parity: ParityFile } {
  const d = names.length;
  const rows = headRows(heldOut, d, 256);
  const n = rows.length / d;
  return {
    onnxBytes: exportTreeEnsembleOnnx(model, { featureNames: names }),
    parity: {
      inputs: [{ name: TREE_ENSEMBLE_INPUT, type: 'float32', dims: [n, d], data: Array.from(rows) }],
      expected: [{ name: TREE_ENSEMBLE_OUTPUT, data: Array.from(model.predictProba(rows, n)) }],
      tolerance: 1e-5,
    },
  };
}

const finiteOrNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

/**
 * The served MEDIUM/HIGH thresholds chosen by `rules` on validation rows (scores of a model that
 * did not train on them), and what they do on the held-out rows of the final model.
 */
export function servedThresholdsOnHoldout(
  validation: { scores: ArrayLike<number>; labels: Uint8Array },
  heldOut: { scores: ArrayLike<number>; labels: Uint8Array },
  rules: ThresholdRules,
): { served: ServedThresholds; figures: ThresholdFigures[] } {
  const served = chooseNestedThresholds(validation.scores, validation.labels, rules);
  const levels = [
    { level: 'MEDIUM', value: served.medium, rule: served.rules.medium },
    { level: 'HIGH', value: served.high, rule: served.rules.high },
  ];
  const figures = levels.map(({ level, value, rule }) => {
    const confusion = confusionAt(heldOut.scores, heldOut.labels, value);
    const f = thresholdFigures(confusion);
    return { level, value, rule, precision: finiteOrNull(f.precision), recall: f.recall, share: f.share, lift: finiteOrNull(f.lift), baseRate: f.baseRate, confusion };
  });
  return { served, figures };
}
