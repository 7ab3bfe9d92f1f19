/**
 * Served thresholds chosen by rule and the figures stored with them: on a small library with
 * freshly trained overdue and churn versions, `npm run evaluate`'s core reproduces exactly the
 * held-out figures the trainer stored in the version's metadata (AUC, log loss, Brier score,
 * the confusion matrix at each served level, churn's slices), and the graph's `models` answer
 * carries the same threshold figures.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { readMetadata, type ModelMetadata } from '../../registry';
import { productionVersion, readRegistry } from '../../registry/registry-file';
import { openStore, type Store } from '../../store';
import { CHURN_FEATURE_NAMES } from '../../features/churn';
import { CHURN_THRESHOLD_RULES, parseChurnServing } from '../../models/churn';
import { OVERDUE_THRESHOLD_RULES } from '../../models/overdue';
import { smallLibrary, type SmallLibrary } from '../../../test/fixtures/small-library';
import { readProductionModels } from '../../../subgraphs/library/models';
import { evaluateClassifierVersions, type ClassifierVersion } from '../classifier-evaluation';
import { CLASSIFIER_HOLDOUTS } from '../classifier-holdout';
import { describeThresholdRule } from '../thresholds';

jest.setTimeout(300_000);

let library: SmallLibrary;
let store: Store;

beforeAll(async () => {
  library = await smallLibrary();
  store = openStore(library.databaseUrl, { readonly: true });
});

afterAll(async () => {
  await store?.close();
});

function production(model: string): { version: ClassifierVersion; metadata: ModelMetadata } {
  const entry = productionVersion(readRegistry(library.modelsDir), model);
  if (!entry) throw new Error(`no production ${model}`);
  const dir = path.join(library.modelsDir, entry.dir);
  const metadata = readMetadata(dir);
  return { version: { version: entry.version, dir, metadata: metadata }, metadata };
}

const RULES = { overdue: OVERDUE_THRESHOLD_RULES, churn: CHURN_THRESHOLD_RULES };

describe.each(['overdue', 'churn'] as const)('%s', (model) => {
  it('stores thresholds chosen by its stated rules, MEDIUM at or below HIGH', () => {
    const { metadata } = production(model);
    const serving = metadata.serving as { riskThresholds: { medium: number; high: number }; thresholdRules: { medium: string; high: string } };
    expect(serving.thresholdRules.high).toBe(describeThresholdRule(RULES[model].high));
    expect(serving.thresholdRules.medium.startsWith(describeThresholdRule(RULES[model].medium))).toBe(true);
    expect(serving.riskThresholds.medium).toBeLessThanOrEqual(serving.riskThresholds.high);
    expect(metadata.metrics.thresholds?.map((t) => [t.level, t.value])).toEqual([
      ['MEDIUM', serving.riskThresholds.medium],
      ['HIGH', serving.riskThresholds.high],
    ]);
  });

  it('is re-scored by evaluate to exactly the figures training stored', async () => {
    const { version, metadata } = production(model);
    const holdout = await CLASSIFIER_HOLDOUTS[model]!(store);
    const { reports } = await evaluateClassifierVersions(holdout, [version], { seed: 1, resamples: 100 });
    const report = reports[0]!;
    expect(report.rows).toBe(metadata.trainingData.rows.test);
    for (const name of ['auc', 'logLoss', 'brier']) expect(report.metrics[name]!.value).toBe(metadata.metrics.heldOut[name]);
    const stored = metadata.metrics.thresholds!;
    expect(report.thresholds.map((t) => ({ level: t.level, value: t.value, confusion: t.confusion, recall: t.recall.value, share: t.share.value }))).toEqual(
      stored.map((t) => ({ level: t.level, value: t.value, confusion: t.confusion, recall: t.recall, share: t.share })),
    );
    report.thresholds.forEach((t, i) => {
      expect(t.precision.value).toBe(stored[i]!.precision ?? NaN);
      expect(t.lift.value).toBe(stored[i]!.lift ?? NaN);
      // The dummy that flags as many rows at random finds positives at the base rate.
      expect(t.randomAtSameShare.precision).toBe(stored[i]!.baseRate);
    });
    if (model === 'churn') {
      expect(report.slices?.map((s) => [s.name, s.rows, s.auc.value])).toEqual(metadata.metrics.slices?.map((s) => [s.name, s.rows, s.auc ?? NaN]));
    }
  });

  it("is shown in the graph's models answer with its confusion matrix", async () => {
    const { metadata } = production(model);
    const info = (await readProductionModels(library.modelsDir)).find((m) => m.name === model)!;
    const stored = metadata.metrics.thresholds!;
    expect(info.thresholds.map((t) => [t.level, t.value, t.precision, t.recall, t.truePositives, t.falsePositives, t.falseNegatives, t.trueNegatives])).toEqual(
      stored.map((t) => [t.level, t.value, t.precision, t.recall, t.confusion.truePositives, t.confusion.falsePositives, t.confusion.falseNegatives, t.confusion.trueNegatives]),
    );
  });
});

describe('churn scored over active members', () => {
  it('holds out only members active at the cut-off, and reports lapsed ones by a rule the serving parser reads', async () => {
    const { metadata } = production('churn');
    const holdout = await CLASSIFIER_HOLDOUTS.churn!(store);
    const d = holdout.featureCount;
    const loans90 = CHURN_FEATURE_NAMES.indexOf('loans_90d');
    expect(Array.from({ length: holdout.rows }, (_, i) => holdout.features[i * d + loans90]!).every((n) => n > 0)).toBe(true);
    const lapsed = parseChurnServing(metadata).lapsed;
    expect(lapsed?.probability).toBeGreaterThan(0.5);
    expect(lapsed?.probability).toBeLessThanOrEqual(1);
    expect(metadata.metrics.slices?.map((s) => s.name.split(' ')[0])).toEqual(['all', 'new', 'declining', 'steady']);
  });
});
