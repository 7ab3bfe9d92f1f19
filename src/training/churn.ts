/**
 * Trains the churn model: gradient-boosted trees on member features at a past cut-off,
 * evaluated at a later cut-off whose 90-day outcome is known, against "days since the last
 * loan" and against the simulator's true probabilities.
 *
 *   train: features on asOf - 180 days, label = no checkout in the following 90 days
 *   test:  features on asOf - 90 days,  label = no checkout in the last 90 days
 */
import { CHURN_FEATURES, CHURN_WINDOW_DAYS, churnFeatures, churnLabels } from '../features/churn';
import { trainGradientBoosting, TREE_ENSEMBLE_INPUT, TREE_ENSEMBLE_OUTPUT, type GradientBoostingParams } from '../ml/trees';
import { CHURN_RISK_THRESHOLDS } from '../models/churn';
import type { Store } from '../store';
import { churnCutoffs, churnOracle } from '../evaluation/classifier-holdout';
import { classifierCharts, classifierFigures, featureMedians, rankingFigures, treeEnsembleArtefacts } from './classifier-report';
import type { TrainedModel, TrainOptions } from './types';

export const CHURN_PARAMS: GradientBoostingParams = {
  trees: 150,
  maxDepth: 3,
  learningRate: 0.05,
  minSamplesLeaf: 40,
  subsample: 0.8,
};

export async function trainChurn(store: Store, options: TrainOptions): Promise<TrainedModel> {
  const { seed, progress } = options;
  const { asOf, trainCutoff, testCutoff } = await churnCutoffs(store);
  const allIds = (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
  const d = CHURN_FEATURES.length;
  const names = CHURN_FEATURES.map((f) => f.name);

  progress('churn: features at the training cut-off', { cutoff: trainCutoff });
  const train = await churnFeatures(store, allIds, trainCutoff);
  const trainLabels = await churnLabels(store, train.memberIds, trainCutoff);
  progress('churn: features at the test cut-off', { cutoff: testCutoff });
  const test = await churnFeatures(store, allIds, testCutoff);
  const testLabels = await churnLabels(store, test.memberIds, testCutoff);

  progress('churn: gradient boosting', { rows: train.memberIds.length, features: d });
  const model = trainGradientBoosting(
    { features: train.values, labels: trainLabels, rowCount: train.memberIds.length, featureCount: d, featureNames: names },
    { ...CHURN_PARAMS, seed },
  );
  const testProbabilities = model.predictProba(test.values, test.memberIds.length);
  const daysSinceLastLoan = Float64Array.from(test.memberIds, (_, i) => test.values[i * d]!);
  const oracle = await churnOracle(store, test.memberIds, testCutoff);

  const heldOut = classifierFigures(testProbabilities, testLabels);
  const baselineName = 'days since the last loan';
  const importance = model.featureImportance();

  return {
    ...treeEnsembleArtefacts(model, names, test.values),
    charts: classifierCharts(testProbabilities, testLabels, { name: baselineName, scores: daysSinceLastLoan }),
    referenceRows: { names, values: train.values, rowCount: train.memberIds.length, score: model.predictProba(train.values, train.memberIds.length) },
    metadata: {
      name: 'churn',
      task: 'classification',
      predicts: `The probability that a member makes no checkout in the ${CHURN_WINDOW_DAYS} days after the system date.`,
      algorithm: 'gradient-boosted trees (ai.onnx.ml TreeEnsembleRegressor + Sigmoid)',
      trainingData: {
        window: { from: trainCutoff, to: asOf },
        rows: { train: train.memberIds.length, test: test.memberIds.length },
        asOf,
        seed,
        source: `simulated library (${allIds.length} members)`,
      },
      featureSpec: CHURN_FEATURES.map((f) => ({ name: f.name, type: 'numeric', description: f.description })),
      inputs: [{ name: TREE_ENSEMBLE_INPUT, elementType: 'float32', shape: ['batch', d], featureAxis: 1 }],
      outputs: [{ name: TREE_ENSEMBLE_OUTPUT, elementType: 'float32', shape: ['batch'] }],
      metrics: {
        heldOut: { ...heldOut },
        baseline: { name: baselineName, metrics: rankingFigures(daysSinceLastLoan, testLabels) },
        ...(oracle ? { oracle: { metrics: { ...classifierFigures(oracle, testLabels) } } } : {}),
      },
      headlineMetric: { name: 'auc', value: heldOut.auc, higherIsBetter: true },
      hyperparameters: { ...CHURN_PARAMS, seed },
      serving: {
        reference: featureMedians(train.values, train.memberIds.length, d),
        riskThresholds: CHURN_RISK_THRESHOLDS,
        featureImportance: Object.fromEntries(names.map((n, j) => [n, importance[j]!])),
      },
      notes:
        `Trained on features at ${trainCutoff} with outcomes over the next ${CHURN_WINDOW_DAYS} days; evaluated on features at ` +
        `${testCutoff} with outcomes up to ${asOf}. Members who had not joined by a cut-off are left out of it.`,
    },
  };
}
