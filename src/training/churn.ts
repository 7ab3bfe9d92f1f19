/**
 * Trains the churn model: gradient-boosted trees over member features, for members still active
 * at a cut-off (a checkout in the 90 days before it). Members already lapsed are not scored:
 * serving reports them as LAPSED with the share of lapsed members who stayed away at the
 * training cut-offs.
 *
 *   panel:      active members at CHURN_PANEL_CUTOFFS monthly cut-offs, the last one
 *               asOf − 180 days, so every label (no checkout in the next 90 days) is known
 *               by the test cut-off;
 *   validation: rolling-origin folds over the panel (each validates one cut-off on a model
 *               trained on cut-offs whose window ended before it); they choose the
 *               hyperparameters and, by CHURN_THRESHOLD_RULES, the served thresholds;
 *   test:       active members at asOf − 90 days (src/evaluation/classifier-holdout.ts),
 *               scored once, against simple rules and the simulator's true probabilities.
 */
import { CHURN_FEATURES, CHURN_WINDOW_DAYS } from '../features/churn';
import { auc } from '../ml/metrics';
import { trainGradientBoosting, TREE_ENSEMBLE_INPUT, TREE_ENSEMBLE_OUTPUT, type GradientBoostingParams } from '../ml/trees';
import { ACTIVE_WITHIN_DAYS, CHURN_THRESHOLD_RULES } from '../models/churn';
import type { Store } from '../store';
import { addDays } from '../util/dates';
import { rollingOriginDays, selectOnFolds, summariseFolds, type DayFold } from '../evaluation/backtest';
import { activeChurnRows, churnCutoffs, churnHoldout } from '../evaluation/classifier-holdout';
import { scoreOnnx, sliceReports } from '../evaluation/classifier-evaluation';
import { classifierCharts, classifierFigures, featureMedians, rankingFigures, servedThresholdsOnHoldout, treeEnsembleArtefacts } from './classifier-report';
import type { TrainedModel, TrainOptions } from './types';

/** Monthly cut-offs in the training panel: a year, so every season is in it. */
export const CHURN_PANEL_CUTOFFS = 12;
export const CHURN_PANEL_STEP_DAYS = 30;
/** Validation folds over the panel: the latest cut-offs, one each. */
export const CHURN_VALIDATION_FOLDS = 3;

/** The settings the validation folds choose from, simplest first (ties go to the earlier). */
export const CHURN_CANDIDATES: readonly GradientBoostingParams[] = [
  { trees: 150, maxDepth: 3, learningRate: 0.05, minSamplesLeaf: 40, subsample: 0.8 },
  { trees: 300, maxDepth: 3, learningRate: 0.05, minSamplesLeaf: 100, subsample: 0.8 },
  { trees: 200, maxDepth: 4, learningRate: 0.05, minSamplesLeaf: 100, subsample: 0.8 },
];

interface PanelCut {
  cutoff: string;
  values: Float32Array;
  labels: Uint8Array;
  rows: number;
}

/** The monthly cut-offs of the training panel, oldest first, the last one `trainCutoff`. */
export function churnPanelCutoffs(trainCutoff: string): string[] {
  return Array.from({ length: CHURN_PANEL_CUTOFFS }, (_, k) => addDays(trainCutoff, -CHURN_PANEL_STEP_DAYS * (CHURN_PANEL_CUTOFFS - 1 - k)));
}

/** The rows of several cut-offs stacked, in the order given. */
export function stack(cuts: readonly PanelCut[], d: number): { values: Float32Array; labels: Uint8Array; rows: number } {
  const rows = cuts.reduce((n, c) => n + c.rows, 0);
  const values = new Float32Array(rows * d);
  const labels = new Uint8Array(rows);
  let at = 0;
  for (const cut of cuts) {
    values.set(cut.values, at * d);
    labels.set(cut.labels, at);
    at += cut.rows;
  }
  return { values, labels, rows };
}

export async function trainChurn(store: Store, options: TrainOptions): Promise<TrainedModel> {
  const { seed, progress } = options;
  const { asOf, trainCutoff, testCutoff } = await churnCutoffs(store);
  const allIds = (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
  const d = CHURN_FEATURES.length;
  const names = CHURN_FEATURES.map((f) => f.name);
  const train = (rows: { values: Float32Array; labels: Uint8Array; rows: number }, params: GradientBoostingParams) =>
    trainGradientBoosting({ features: rows.values, labels: rows.labels, rowCount: rows.rows, featureCount: d, featureNames: names }, { ...params, seed });

  const cutoffs = churnPanelCutoffs(trainCutoff);
  const panel: PanelCut[] = [];
  let lapsedRows = 0;
  let lapsedChurned = 0;
  for (const cutoff of cutoffs) {
    const cut = await activeChurnRows(store, allIds, cutoff);
    panel.push({ cutoff, values: cut.values, labels: cut.labels, rows: cut.memberIds.length });
    lapsedRows += cut.lapsed.rows;
    lapsedChurned += cut.lapsed.churned;
    progress('churn: panel cut-off', { cutoff, active: cut.memberIds.length, lapsed: cut.lapsed.rows });
  }

  // Each fold validates one cut-off; it trains on the cut-offs whose outcome window closed before it.
  const folds = rollingOriginDays({
    windowStart: cutoffs[0]!,
    windowEnd: addDays(trainCutoff, 1),
    folds: CHURN_VALIDATION_FOLDS,
    validationLength: CHURN_PANEL_STEP_DAYS,
    gap: CHURN_WINDOW_DAYS,
    minTrainLength: CHURN_PANEL_STEP_DAYS,
  });
  const inFold = (fold: DayFold) => ({
    train: stack(panel.filter((c) => c.cutoff < fold.origin), d),
    validation: panel.filter((c) => c.cutoff >= fold.validationStart && c.cutoff < fold.validationEnd),
  });
  const validationScores = new Map<string, { scores: Float64Array; labels: Uint8Array }>();
  const selection = selectOnFolds(
    CHURN_CANDIDATES,
    folds,
    (params, fold) => {
      const { train: rows, validation } = inFold(fold);
      const held = stack(validation, d);
      const scores = Float64Array.from(train(rows, params).predictProba(held.values, held.rows));
      validationScores.set(`${CHURN_CANDIDATES.indexOf(params)}:${fold.index}`, { scores, labels: held.labels });
      progress('churn: validation fold', { fold: fold.index, validates: validation.map((c) => c.cutoff), params, auc: auc(scores, held.labels) });
      return auc(scores, held.labels);
    },
    { lowerIsBetter: false },
  );
  const chosen = selection.best;
  const chosenIndex = CHURN_CANDIDATES.indexOf(chosen);
  const pooled = folds.map((fold) => validationScores.get(`${chosenIndex}:${fold.index}`)!);
  const validation = {
    scores: Float64Array.from(pooled.flatMap((p) => Array.from(p.scores))),
    labels: Uint8Array.from(pooled.flatMap((p) => Array.from(p.labels))),
  };

  const all = stack(panel, d);
  progress('churn: gradient boosting on the panel', { rows: all.rows, features: d, params: chosen });
  const model = train(all, chosen);

  const holdout = await churnHoldout(store);
  progress('churn: scoring the test cut-off once', { cutoff: testCutoff, rows: holdout.rows });
  const artefacts = treeEnsembleArtefacts(model, names, holdout.features);
  const testProbabilities = await scoreOnnx(artefacts.onnxBytes, { input: TREE_ENSEMBLE_INPUT, output: TREE_ENSEMBLE_OUTPUT }, holdout.features, holdout.rows, d);
  const testLabels = holdout.labels;
  const daysSinceLastLoan = Float64Array.from({ length: holdout.rows }, (_, i) => holdout.features[i * d]!);
  const oracle = holdout.oracle;

  const heldOut = classifierFigures(testProbabilities, testLabels);
  const baselineName = 'days since the last loan';
  const importance = model.featureImportance();
  const { served, figures: thresholdFigures } = servedThresholdsOnHoldout(validation, { scores: testProbabilities, labels: testLabels }, CHURN_THRESHOLD_RULES);
  const slices = sliceReports(holdout, testProbabilities, { seed, resamples: 100 }).map((s) => ({
    name: s.name,
    rows: s.rows,
    positiveRate: s.positiveRate,
    auc: Number.isFinite(s.auc.value) ? s.auc.value : null,
    oracleAuc: s.oracleAuc && Number.isFinite(s.oracleAuc.value) ? s.oracleAuc.value : null,
  }));
  const validationTable = selection.table.map((row) => ({ ...row.candidate, meanAuc: row.mean, sdAuc: row.sd, folds: row.folds }));
  const foldSummary = summariseFolds(selection.table[chosenIndex]!.scores);

  return {
    ...artefacts,
    charts: classifierCharts(testProbabilities, testLabels, { name: baselineName, scores: daysSinceLastLoan }),
    referenceRows: { names, values: all.values, rowCount: all.rows, score: model.predictProba(all.values, all.rows) },
    metadata: {
      name: 'churn',
      task: 'classification',
      predicts:
        `The probability that a member active in the last ${ACTIVE_WITHIN_DAYS} days makes no checkout in the ${CHURN_WINDOW_DAYS} days after ` +
        'the system date. Members with no checkout in those days are reported as LAPSED, not scored.',
      algorithm: 'gradient-boosted trees (ai.onnx.ml TreeEnsembleRegressor + Sigmoid)',
      trainingData: {
        window: { from: cutoffs[0]!, to: asOf },
        rows: { train: all.rows, test: holdout.rows },
        asOf,
        seed,
        source: `simulated library (${allIds.length} members), active members at ${CHURN_PANEL_CUTOFFS} monthly cut-offs ${cutoffs[0]} to ${trainCutoff}`,
      },
      featureSpec: CHURN_FEATURES.map((f) => ({ name: f.name, type: 'numeric', description: f.description })),
      inputs: [{ name: TREE_ENSEMBLE_INPUT, elementType: 'float32', shape: ['batch', d], featureAxis: 1 }],
      outputs: [{ name: TREE_ENSEMBLE_OUTPUT, elementType: 'float32', shape: ['batch'] }],
      metrics: {
        heldOut: { ...heldOut },
        baseline: { name: baselineName, metrics: rankingFigures(daysSinceLastLoan, testLabels) },
        ...(oracle ? { oracle: { metrics: { ...classifierFigures(oracle, testLabels) } } } : {}),
        thresholds: thresholdFigures,
        slices,
      },
      headlineMetric: { name: 'auc', value: heldOut.auc, higherIsBetter: true },
      hyperparameters: {
        ...chosen,
        seed,
        panelCutoffs: CHURN_PANEL_CUTOFFS,
        validationFolds: CHURN_VALIDATION_FOLDS,
        validationMeanAuc: foldSummary.mean,
        validationSdAuc: foldSummary.sd,
        candidates: JSON.stringify(validationTable),
      },
      serving: {
        reference: featureMedians(all.values, all.rows, d),
        riskThresholds: { medium: served.medium, high: served.high },
        thresholdRules: served.rules,
        thresholdValidation: { cutoffs: folds.map((f) => f.validationStart), rows: validation.labels.length },
        lapsed: { probability: lapsedRows > 0 ? lapsedChurned / lapsedRows : 1 },
        featureImportance: Object.fromEntries(names.map((n, j) => [n, importance[j]!])),
      },
      notes:
        `Trained on active members at ${CHURN_PANEL_CUTOFFS} monthly cut-offs ${cutoffs[0]} to ${trainCutoff}, outcomes over the next ` +
        `${CHURN_WINDOW_DAYS} days; hyperparameters and served thresholds chosen on ${CHURN_VALIDATION_FOLDS} rolling-origin validation folds ` +
        `inside that panel (validation AUC ${foldSummary.mean.toFixed(4)} ± ${foldSummary.sd.toFixed(4)}); tested once on active members at ` +
        `${testCutoff} with outcomes up to ${asOf}. HIGH = ${served.rules.high}; MEDIUM = ${served.rules.medium}. ` +
        `${lapsedRows} lapsed member-cut-offs in the panel, ${lapsedRows > 0 ? ((100 * lapsedChurned) / lapsedRows).toFixed(1) : 'n/a'}% of them made no checkout in the next window.`,
    },
  };
}
