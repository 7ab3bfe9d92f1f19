/**
 * Every trainer, on a small simulated library: the exported ONNX graph answers like the
 * trainer's own model (parity), the figures are computed on held-out rows next to the
 * baseline and the oracle, and retraining with the library's seed gives the registered model's bytes.
 *
 * The retraining runs `npm run train`'s script in child processes (test/fixtures/train-cli.ts),
 * started together in beforeAll: inside jest's vm the five trainers took about six minutes of the
 * suite's time, in node about a minute and a half of CPU, spread over the cores.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkParity, getProduction, type ParityFile } from '../../registry';
import type { ModelName } from '../../config';
import { TRAINERS } from '..';
import { smallLibrary, type SmallLibrary } from '../../../test/fixtures/small-library';
import { trainAllWithCli, type Retrained } from '../../../test/fixtures/train-cli';

let library: SmallLibrary;
let retrained: Map<ModelName, Promise<Retrained>>;
const stopTraining = new AbortController();

beforeAll(async () => {
  library = await smallLibrary();
  // The library's production versions were trained with the library's seed: train each once more.
  retrained = trainAllWithCli(library, Object.keys(TRAINERS) as ModelName[], library.seed, stopTraining.signal);
}, 300_000);
afterAll(() => stopTraining.abort());

describe.each(Object.keys(TRAINERS))('the %s trainer', (name) => {
  it('registered a production version whose ONNX output equals the trainer output on its parity rows', async () => {
    const production = getProduction(library.modelsDir, name);
    expect(production).not.toBeNull();
    const bytes = readFileSync(path.join(production!.dir, 'model.onnx'));
    const parity = JSON.parse(readFileSync(path.join(production!.dir, 'parity.json'), 'utf8')) as ParityFile;
    const outcome = await checkParity(new Uint8Array(bytes), parity);
    expect(outcome.problems).toEqual([]);
    expect(outcome.result.passed).toBe(true);
    expect(outcome.result.rows).toBeGreaterThan(10);
    expect(outcome.result.maxAbsError!).toBeLessThanOrEqual(parity.tolerance);
  });

  it('reports held-out metrics next to a named baseline', () => {
    const { metadata } = getProduction(library.modelsDir, name)!;
    expect(metadata.trainingData.rows.test).toBeGreaterThan(0);
    expect(metadata.metrics.baseline.name.length).toBeGreaterThan(3);
    expect(metadata.metrics.heldOut[metadata.headlineMetric.name]).toBe(metadata.headlineMetric.value);
  });

  it('gives the same model bytes when retrained with the same seed', async () => {
    // The library's production version was trained with the library's seed: once more gives the same bytes.
    const registered = readFileSync(path.join(getProduction(library.modelsDir, name)!.dir, 'model.onnx'));
    const again = await retrained.get(name as ModelName)!;
    expect(again.onnxBytes.equals(registered)).toBe(true);
    // A full training: a guard against a hang, not a speed check (BENCHMARKS.md has the times).
  }, 400_000);
});

describe('the classifiers on simulated data', () => {
  it.each(['churn', 'overdue'])('%s has an oracle and beats a coin toss on held-out rows', (name) => {
    const { metadata } = getProduction(library.modelsDir, name)!;
    expect(metadata.metrics.oracle?.metrics.auc).toBeGreaterThan(0.6);
    expect(metadata.metrics.heldOut.auc).toBeGreaterThan(0.6);
  });
});
