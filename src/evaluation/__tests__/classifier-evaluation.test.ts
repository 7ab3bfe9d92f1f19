/**
 * `npm run evaluate`'s core and the promotion gate on evidence, on a small library generated
 * with another seed than the default one, scoring the committed versions under models/.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runModelsCommand, EXIT_FAILED } from '../../cli/models';
import { findProjectRoot } from '../../config';
import { CHURN_FEATURE_NAMES } from '../../features/churn';
import { trainRandomForest } from '../../ml/trees';
import { readMetadata, registerVersion, validateVersion } from '../../registry';
import { readRegistry, productionVersion } from '../../registry/registry-file';
import type { ModelMetadataDraft } from '../../registry';
import { openStore, type Store } from '../../store';
import { treeEnsembleArtefacts } from '../../training/classifier-report';
import { smallLibrary, type SmallLibrary } from '../../../test/fixtures/small-library';
import { evaluateClassifierVersions, scoreOnnx, scoreVersion, type ClassifierVersion } from '../classifier-evaluation';
import { CLASSIFIER_HOLDOUTS, overdueHoldout, type ClassifierHoldout } from '../classifier-holdout';
import { classifierRescore } from '../promotion-gate';

jest.setTimeout(300_000);

const committedModels = path.join(findProjectRoot(), 'models');

function productionOf(modelsDir: string, model: string): ClassifierVersion {
  const entry = productionVersion(readRegistry(modelsDir), model);
  if (!entry) throw new Error(`no production ${model} in ${modelsDir}`);
  const dir = path.join(modelsDir, entry.dir);
  return { version: entry.version, dir, metadata: readMetadata(dir) };
}

let library: SmallLibrary;
let store: Store;

beforeAll(async () => {
  library = await smallLibrary({ seed: 11, members: 600, models: [] });
  store = openStore(library.databaseUrl, { readonly: true });
});

afterAll(async () => {
  await store?.close();
});

describe.each(['overdue', 'churn'])('evaluating the committed %s version on a library of another seed', (model) => {
  let holdout: ClassifierHoldout;
  beforeAll(async () => {
    holdout = await CLASSIFIER_HOLDOUTS[model]!(store);
  });

  it("prints ARCHITECTURE's JSON shape, with intervals around every value and the served thresholds", async () => {
    const version = productionOf(committedModels, model);
    const { reports } = await evaluateClassifierVersions(holdout, [version], { seed: 3, resamples: 200 });
    expect(reports).toHaveLength(1);
    const report = reports[0]!;
    expect(Object.keys(report).slice(0, 7)).toEqual(['model', 'version', 'rows', 'metrics', 'baselines', 'oracle', 'thresholds']);
    expect(report).toMatchObject({ model, version: version.version, rows: holdout.rows });
    expect(Object.keys(report.metrics)).toEqual(['auc', 'logLoss', 'brier']);
    const intervals = [report.metrics, ...Object.values(report.baselines), report.oracle ?? {}].flatMap((figures) => Object.values(figures));
    for (const interval of intervals) {
      expect(Object.keys(interval)).toEqual(['value', 'low', 'high']);
      expect(interval.low).toBeLessThanOrEqual(interval.value + 1e-12);
      expect(interval.high).toBeGreaterThanOrEqual(interval.value - 1e-12);
    }
    expect(report.baselines['prior (training base rate)']?.auc?.value).toBe(0.5);
    // The simulator's truth is in the library: the oracle is there, and no model ranks better.
    expect(report.oracle?.auc?.value).toBeGreaterThan(report.metrics.auc!.value - 0.02);
    const thresholds = (version.metadata.serving as { riskThresholds: { medium: number; high: number } }).riskThresholds;
    expect(report.thresholds.map((t) => [t.level, t.value])).toEqual([
      ['MEDIUM', thresholds.medium],
      ['HIGH', thresholds.high],
    ]);
    // A higher threshold flags fewer rows.
    expect(report.thresholds[1]!.share.value).toBeLessThanOrEqual(report.thresholds[0]!.share.value);
  });

  it('gives the same output for the same seed, and other intervals for another', async () => {
    const version = productionOf(committedModels, model);
    const once = await evaluateClassifierVersions(holdout, [version], { seed: 5, resamples: 100 });
    const again = await evaluateClassifierVersions(holdout, [version], { seed: 5, resamples: 100 });
    const other = await evaluateClassifierVersions(holdout, [version], { seed: 6, resamples: 100 });
    expect(JSON.stringify(again.reports)).toBe(JSON.stringify(once.reports));
    expect(other.reports[0]!.metrics.auc!.value).toBe(once.reports[0]!.metrics.auc!.value);
    expect(other.reports[0]!.metrics.auc!.low).not.toBe(once.reports[0]!.metrics.auc!.low);
  });
});

it('scores churn among members still active at the cut-off, by slice, where the oracle is the ceiling', async () => {
  const holdout = await CLASSIFIER_HOLDOUTS.churn!(store);
  const d = holdout.featureCount;
  const loans90d = CHURN_FEATURE_NAMES.indexOf('loans_90d');
  expect(holdout.rows).toBeGreaterThan(0);
  expect(Array.from({ length: holdout.rows }, (_, i) => holdout.features[i * d + loans90d]!).every((n) => n > 0)).toBe(true);
  const slices = holdout.slices!;
  expect(slices.map((s) => s.rows.length).reduce((a, b) => a + b, 0)).toBe(holdout.rows);
  const { reports } = await evaluateClassifierVersions(holdout, [productionOf(committedModels, 'churn')], { seed: 1, resamples: 100 });
  const [all, ...parts] = reports[0]!.slices!;
  expect(all!.name).toBe('all');
  expect(all!.auc.value).toBe(reports[0]!.metrics.auc!.value);
  expect(parts.map((p) => p.rows)).toEqual(slices.map((s) => s.rows.length));
  expect(all!.auc.low).toBeLessThanOrEqual(all!.auc.value);
  expect(all!.auc.value).toBeLessThanOrEqual(all!.auc.high);
  expect(all!.ofOracle!.value).toBeCloseTo(all!.auc.value / all!.oracleAuc!.value, 12);
  expect(all!.oracleAuc!.value).toBeGreaterThan(all!.auc.value - 0.05);
});

it('scores a churn version that takes fewer of the served features on its own columns, as serving gives them', async () => {
  const holdout = await CLASSIFIER_HOLDOUTS.churn!(store);
  // 1.1.0 takes the first 11 churn features; the holdout carries all of them.
  const dir = path.join(committedModels, 'archived', 'churn', '1.1.0');
  const older: ClassifierVersion = { version: '1.1.0', dir, metadata: readMetadata(dir) };
  const names = older.metadata.featureSpec!.map((f) => f.name);
  expect(names.length).toBeLessThan(holdout.featureCount);
  const own = Float32Array.from({ length: holdout.rows * names.length }, (_, k) => {
    const i = Math.floor(k / names.length);
    return holdout.features[i * holdout.featureCount + CHURN_FEATURE_NAMES.indexOf(names[k % names.length]!)]!;
  });
  const direct = await scoreOnnx(path.join(dir, 'model.onnx'), { input: older.metadata.inputs[0]!.name, output: older.metadata.outputs[0]!.name }, own, holdout.rows, names.length);
  expect(Array.from(await scoreVersion(older, holdout))).toEqual(Array.from(direct));
});

describe('the promotion gate re-scores champion and candidate on one holdout', () => {
  let modelsDir: string;
  let holdout: ClassifierHoldout;

  /** Registers a staging overdue version: a small forest fitted on the holdout rows with `labels`. */
  async function register(labels: Uint8Array, maxDepth: number): Promise<string> {
    const production = readMetadata(path.join(modelsDir, productionVersion(readRegistry(modelsDir), 'overdue')!.dir));
    const names = production.featureSpec.map((f) => f.name);
    const forest = trainRandomForest(
      { features: holdout.features, labels, rowCount: holdout.rows, featureCount: holdout.featureCount, featureNames: names },
      { trees: 20, maxDepth, minSamplesLeaf: 5, seed: 1 },
    );
    const { onnxBytes, parity } = treeEnsembleArtefacts(forest, names, holdout.features);
    const { version: _v, stage: _s, sha256: _h, files: _f, parity: _p, created: _c, ...draft } = production;
    const registered = await registerVersion(modelsDir, { metadata: draft, onnxBytes, parity, stage: 'staging', who: 'test' });
    return registered.metadata.version;
  }

  beforeAll(async () => {
    modelsDir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-gate-'));
    cpSync(committedModels, modelsDir, { recursive: true });
    holdout = await overdueHoldout(store);
  });

  afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));

  it('refuses a version that is worse on the same rows, which the stored headlines let through', async () => {
    // Fitted to the opposite of the outcome: it ranks late loans below on-time ones.
    const champion = productionVersion(readRegistry(modelsDir), 'overdue')?.version;
    const worse = await register(holdout.labels.map((y) => 1 - y), 4);
    const byHeadline = await validateVersion(modelsDir, 'overdue', worse);
    expect(byHeadline.checks.find((c) => c.name === 'regression')?.passed).toBe(true);

    const onEvidence = await validateVersion(modelsDir, 'overdue', worse, { rescore: classifierRescore(store, 'overdue') });
    const regression = onEvidence.checks.find((c) => c.name === 'regression');
    expect(regression).toMatchObject({ passed: false });
    expect(regression?.detail).toMatch(new RegExp(`same ${holdout.rows} rows.*worse on the same rows`));

    const err: string[] = [];
    const code = await runModelsCommand(['promote', 'overdue', worse, '--db', library.dbPath], { modelsDir, out: () => {}, err: (line) => err.push(line) });
    expect(code).toBe(EXIT_FAILED);
    expect(err.join('\n')).toMatch(/regression/);
    expect(productionVersion(readRegistry(modelsDir), 'overdue')?.version).toBe(champion);
  });

  it('accepts a version whose interval is clearly better on those rows', async () => {
    // Fitted on the very rows it is judged on: clearly better there, which is what this checks.
    const better = await register(holdout.labels, 12);
    const report = await validateVersion(modelsDir, 'overdue', better, { rescore: classifierRescore(store, 'overdue') });
    const regression = report.checks.find((c) => c.name === 'regression');
    expect(regression).toMatchObject({ passed: true });
    expect(regression?.detail).toMatch(/better on the same rows/);
  });
});
