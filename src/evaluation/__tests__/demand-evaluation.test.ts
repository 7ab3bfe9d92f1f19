/**
 * `npm run evaluate -- --model demand` and the demand promotion gate, on a small library whose
 * demand model was trained by the trainer: the evaluation reproduces the trainer's held-out
 * figures, marks the best of every baseline, and the gate refuses a worse version on the same
 * books and accepts a clearly better one.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findProjectRoot } from '../../config';
import { promoteVersion, readMetadata, registerVersion, validateVersion, type ModelMetadata, type ModelMetadataDraft, type ParityFile } from '../../registry';
import { productionVersion, readRegistry } from '../../registry/registry-file';
import { openStore, type Store } from '../../store';
import { smallLibrary, type SmallLibrary } from '../../../test/fixtures/small-library';
import { DEMAND_METHODS } from '../demand-baselines';
import { demandHoldout, evaluateDemandVersions, type DemandHoldout, type DemandVersion } from '../demand-evaluation';
import { rescoreOnEvidence } from '../promotion-gate';
import { demandServing } from '../../models/demand';

jest.setTimeout(600_000);

function productionOf(modelsDir: string): DemandVersion & { metadata: ModelMetadata } {
  const entry = productionVersion(readRegistry(modelsDir), 'demand');
  if (!entry) throw new Error(`no production demand in ${modelsDir}`);
  const dir = path.join(modelsDir, entry.dir);
  return { version: entry.version, dir, metadata: readMetadata(dir) };
}

let library: SmallLibrary;
let store: Store;
let holdout: DemandHoldout;

beforeAll(async () => {
  library = await smallLibrary({ models: ['demand'] });
  store = openStore(library.databaseUrl, { readonly: true });
  holdout = await demandHoldout(store);
});

afterAll(async () => {
  await store?.close();
});

describe('evaluating a demand version on the periods its trainer held out', () => {
  it("reproduces the trainer's held-out figures, for the version and for seasonal naive", async () => {
    const version = productionOf(library.modelsDir);
    const [report] = await evaluateDemandVersions(holdout, [version], { seed: 1, resamples: 100 });
    const { heldOut, baseline } = version.metadata.metrics;
    for (const name of ['rmse', 'mae', 'summedAbsoluteError', 'bias', 'collectionRmse', 'collectionMae', 'collectionBias']) {
      // Equal to 12 significant digits: the trainer and the evaluation add the same errors in another order.
      const expected = heldOut[name]!;
      expect({ name, equal: Math.abs(report!.metrics[name]!.value - expected) <= 1e-12 * Math.max(1, Math.abs(expected)) }).toEqual({ name, equal: true });
    }
    expect(report!.baselines.seasonalNaive!.rmse!.value).toBeCloseTo(baseline.metrics.rmse!, 10);
    expect(report!.baselines.seasonalNaive!.collectionRmse!.value).toBeCloseTo(baseline.metrics.collectionRmse!, 10);
    expect(report!.rows).toBe(version.metadata.trainingData.rows.test / 13);
  });

  it('scores every baseline on the same books and marks the best by RMSE', async () => {
    const version = productionOf(library.modelsDir);
    const [report] = await evaluateDemandVersions(holdout, [version], { seed: 4, resamples: 100 });
    if (!report) throw new Error('no report');
    expect(Object.keys(report.baselines)).toEqual([...DEMAND_METHODS]);
    const rmse = Object.entries(report.baselines).map(([m, f]) => [m, f.rmse!.value] as const);
    expect(report.bestBaseline).toBe(rmse.reduce((a, b) => (b[1] < a[1] ? b : a))[0]);
    for (const figures of [report.metrics, ...Object.values(report.baselines)]) {
      for (const name of ['rmse', 'mase', 'rmsse', 'bias', 'collectionRmsse']) {
        const i = figures[name]!;
        expect(Number.isFinite(i.value)).toBe(true);
        expect(i.low).toBeLessThanOrEqual(i.value + 1e-12);
        expect(i.high).toBeGreaterThanOrEqual(i.value - 1e-12);
      }
    }
    expect(report.comparisons[0]!.against).toContain(report.bestBaseline);
  });
});

describe('the demand promotion gate re-scores champion and candidate on the same books', () => {
  let modelsDir: string;
  let trained: { metadata: ModelMetadata; model: Buffer; parity: ParityFile; collection: Buffer };

  /**
   * Registers a copy of the trained version; with `bookLoansPerUnit`, books are served by the
   * book graph (whatever method the trainer chose for them) with that unit.
   */
  async function register(bookLoansPerUnit?: number, collectionLoansPerUnit?: number): Promise<string> {
    const { version: _v, stage: _s, sha256: _h, files: _f, parity: _p, created: _c, ...draft } = trained.metadata;
    const serving = demandServing(structuredClone(draft.serving));
    if (bookLoansPerUnit !== undefined) {
      serving.book.loansPerUnit = bookLoansPerUnit;
      serving.methods = { book: { method: 'lstm' }, collection: serving.methods?.collection ?? { method: 'lstm' } };
    }
    if (collectionLoansPerUnit !== undefined) {
      serving.collection.loansPerUnit = collectionLoansPerUnit;
      serving.methods = { book: serving.methods?.book ?? { method: 'lstm' }, collection: { method: 'lstm' } };
    }
    const registered = await registerVersion(modelsDir, {
      metadata: { ...draft, serving: { ...serving } },
      onnxBytes: trained.model,
      parity: trained.parity,
      extraFiles: { 'collection.onnx': trained.collection },
      stage: 'staging',
      who: 'test',
    });
    return registered.metadata.version;
  }

  beforeAll(() => {
    modelsDir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-demand-gate-'));
    cpSync(library.modelsDir, modelsDir, { recursive: true });
    const production = productionOf(modelsDir);
    trained = {
      metadata: production.metadata,
      model: readFileSync(path.join(production.dir, 'model.onnx')),
      parity: JSON.parse(readFileSync(path.join(production.dir, 'parity.json'), 'utf8')) as ParityFile,
      collection: readFileSync(path.join(production.dir, 'collection.onnx')),
    };
  });

  afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));

  it('refuses a version that is worse on the same books, and accepts one clearly better', async () => {
    // One unit of the series read as 50 loans instead of 5: the graph's inputs shrink tenfold
    // and every forecast it answers is multiplied by 50.
    const sabotaged = await register(50);
    const refused = await validateVersion(modelsDir, 'demand', sabotaged, { rescore: rescoreOnEvidence(store, 'demand') });
    const regression = refused.checks.find((c) => c.name === 'regression');
    expect(regression).toMatchObject({ passed: false });
    expect(regression?.detail).toMatch(new RegExp(`same ${holdout.book.history.length} books.*worse on the same rows.*best baseline`));

    // With the sabotaged version in production, the trainer's version is clearly better.
    await promoteVersion(modelsDir, 'demand', sabotaged, { who: 'test', force: { reason: 'test: a worse champion' } });
    const genuine = await register();
    const accepted = await validateVersion(modelsDir, 'demand', genuine, { rescore: rescoreOnEvidence(store, 'demand') });
    const check = accepted.checks.find((c) => c.name === 'regression');
    expect(check).toMatchObject({ passed: true });
    expect(check?.detail).toMatch(/better on the same rows/);
  });

  it('refuses a version whose books are as good but whose collection forecasts are worse', async () => {
    // Books served exactly as the trainer's version serves them; collections by the collection
    // graph with its unit read ten times too large, so every collection forecast is inflated.
    const unit = demandServing(structuredClone(trained.metadata.serving)).collection.loansPerUnit;
    const genuine = await register();
    await promoteVersion(modelsDir, 'demand', genuine, { who: 'test', force: { reason: 'test: the trainer\'s version as champion' } });
    const collectionsWorse = await register(undefined, unit * 10);
    const refused = await validateVersion(modelsDir, 'demand', collectionsWorse, { rescore: rescoreOnEvidence(store, 'demand') });
    const regression = refused.checks.find((c) => c.name === 'regression');
    expect(regression).toMatchObject({ passed: false });
    expect(regression?.detail).toMatch(/book-week RMSE .*not distinguishable from production/);
    expect(regression?.detail).toMatch(new RegExp(`collection-month RMSE .*same ${holdout.collection.history.length} collections.*(worse on the same rows|beyond the)`));
  });
});

it('scores the committed demand version on a library generated with another seed', async () => {
  const other = await smallLibrary({ seed: 11, members: 600, models: [] });
  const otherStore = openStore(other.databaseUrl, { readonly: true });
  try {
    const committed = productionOf(path.join(findProjectRoot(), 'models'));
    const otherHoldout = await demandHoldout(otherStore);
    const [report] = await evaluateDemandVersions(otherHoldout, [committed], { seed: 1, resamples: 100 });
    expect(report!.version).toBe(committed.version);
    expect(report!.rows).toBe(otherHoldout.book.history.length);
    expect(Number.isFinite(report!.metrics.rmse!.value)).toBe(true);
    expect(report!.metrics.rmse!.value).not.toBeCloseTo(committed.metadata.metrics.heldOut.rmse!, 6);
  } finally {
    await otherStore.close();
  }
});
