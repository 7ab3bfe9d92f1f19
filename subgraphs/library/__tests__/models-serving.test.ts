/**
 * The `models` answer names the version serving answers with, chosen by the serving code's own
 * checks: production, or the newest earlier production version when production cannot be loaded.
 * The models CLI's rollback check (the same checks) refuses a version the churn serving code
 * cannot read.
 */
import { describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkServingCanLoad } from '../../../src/models/slots';
import { promoteVersion, rollback } from '../../../src/registry';
import { registerChurn, tempModelsDir } from '../../../src/registry/__tests__/fixtures';
import { registerServableChurn } from '../../../test/fixtures/servable-churn';
import { readProductionModels } from '../models';

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
    expect((error as Error).message).toMatch(/^cannot roll back churn 2\.0\.0 to 1\.0\.0: the serving code cannot load it \(churn 1\.0\.0: feature spec \[loans_last_90d, days_since_last_loan, renewal_rate\] needs features the serving code does not compute: loans_last_90d, renewal_rate\); --force does not override this$/);
  });
});
