/**
 * The `models` answer names the version serving answers with, chosen by the serving code's own
 * checks: production, or the newest earlier production version when production cannot be loaded.
 * The models CLI's rollback check (the same checks) refuses a version the churn serving code
 * cannot read.
 */
import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CHURN_FEATURE_NAMES } from '../../../src/features/churn';
import { checkServingCanLoad } from '../../../src/models/slots';
import { promoteVersion, registerVersion, rollback } from '../../../src/registry';
import { churnDraft, logisticModel, parityFor, registerChurn, tempModelsDir } from '../../../src/registry/__tests__/fixtures';
import { readProductionModels } from '../models';

/** A churn version the churn serving code can load: its feature names and serving settings. */
async function registerServableChurn(modelsDir: string): Promise<string> {
  const d = CHURN_FEATURE_NAMES.length;
  const scorer = { weights: Array.from({ length: d }, (_, i) => (i % 2 ? 0.1 : -0.1)), bias: 0.1 };
  const metadata = { ...churnDraft(0.8, [...CHURN_FEATURE_NAMES]), serving: { reference: new Array<number>(d).fill(0), riskThresholds: { medium: 0.3, high: 0.6 } } };
  const rows = [new Array<number>(d).fill(1), new Array<number>(d).fill(0.5)];
  const registered = await registerVersion(modelsDir, { metadata, onnxBytes: logisticModel(scorer), parity: parityFor(scorer, rows), stage: 'staging', who: 'trainer' });
  return registered.metadata.version;
}

describe('the models answer and serving', () => {
  it('names production as served while it loads, and the earlier version once its model.onnx is corrupted', async () => {
    const modelsDir = tempModelsDir();
    await promoteVersion(modelsDir, 'churn', await registerServableChurn(modelsDir), { who: 'ana' });
    const second = await registerServableChurn(modelsDir);
    await promoteVersion(modelsDir, 'churn', second, { who: 'ana' });
    expect(await readProductionModels(modelsDir)).toEqual([expect.objectContaining({ name: 'churn', version: '1.1.0', servingVersion: '1.1.0', fallback: false })]);

    writeFileSync(path.join(modelsDir, 'production', 'churn', '1.1.0', 'model.onnx'), 'corrupted');
    expect(await readProductionModels(modelsDir)).toEqual([expect.objectContaining({ name: 'churn', version: '1.1.0', servingVersion: '1.0.0', fallback: true })]);
  });

  it('names no served version when nothing loads', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir);
    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    expect(await readProductionModels(modelsDir)).toEqual([expect.objectContaining({ version: '1.0.0', servingVersion: null, fallback: false })]);
  });

  it('refuses, even forced, a rollback to a version the churn serving code cannot read', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir);
    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    await promoteVersion(modelsDir, 'churn', await registerServableChurn(modelsDir), { who: 'ana', force: { reason: 'new features' } });
    const error = await rollback(modelsDir, 'churn', {
      who: 'ben',
      force: { reason: 'try it' },
      canServe: (version, dir) => checkServingCanLoad('churn', version, dir),
    }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^cannot roll back churn 2\.0\.0 to 1\.0\.0: the serving code cannot load it \(churn 1\.0\.0: feature spec .* differs from the serving features .*\); --force does not override this$/);
  });
});
