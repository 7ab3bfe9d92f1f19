/**
 * Trains the overdue model: a random forest over loan features, trained on older loans and
 * evaluated on the most recent loans whose outcome is known, against "the borrower's past
 * late share" and against the simulator's true late probabilities.
 */
import { OVERDUE_FEATURES, overdueTrainingSet } from '../features/overdue';
import { trainRandomForest, TREE_ENSEMBLE_INPUT, TREE_ENSEMBLE_OUTPUT, type RandomForestParams } from '../ml/trees';
import { OVERDUE_RISK_THRESHOLDS } from '../models/overdue';
import type { Store } from '../store';
import { overdueOracle, overdueWindows } from '../evaluation/classifier-holdout';
import { classifierCharts, classifierFigures, featureMedians, rankingFigures, treeEnsembleArtefacts } from './classifier-report';
import type { TrainedModel, TrainOptions } from './types';

export const OVERDUE_PARAMS: RandomForestParams = {
  trees: 60,
  maxDepth: 10,
  minSamplesLeaf: 50,
  rowsPerTree: 60_000,
};

export async function trainOverdue(store: Store, options: TrainOptions): Promise<TrainedModel> {
  const { seed, progress } = options;
  const { asOf, trainStart, testStart, testEnd } = await overdueWindows(store);
  const d = OVERDUE_FEATURES.length;
  const names = OVERDUE_FEATURES.map((f) => f.name);

  progress('overdue: loan features', { train: `${trainStart}..${testStart}`, test: `${testStart}..${testEnd}` });
  const train = await overdueTrainingSet(store, trainStart, testStart, testStart);
  const test = await overdueTrainingSet(store, testStart, testEnd, asOf);
  const nTrain = train.loans.length;
  const nTest = test.loans.length;

  progress('overdue: random forest', { rows: nTrain, features: d });
  const model = trainRandomForest(
    { features: train.features.values, labels: train.labels, rowCount: nTrain, featureCount: d, featureNames: names },
    { ...OVERDUE_PARAMS, seed },
  );
  progress('overdue: evaluating on held-out loans', { rows: nTest });
  const testProbabilities = model.predictProba(test.features.values, nTest);
  const pastLateShare = Float64Array.from({ length: nTest }, (_, i) => test.features.values[i * d]!);
  const oracle = await overdueOracle(store, test.features.loanIds);
  const heldOut = classifierFigures(testProbabilities, test.labels);
  const baselineName = "the borrower's past late share";
  const importance = model.featureImportance();

  return {
    ...treeEnsembleArtefacts(model, names, test.features.values),
    charts: classifierCharts(testProbabilities, test.labels, { name: baselineName, scores: pastLateShare }),
    referenceRows: { names, values: train.features.values, rowCount: nTrain, score: model.predictProba(train.features.values, nTrain) },
    metadata: {
      name: 'overdue',
      task: 'classification',
      predicts: 'The probability that a loan comes back after its final due date.',
      algorithm: 'random forest (ai.onnx.ml TreeEnsembleRegressor, average of leaf late shares)',
      trainingData: {
        window: { from: trainStart, to: testEnd },
        rows: { train: nTrain, test: nTest },
        asOf,
        seed,
        source: 'simulated library loans',
      },
      featureSpec: OVERDUE_FEATURES.map((f) => ({ name: f.name, type: f.type, description: f.description })),
      inputs: [{ name: TREE_ENSEMBLE_INPUT, elementType: 'float32', shape: ['batch', d], featureAxis: 1 }],
      outputs: [{ name: TREE_ENSEMBLE_OUTPUT, elementType: 'float32', shape: ['batch'] }],
      metrics: {
        heldOut: { ...heldOut },
        baseline: { name: baselineName, metrics: { ...classifierFigures(pastLateShare, test.labels), ...rankingFigures(pastLateShare, test.labels) } },
        ...(oracle ? { oracle: { metrics: { ...classifierFigures(oracle, test.labels) } } } : {}),
      },
      headlineMetric: { name: 'auc', value: heldOut.auc, higherIsBetter: true },
      hyperparameters: { ...OVERDUE_PARAMS, seed },
      serving: {
        reference: featureMedians(train.features.values, nTrain, d),
        riskThresholds: OVERDUE_RISK_THRESHOLDS,
        featureImportance: Object.fromEntries(names.map((n, j) => [n, importance[j]!])),
      },
      notes:
        `Trained on loans checked out ${trainStart} to ${testStart} (outcomes as known on ${testStart}); held out: loans checked ` +
        `out ${testStart} to ${testEnd}, outcomes as known on ${asOf}. Features use only what was known at checkout, plus renewals.`,
    },
  };
}
