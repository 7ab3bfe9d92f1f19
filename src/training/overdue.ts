/**
 * Trains the overdue model: a random forest over loan features, trained on older loans and
 * evaluated on the most recent loans whose outcome is known, against "the borrower's past
 * late share" and against the simulator's true late probabilities.
 *
 * The served MEDIUM/HIGH thresholds are chosen by OVERDUE_THRESHOLD_RULES on a validation window
 * inside the training loans laid out like the test window (120 days of checkouts ending 45 days
 * before the test window, outcomes as known when it starts), scored by a model trained on the
 * loans before it.
 */
import { dueDateOf, OVERDUE_FEATURE_NAMES, OVERDUE_FEATURES, overdueTrainingSet, type OverdueTrainingSet, type TrainingSample } from '../features/overdue';
import { trainRandomForest, TREE_ENSEMBLE_INPUT, TREE_ENSEMBLE_OUTPUT, type RandomForestParams } from '../ml/trees';
import { OVERDUE_THRESHOLD_RULES } from '../models/overdue';
import { heldOutWeeklyAuc, type HeldOutWeeks } from '../monitoring/quality';
import { calibrateOutcomeSeasons, type OutcomeSeasons, type SettledRow } from '../monitoring/seasons';
import { scoreOnnx } from '../evaluation/classifier-evaluation';
import type { Store } from '../store';
import { addDays } from '../util/dates';
import { OVERDUE_TEST_DAYS, OVERDUE_TEST_END_GAP_DAYS, overdueOracle, overdueWindows } from '../evaluation/classifier-holdout';
import { classifierCharts, classifierFigures, featureMedians, rankingFigures, servedThresholdsOnHoldout, treeEnsembleArtefacts } from './classifier-report';
import type { TrainedModel, TrainOptions } from './types';

export const OVERDUE_PARAMS: RandomForestParams = {
  trees: 60,
  maxDepth: 10,
  minSamplesLeaf: 50,
  rowsPerTree: 60_000,
};

/**
 * The most loans a training or threshold-validation window contributes rows (a seeded,
 * time-stratified sample past it, `TrainingSample`; the held-out test window is scored whole):
 * the training rows stay flat past about 55,000 members instead of growing with the library. The forest draws 60 × 60,000 rows, so a sample 33 times one tree's
 * rows leaves the trees nearly as independent as the whole window would; at 10,000 members
 * (about 360,000 training loans) the windows are kept whole and the model is the one without a cap.
 */
export const OVERDUE_MAX_TRAINING_ROWS = 2_000_000;

/** The training sample of a version trained with `seed` and the hyperparameters it recorded (none before the cap: every loan). */
export function overdueTrainingSample(hyperparameters: Record<string, unknown>, seed: number): TrainingSample | undefined {
  const maxRows = hyperparameters.maxTrainingRows;
  return typeof maxRows === 'number' ? { maxRows, seed } : undefined;
}

/**
 * Overdue's outcome seasons (src/monitoring/seasons.ts) from its training rows and their
 * scores: each loan is settled the day after its final due date, and only loans settled by
 * `settledBy` (the training labels' as-of date, the test window's start) count. The one code
 * path of the trainer and of `models reference`, which backfills a version trained before
 * seasons existed from the same rows rebuilt out of the library and scored by its model.onnx,
 * so a backfilled version carries the factors its trainer would have written (up to the
 * ONNX graph's float32 scores).
 */
export function overdueOutcomeSeasons(train: Pick<OverdueTrainingSet, 'dueDays' | 'labels'>, scores: ArrayLike<number>, settledBy: string): OutcomeSeasons {
  if (scores.length !== train.labels.length) throw new Error(`overdue's outcome seasons need one score per training loan, got ${scores.length} for ${train.labels.length}`);
  // A row at a time: one object per training loan at once would be gigabytes at a million members.
  function* rows(): Generator<SettledRow> {
    for (let i = 0; i < train.labels.length; i++) {
      yield { settledOn: addDays(dueDateOf(train, i), 1), probability: Math.min(1, Math.max(0, scores[i] ?? 0)), label: train.labels[i] === 1 ? 1 : 0 };
    }
  }
  return calibrateOutcomeSeasons(rows(), settledBy);
}

/**
 * Overdue's held-out AUC week by week (src/monitoring/quality.ts), each loan in the week it is
 * settled (the day after its final due date): a live week's AUC varies more than the pooled
 * one's interval says, and these weeks say by how much. The one code path of the trainer and of
 * `models reference`, which backfills a version trained before they existed.
 */
export function overdueHeldOutWeeks(test: Pick<OverdueTrainingSet, 'dueDays' | 'labels'>, scores: ArrayLike<number>): Record<string, HeldOutWeeks> {
  const auc = heldOutWeeklyAuc(scores, test.labels, (i) => addDays(dueDateOf(test, i), 1));
  return auc ? { auc } : {};
}

/**
 * The served thresholds' validation rows, laid out like the test window, scored by a forest
 * trained on the loans before them (outcomes as known when the test window starts).
 */
async function thresholdFold(
  store: Store,
  w: { trainStart: string; validationStart: string; validationEnd: string; testStart: string },
  seed: number,
  progress: TrainOptions['progress'],
): Promise<{ validation: OverdueTrainingSet; validationScores: Float64Array }> {
  progress('overdue: thresholds on validation loans', { train: `${w.trainStart}..${w.validationStart}`, validation: `${w.validationStart}..${w.validationEnd}` });
  const sample = { maxRows: OVERDUE_MAX_TRAINING_ROWS, seed };
  const foldTrain = await overdueTrainingSet(store, w.trainStart, w.validationStart, w.validationStart, sample);
  const validation = await overdueTrainingSet(store, w.validationStart, w.validationEnd, w.testStart, sample);
  const foldModel = trainRandomForest(
    { features: foldTrain.features.values, labels: foldTrain.labels, rowCount: foldTrain.labels.length, featureCount: OVERDUE_FEATURES.length, featureNames: OVERDUE_FEATURE_NAMES },
    { ...OVERDUE_PARAMS, seed },
  );
  return { validation, validationScores: foldModel.predictProba(validation.features.values, validation.labels.length) };
}

export async function trainOverdue(store: Store, options: TrainOptions): Promise<TrainedModel> {
  const { seed, progress } = options;
  const { asOf, trainStart, testStart, testEnd } = await overdueWindows(store);
  const d = OVERDUE_FEATURES.length;
  const names = OVERDUE_FEATURES.map((f) => f.name);

  // The threshold fold first, so its rows and forest are garbage before the final training rows
  // are read: the two training sets are never held at once (at a million members, about 2 GB each).
  const validationEnd = addDays(testStart, -OVERDUE_TEST_END_GAP_DAYS);
  const validationStart = addDays(validationEnd, -OVERDUE_TEST_DAYS);
  const { validation, validationScores } = await thresholdFold(store, { trainStart, validationStart, validationEnd, testStart }, seed, progress);

  progress('overdue: loan features', { train: `${trainStart}..${testStart}`, test: `${testStart}..${testEnd}` });
  const train = await overdueTrainingSet(store, trainStart, testStart, testStart, { maxRows: OVERDUE_MAX_TRAINING_ROWS, seed });
  const test = await overdueTrainingSet(store, testStart, testEnd, asOf);
  const nTrain = train.labels.length;
  const nTest = test.labels.length;

  progress('overdue: random forest', { rows: nTrain, ...(train.sampledFrom === undefined ? {} : { sampledFrom: train.sampledFrom }), features: d });
  const model = trainRandomForest(
    { features: train.features.values, labels: train.labels, rowCount: nTrain, featureCount: d, featureNames: names },
    { ...OVERDUE_PARAMS, seed },
  );

  progress('overdue: evaluating on held-out loans', { rows: nTest });
  // Scored through the exported graph, as serving and `npm run evaluate` score it.
  const artefacts = treeEnsembleArtefacts(model, names, test.features.values);
  const testProbabilities = await scoreOnnx(artefacts.onnxBytes, { input: TREE_ENSEMBLE_INPUT, output: TREE_ENSEMBLE_OUTPUT }, test.features.values, nTest, d);
  const pastLateShare = Float64Array.from({ length: nTest }, (_, i) => test.features.values[i * d]!);
  const oracle = await overdueOracle(store, test.features.loanIds);
  const heldOut = classifierFigures(testProbabilities, test.labels);
  const baselineName = "the borrower's past late share";
  const importance = model.featureImportance();
  const { served, figures: thresholdFigures } = servedThresholdsOnHoldout(
    { scores: validationScores, labels: validation.labels },
    { scores: testProbabilities, labels: test.labels },
    OVERDUE_THRESHOLD_RULES,
  );

  // The training rows' own outcome ratio per week of the year, for ModelOutcomeRateShift: only
  // outcomes settled by testStart (the labels' as-of date), so no week holds just early returns.
  const trainScores = model.predictProba(train.features.values, nTrain);
  const outcomeSeasons = overdueOutcomeSeasons(train, trainScores, testStart);

  return {
    ...artefacts,
    charts: classifierCharts(testProbabilities, test.labels, { name: baselineName, scores: pastLateShare }),
    referenceRows: { names, values: train.features.values, rowCount: nTrain, score: trainScores },
    metadata: {
      name: 'overdue',
      task: 'classification',
      predicts: 'The probability that a loan comes back after its final due date.',
      algorithm: 'random forest (ai.onnx.ml TreeEnsembleRegressor, average of leaf late shares)',
      trainingData: {
        window: { from: trainStart, to: testEnd },
        rows: { train: nTrain, test: nTest, ...(train.sampledFrom === undefined ? {} : { sampledFrom: train.sampledFrom }) },
        asOf,
        seed,
        source: 'simulated library loans',
      },
      featureSpec: OVERDUE_FEATURES.map((f) => ({ name: f.name, type: f.type, description: f.description })),
      inputs: [{ name: TREE_ENSEMBLE_INPUT, elementType: 'float32', shape: ['batch', d], featureAxis: 1 }],
      outputs: [{ name: TREE_ENSEMBLE_OUTPUT, elementType: 'float32', shape: ['batch'] }],
      metrics: {
        heldOut: { ...heldOut },
        heldOutWeeks: overdueHeldOutWeeks(test, testProbabilities),
        baseline: { name: baselineName, metrics: { ...classifierFigures(pastLateShare, test.labels), ...rankingFigures(pastLateShare, test.labels) } },
        ...(oracle ? { oracle: { metrics: { ...classifierFigures(oracle, test.labels) } } } : {}),
        thresholds: thresholdFigures,
      },
      headlineMetric: { name: 'auc', value: heldOut.auc, higherIsBetter: true },
      hyperparameters: { ...OVERDUE_PARAMS, seed, maxTrainingRows: OVERDUE_MAX_TRAINING_ROWS },
      outcomeSeasons,
      serving: {
        reference: featureMedians(train.features.values, nTrain, d),
        riskThresholds: { medium: served.medium, high: served.high },
        thresholdRules: served.rules,
        thresholdValidation: { from: validationStart, to: validationEnd, rows: validation.labels.length, ...(validation.sampledFrom === undefined ? {} : { sampledFrom: validation.sampledFrom }) },
        featureImportance: Object.fromEntries(names.map((n, j) => [n, importance[j]!])),
      },
      notes:
        `Trained on loans checked out ${trainStart} to ${testStart} (outcomes as known on ${testStart}` +
        `${train.sampledFrom === undefined ? '' : `; a sample of the window's ${train.sampledFrom} loans: one loan of each of ${OVERDUE_MAX_TRAINING_ROWS} equal stretches in checkout order, seed ${seed}`}); held out: loans checked ` +
        `out ${testStart} to ${testEnd}, outcomes as known on ${asOf}. Features use only what was known at checkout, plus renewals. ` +
        `Served thresholds chosen on loans checked out ${validationStart} to ${validationEnd} (outcomes as known on ${testStart}), ` +
        `scored by a forest trained on the loans before ${validationStart}: HIGH = ${served.rules.high}; MEDIUM = ${served.rules.medium}.`,
    },
  };
}
