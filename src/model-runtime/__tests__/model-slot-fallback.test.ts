/**
 * A slot that cannot load the production version (a corrupted model.onnx, settings its parser
 * refuses) serves the newest earlier production version that loads, and says so in its status,
 * the model_serving_fallback gauge and the log; a loadable production version ends the fallback.
 */
import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { Tensor } from 'onnxruntime-node';
import { createProcessMetrics } from '../../metrics';
import { promoteVersion, readFallbackPointers, readProductionPointer, rollback } from '../../registry';
import { registerChurn, tempModelsDir } from '../../registry/__tests__/fixtures';
import { checkFeatureSpec, checkServable, ModelSlot, type SlotSpec } from '../model-slot';

const FEATURES = ['loans_last_90d', 'days_since_last_loan', 'renewal_rate'];
const SPEC: SlotSpec<{ features: number }> = {
  model: 'churn',
  serving: (metadata) => {
    checkFeatureSpec(metadata, FEATURES);
    return { features: FEATURES.length };
  },
};

/** Production 1.1.0 over an archived 1.0.0, both of SPEC's features. */
async function twoProductionVersions(): Promise<string> {
  const modelsDir = tempModelsDir();
  for (const version of ['1.0.0', '1.1.0']) {
    await registerChurn(modelsDir);
    await promoteVersion(modelsDir, 'churn', version, { who: 'ana' });
  }
  return modelsDir;
}

function openSlot(modelsDir: string) {
  const lines: { level: number; msg: string; version?: string }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const metrics = createProcessMetrics('churn');
  const slot = new ModelSlot({
    ...SPEC,
    locate: async () => readProductionPointer(modelsDir, 'churn') ?? undefined,
    fallbacks: async () => readFallbackPointers(modelsDir, 'churn'),
    logger,
    metrics,
    reloadIntervalMs: 3_600_000,
  });
  const fallbackSeries = async () => (await metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('model_serving_fallback{'));
  return { slot, lines, fallbackSeries };
}

const score = (slot: ModelSlot<{ features: number }>) =>
  slot.run(1, (m) => ({ features: new Tensor('float32', new Float32Array(m.serving.features), [1, m.serving.features]) }), (out) => out.probability?.data[0]);

describe('serving falls back to the last good version', () => {
  it('starts on the earlier production version when production model.onnx is corrupted, and says so', async () => {
    const modelsDir = await twoProductionVersions();
    writeFileSync(path.join(modelsDir, 'production', 'churn', '1.1.0', 'model.onnx'), 'not a model');
    const { slot, lines, fallbackSeries } = openSlot(modelsDir);
    await slot.start();
    try {
      expect(slot.isReady()).toBe(true);
      expect(slot.status()).toEqual({ model: 'churn', production: '1.1.0', serving: '1.0.0', fallback: true, reason: expect.stringMatching(/^1\.1\.0: model\.onnx: sha256 .* does not match metadata/) });
      expect((await score(slot)).model.version).toBe('1.0.0');
      expect(await fallbackSeries()).toEqual(['model_serving_fallback{model="churn",version="1.0.0",production="1.1.0",service="churn"} 1']);
      expect(lines).toContainEqual(expect.objectContaining({ level: 50, msg: 'cannot load the production model version; serving an earlier version', version: '1.1.0' }));

      // A loadable production version ends the fallback.
      await registerChurn(modelsDir);
      await promoteVersion(modelsDir, 'churn', '1.2.0', { who: 'ana' });
      await slot.refresh();
      expect(slot.status()).toEqual({ model: 'churn', production: '1.2.0', serving: '1.2.0', fallback: false });
      expect(await fallbackSeries()).toEqual([]);
    } finally {
      await slot.stop();
    }
  });

  it('keeps serving the version it holds when a newly promoted one has settings its parser refuses, and says so', async () => {
    const modelsDir = await twoProductionVersions();
    const { slot, fallbackSeries } = openSlot(modelsDir);
    await slot.start();
    try {
      expect(slot.status()).toMatchObject({ serving: '1.1.0', fallback: false });
      await registerChurn(modelsDir, { weights: [0.2, 0.4], featureNames: ['a', 'b'] });
      await promoteVersion(modelsDir, 'churn', '2.0.0', { who: 'ana', force: { reason: 'new features' } });
      await slot.refresh();
      expect(slot.status()).toMatchObject({ production: '2.0.0', serving: '1.1.0', fallback: true, reason: expect.stringMatching(/feature spec \[a, b\] differs/) });
      expect(await fallbackSeries()).toEqual(['model_serving_fallback{model="churn",version="1.1.0",production="2.0.0",service="churn"} 1']);
    } finally {
      await slot.stop();
    }
  });

  it('keeps serving its verified copy when the served files are corrupted on disk, and says a restart would fall back', async () => {
    const modelsDir = await twoProductionVersions();
    const { slot, lines } = openSlot(modelsDir);
    await slot.start();
    try {
      await slot.refresh();
      expect(slot.status().filesOnDisk).toBeUndefined();
      writeFileSync(path.join(modelsDir, 'production', 'churn', '1.1.0', 'model.onnx'), 'corrupted on disk');
      await slot.refresh();
      expect(slot.status()).toMatchObject({ production: '1.1.0', serving: '1.1.0', fallback: false, filesOnDisk: expect.stringMatching(/^on disk: model\.onnx: sha256 .* does not match metadata/) });
      expect((await score(slot)).model.version).toBe('1.1.0');
      expect(lines.map((l) => l.msg)).toContain('the files of the served model version changed on disk and no longer verify; serving the verified copy in memory, a restart would fall back');
    } finally {
      await slot.stop();
    }
  });

  it('serves nothing, and is not ready, when no version loads', async () => {
    const modelsDir = await twoProductionVersions();
    writeFileSync(path.join(modelsDir, 'production', 'churn', '1.1.0', 'model.onnx'), 'not a model');
    writeFileSync(path.join(modelsDir, 'archived', 'churn', '1.0.0', 'model.onnx'), 'not a model either');
    const { slot, lines } = openSlot(modelsDir);
    await slot.start();
    expect(slot.isReady()).toBe(false);
    expect(slot.status()).toEqual({ model: 'churn', production: '1.1.0', serving: null, fallback: false });
    expect(lines.map((l) => l.msg)).toContain('cannot load the production model version nor any earlier one; serving nothing');
    await slot.stop();
  });
});

describe('the registry refuses a rollback serving cannot load', () => {
  it('refuses, even forced, to restore a version whose feature spec the serving code does not send', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir, { weights: [0.2, 0.4], featureNames: ['a', 'b'] });
    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    await registerChurn(modelsDir);
    await promoteVersion(modelsDir, 'churn', '2.0.0', { who: 'ana', force: { reason: 'new features' } });
    const canServe = (version: string, dir: string) => checkServable(SPEC, { version, dir });
    const forced = rollback(modelsDir, 'churn', { who: 'ben', force: { reason: 'try it' }, canServe });
    await expect(forced).rejects.toMatchObject({
      reason: 'invalid-state',
      message: expect.stringMatching(/^cannot roll back churn 2\.0\.0 to 1\.0\.0: the serving code cannot load it \(.*feature spec \[a, b\] differs.*\); --force does not override this$/),
    });
    expect(readProductionPointer(modelsDir, 'churn')?.version).toBe('2.0.0');
  });

  it('restores a version serving can load', async () => {
    const modelsDir = await twoProductionVersions();
    const canServe = (version: string, dir: string) => checkServable(SPEC, { version, dir });
    expect((await rollback(modelsDir, 'churn', { who: 'ben', canServe })).restored).toBe('1.0.0');
  });
});
