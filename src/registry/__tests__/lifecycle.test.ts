import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  archiveVersion,
  getProduction,
  listModels,
  promoteVersion,
  readProductionPointer,
  registerVersion,
  RegistryError,
  rollback,
  validateVersion,
} from '..';
import type { ModelMetadata } from '..';
import { churnDraft, logisticModel, parityFor, readRegistryJson, registerChurn, snapshotFiles, tempModelsDir } from './fixtures';

async function refusal(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistryError) return error;
    throw error;
  }
  throw new Error('expected the registry to refuse');
}

function productionDirs(modelsDir: string, name: string): string[] {
  const folder = path.join(modelsDir, 'production', name);
  return existsSync(folder) ? readdirSync(folder).filter((d) => !d.startsWith('.')) : [];
}

function productionEntries(modelsDir: string, name: string): string[] {
  return Object.entries(readRegistryJson(modelsDir).models[name]!.versions)
    .filter(([, v]) => v.stage === 'production')
    .map(([version]) => version);
}

/** registry.json without stage histories: what promote-then-rollback must leave as it was. */
function registryWithoutHistory(modelsDir: string): unknown {
  const registry = readRegistryJson(modelsDir);
  for (const model of Object.values(registry.models)) for (const version of Object.values(model.versions)) version.history = [];
  return registry;
}

describe('registerVersion', () => {
  it('writes the version directory, its metadata and a registry entry with history', async () => {
    const modelsDir = tempModelsDir();
    const { metadata, dir } = await registerChurn(modelsDir);

    expect(dir).toBe(path.join(modelsDir, 'staging', 'churn', '1.0.0'));
    expect(readdirSync(dir).sort()).toEqual(['metadata.json', 'model.onnx', 'parity.json']);
    const written = JSON.parse(readFileSync(path.join(dir, 'metadata.json'), 'utf8')) as ModelMetadata;
    expect(written).toEqual(metadata);
    expect(written).toMatchObject({ name: 'churn', version: '1.0.0', stage: 'staging', parity: { passed: true, rows: 4, tolerance: 1e-5 } });
    expect(written.files.map((f) => f.path)).toEqual(['parity.json']);
    expect(written.parity.maxAbsError).toBeLessThan(1e-6);

    const [entry] = listModels(modelsDir);
    expect(entry).toMatchObject({ name: 'churn', version: '1.0.0', stage: 'staging', dir: 'staging/churn/1.0.0', sha256: metadata.sha256, baselineValue: 0.7 });
    expect(entry!.history).toEqual([expect.objectContaining({ action: 'register', from: null, to: 'staging', who: 'trainer' })]);
  });

  it('bumps the minor version for a retrain and the major version when the feature spec changes', async () => {
    const modelsDir = tempModelsDir();
    const versions: string[] = [];
    versions.push((await registerChurn(modelsDir)).metadata.version);
    versions.push((await registerChurn(modelsDir, { weights: [0.4, -0.2, 0.9], stage: 'experiments' })).metadata.version);
    versions.push((await registerChurn(modelsDir, { weights: [0.4, -0.2] })).metadata.version);
    versions.push((await registerChurn(modelsDir, { weights: [0.3, -0.1] })).metadata.version);
    versions.push((await registerChurn(modelsDir, { weights: [0.3, -0.1, 1], featureNames: ['a', 'b', 'c'] })).metadata.version);
    expect(versions).toEqual(['1.0.0', '1.1.0', '2.0.0', '2.1.0', '3.0.0']);
  });

  it('refuses bytes that are not an ONNX model and inconsistent metadata', async () => {
    const modelsDir = tempModelsDir();
    const scorer = { weights: [1, 2, 3], bias: 0 };
    const notOnnx = await refusal(registerVersion(modelsDir, { metadata: churnDraft(0.8), onnxBytes: Buffer.from('not a model'), parity: parityFor(scorer), stage: 'staging' }));
    expect(notOnnx.message).toMatch(/^cannot register churn: onnxruntime-node cannot load the model/);

    const draft = { ...churnDraft(0.8), headlineMetric: { name: 'auc', value: 0.9, higherIsBetter: true } };
    const inconsistent = await refusal(registerVersion(modelsDir, { metadata: draft, onnxBytes: logisticModel(scorer), parity: parityFor(scorer), stage: 'staging' }));
    expect(inconsistent.message).toBe('cannot register churn: headline metric auc is 0.9, the held-out value 0.8');
    expect(existsSync(path.join(modelsDir, 'staging'))).toBe(false);
  });
});

describe('promoteVersion', () => {
  it('promotes a valid version, archives the one it replaces and keeps exactly one production version', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir, { auc: 0.8 });
    await registerChurn(modelsDir, { auc: 0.82, weights: [0.6, -0.2, 1] });

    const first = await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    expect(first).toMatchObject({ version: '1.0.0', previous: null, forced: false });
    expect(first.report.checks.map((c) => [c.name, c.passed])).toEqual([
      ['files', true], ['sha256', true], ['loads', true], ['inputs', true], ['outputs', true], ['parity', true], ['regression', true],
    ]);

    const second = await promoteVersion(modelsDir, 'churn', '1.1.0', { who: 'ana', reason: 'better AUC' });
    expect(second.previous).toBe('1.0.0');
    expect(productionEntries(modelsDir, 'churn')).toEqual(['1.1.0']);
    expect(productionDirs(modelsDir, 'churn')).toEqual(['1.1.0']);
    expect(readdirSync(path.join(modelsDir, 'archived', 'churn'))).toEqual(['1.0.0']);
    expect(readdirSync(path.join(modelsDir, 'staging', 'churn'))).toEqual([]);

    const production = getProduction(modelsDir, 'churn');
    expect(production).toMatchObject({ version: '1.1.0', dir: path.join(modelsDir, 'production', 'churn', '1.1.0') });
    expect(production!.metadata.stage).toBe('production');
    const archived = JSON.parse(readFileSync(path.join(modelsDir, 'archived', 'churn', '1.0.0', 'metadata.json'), 'utf8')) as ModelMetadata;
    expect(archived.stage).toBe('archived');

    const history = listModels(modelsDir, 'churn').find((v) => v.version === '1.0.0')!.history;
    expect(history.map((h) => [h.action, h.from, h.to, h.who])).toEqual([
      ['register', null, 'staging', 'trainer'],
      ['promote', 'staging', 'production', 'ana'],
      ['archive', 'production', 'archived', 'ana'],
    ]);
    expect(history[2]!.why).toBe('replaced in production by 1.1.0');
  });

  it('refuses a corrupted model file, naming the failed checks, and changes nothing', async () => {
    const modelsDir = tempModelsDir();
    const { dir } = await registerChurn(modelsDir);
    const file = path.join(dir, 'model.onnx');
    writeFileSync(file, readFileSync(file).subarray(0, 40));
    const before = snapshotFiles(modelsDir);

    const error = await refusal(promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' }));
    expect(error.reason).toBe('validation-failed');
    expect(error.message).toMatch(/^refusing to promote churn 1\.0\.0: 2 checks failed: sha256 \(model\.onnx has sha256 [0-9a-f]{12}…, metadata says [0-9a-f]{12}…\); loads \(onnxruntime-node cannot load model\.onnx: .+\); not run: inputs, outputs, parity\. To override: --force --reason "\.\.\."$/);
    expect(error.report!.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(['sha256', 'loads', 'inputs', 'outputs', 'parity']);
    expect(snapshotFiles(modelsDir)).toEqual(before);
    expect(readProductionPointer(modelsDir, 'churn')).toBeNull();
  });

  it('reports a hand-broken metadata.json as a failed check instead of crashing', async () => {
    const modelsDir = tempModelsDir();
    const { dir } = await registerChurn(modelsDir);
    writeFileSync(path.join(dir, 'metadata.json'), '{"name": "churn"}');
    const report = await validateVersion(modelsDir, 'churn', '1.0.0');
    expect(report.passed).toBe(false);
    expect(report.checks[0]).toEqual({ name: 'files', passed: false, detail: expect.stringMatching(/^metadata\.json lacks one of name, version/) });
    expect(report.checks.slice(1).every((c) => c.notRun)).toBe(true);
  });

  it('refuses a model whose input tensors differ from its metadata', async () => {
    const modelsDir = tempModelsDir();
    const scorer = { weights: [0.5, -0.25], bias: 0.1, inputName: 'x' };
    await registerVersion(modelsDir, { metadata: churnDraft(0.8), onnxBytes: logisticModel(scorer), parity: parityFor(scorer), stage: 'staging' });

    const error = await refusal(promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' }));
    expect(error.report!.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(['inputs']);
    expect(error.message).toContain('inputs (metadata names input "features", the model has "x"; the model has input "x", which the metadata does not list)');
  });

  it('checks that the feature axis carries the feature spec', async () => {
    const modelsDir = tempModelsDir();
    const scorer = { weights: [0.5, -0.25], bias: 0.1 };
    const draft = churnDraft(0.8, ['a', 'b']);
    draft.featureSpec.push({ name: 'c', type: 'numeric', description: 'c' });
    await registerVersion(modelsDir, { metadata: draft, onnxBytes: logisticModel(scorer), parity: parityFor(scorer), stage: 'staging' });
    const report = await validateVersion(modelsDir, 'churn', '1.0.0');
    expect(report.checks.find((c) => c.name === 'inputs')).toEqual({
      name: 'inputs',
      passed: false,
      detail: 'input "features": axis 1 carries the feature spec\'s 3 features, the model has 2',
    });
  });

  it('refuses a version whose headline metric regressed beyond the tolerance, which is configurable', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir, { auc: 0.8 });
    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    await registerChurn(modelsDir, { auc: 0.78 });
    await registerChurn(modelsDir, { auc: 0.7 });

    const within = await validateVersion(modelsDir, 'churn', '1.1.0');
    expect(within.passed).toBe(false);
    expect(within.checks.find((c) => c.name === 'regression')!.detail).toBe("auc 0.7800 vs production 1.0.0's 0.8000: 2.5% worse, beyond the 2.0% tolerance");

    expect((await validateVersion(modelsDir, 'churn', '1.1.0', { regressionTolerance: 0.05 })).passed).toBe(true);
    const error = await refusal(promoteVersion(modelsDir, 'churn', '1.2.0', { who: 'ana' }));
    expect(error.message).toBe(
      "refusing to promote churn 1.2.0: 1 check failed: regression (auc 0.7000 vs production 1.0.0's 0.8000: 12.5% worse, beyond the 2.0% tolerance). To override: --force --reason \"...\"",
    );
    expect(productionEntries(modelsDir, 'churn')).toEqual(['1.0.0']);
  });

  it('promotes with force and a reason, and records both in the history', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir, { auc: 0.8 });
    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    await registerChurn(modelsDir, { auc: 0.7 });

    const result = await promoteVersion(modelsDir, 'churn', '1.1.0', { who: 'ben', force: { reason: 'new held-out window is harder; checked by hand' } });
    expect(result.forced).toBe(true);
    expect(productionEntries(modelsDir, 'churn')).toEqual(['1.1.0']);
    const promotion = listModels(modelsDir, 'churn').find((v) => v.version === '1.1.0')!.history.at(-1);
    expect(promotion).toMatchObject({
      action: 'promote',
      from: 'staging',
      to: 'production',
      who: 'ben',
      why: 'new held-out window is harder; checked by hand',
      forced: { reason: 'new held-out window is harder; checked by hand', failedChecks: ['regression'] },
    });
    await expect(promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ben', force: { reason: ' ' } })).rejects.toThrow('forcing a promotion needs a reason');
  });

  it('refuses unknown versions and versions already in production', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir);
    await expect(promoteVersion(modelsDir, 'churn', '9.0.0', { who: 'ana' })).rejects.toThrow('churn has no version 9.0.0 (registered: 1.0.0)');
    await expect(promoteVersion(modelsDir, 'overdue', '1.0.0', { who: 'ana' })).rejects.toThrow('no model named overdue is registered');
    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    await expect(promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' })).rejects.toThrow('churn 1.0.0 is already the production version');
  });

  it('keeps the registry whole under concurrent promotions and registrations', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir, { auc: 0.8 });
    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    for (let i = 0; i < 4; i++) await registerChurn(modelsDir, { auc: 0.81 + i * 0.01 });

    const results = await Promise.allSettled([
      promoteVersion(modelsDir, 'churn', '1.1.0', { who: 'a' }),
      promoteVersion(modelsDir, 'churn', '1.2.0', { who: 'b' }),
      promoteVersion(modelsDir, 'churn', '1.3.0', { who: 'c' }),
      promoteVersion(modelsDir, 'churn', '1.4.0', { who: 'd' }),
      registerChurn(modelsDir, { auc: 0.9 }),
      registerChurn(modelsDir, { auc: 0.9 }),
    ]);
    // A later promotion may be refused as a regression against an earlier one; none may fail otherwise.
    for (const result of results) {
      if (result.status === 'rejected') expect((result.reason as RegistryError).reason).toBe('validation-failed');
    }
    const registry = readRegistryJson(modelsDir);
    const versions = registry.models.churn!.versions;
    expect(Object.keys(versions).sort()).toEqual(['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0', '1.5.0', '1.6.0']);
    expect(productionEntries(modelsDir, 'churn')).toHaveLength(1);
    expect(productionDirs(modelsDir, 'churn')).toEqual(productionEntries(modelsDir, 'churn'));
    for (const [version, entry] of Object.entries(versions)) {
      expect(existsSync(path.join(modelsDir, entry.stage, 'churn', version, 'model.onnx'))).toBe(true);
    }
    const archived = Object.entries(versions).filter(([, v]) => v.stage === 'archived').map(([version]) => version);
    expect([...registry.models.churn!.previousProduction].sort()).toEqual(archived.sort());
    expect(existsSync(path.join(modelsDir, 'metadata', 'registry.lock'))).toBe(false);
  });
});

describe('rollback', () => {
  it('undoes a promotion: registry.json and the folders are as before, apart from the history', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir, { auc: 0.8 });
    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    await registerChurn(modelsDir, { auc: 0.85 });
    const registryBefore = registryWithoutHistory(modelsDir);
    const filesBefore = snapshotFiles(modelsDir);
    delete filesBefore['metadata/registry.json'];

    await promoteVersion(modelsDir, 'churn', '1.1.0', { who: 'ana' });
    expect(readProductionPointer(modelsDir, 'churn')!.version).toBe('1.1.0');
    const result = await rollback(modelsDir, 'churn', { who: 'ben', reason: 'complaints from branch staff' });

    expect(result).toEqual({ restored: '1.0.0', withdrawn: { version: '1.1.0', to: 'staging' } });
    expect(registryWithoutHistory(modelsDir)).toEqual(registryBefore);
    const filesAfter = snapshotFiles(modelsDir);
    delete filesAfter['metadata/registry.json'];
    expect(filesAfter).toEqual(filesBefore);
    expect(readProductionPointer(modelsDir, 'churn')).toEqual({ version: '1.0.0', dir: path.join(modelsDir, 'production', 'churn', '1.0.0'), sha256: expect.any(String) });

    const restored = listModels(modelsDir, 'churn').find((v) => v.version === '1.0.0')!.history.at(-1);
    expect(restored).toMatchObject({ action: 'restore', from: 'archived', to: 'production', who: 'ben', why: 'complaints from branch staff' });
  });

  it('walks back through earlier production versions, then refuses when none is left', async () => {
    const modelsDir = tempModelsDir();
    for (const auc of [0.8, 0.81, 0.82]) {
      const { metadata } = await registerChurn(modelsDir, { auc });
      await promoteVersion(modelsDir, 'churn', metadata.version, { who: 'ana' });
    }
    expect((await rollback(modelsDir, 'churn', { who: 'ana' })).restored).toBe('1.1.0');
    expect((await rollback(modelsDir, 'churn', { who: 'ana' })).restored).toBe('1.0.0');
    const error = await refusal(rollback(modelsDir, 'churn', { who: 'ana' }));
    expect(error).toMatchObject({ reason: 'invalid-state', message: 'churn has no earlier production version to roll back to' });
    expect(productionEntries(modelsDir, 'churn')).toEqual(['1.0.0']);
  });

  it('refuses to roll back across a feature-spec change unless forced', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir, { weights: [0.3, -0.1, 1] });
    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });
    await registerChurn(modelsDir, { weights: [0.3, -0.1], featureNames: ['a', 'b'] });
    await promoteVersion(modelsDir, 'churn', '2.0.0', { who: 'ana', force: { reason: 'new features' } });
    const error = await refusal(rollback(modelsDir, 'churn', { who: 'ben' }));
    expect(error).toMatchObject({ reason: 'invalid-state' });
    expect(error.message).toMatch(/^cannot roll back churn 2\.0\.0 to 1\.0\.0: its feature spec or input tensors differ/);
    expect(productionEntries(modelsDir, 'churn')).toEqual(['2.0.0']);
    const forced = await rollback(modelsDir, 'churn', { who: 'ben', force: { reason: 'subgraphs redeployed for 1.x' } });
    expect(forced.restored).toBe('1.0.0');
    expect(productionEntries(modelsDir, 'churn')).toEqual(['1.0.0']);
  });
});

describe('archiveVersion', () => {
  it('archives a staging version and refuses the production version unless forced', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir);
    await registerChurn(modelsDir);
    await promoteVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' });

    await archiveVersion(modelsDir, 'churn', '1.1.0', { who: 'ana', reason: 'superseded' });
    expect(existsSync(path.join(modelsDir, 'archived', 'churn', '1.1.0', 'model.onnx'))).toBe(true);
    expect(existsSync(path.join(modelsDir, 'staging', 'churn', '1.1.0'))).toBe(false);
    await expect(archiveVersion(modelsDir, 'churn', '1.1.0', { who: 'ana' })).rejects.toThrow('churn 1.1.0 is already archived');

    const error = await refusal(archiveVersion(modelsDir, 'churn', '1.0.0', { who: 'ana' }));
    expect(error.message).toMatch(/^churn 1\.0\.0 is the production version; archiving it leaves churn with none/);
    await archiveVersion(modelsDir, 'churn', '1.0.0', { who: 'ana', force: { reason: 'model withdrawn' } });
    expect(readProductionPointer(modelsDir, 'churn')).toBeNull();
  });
});

describe('crash leftovers', () => {
  it('removes temporary copies and stale duplicates the next time the model changes', async () => {
    const modelsDir = tempModelsDir();
    const { dir } = await registerChurn(modelsDir);
    await registerChurn(modelsDir);
    // As if a promotion of 1.0.0 died after copying but before committing registry.json.
    const { cpSync, mkdirSync } = await import('node:fs');
    mkdirSync(path.join(modelsDir, 'production', 'churn'), { recursive: true });
    cpSync(dir, path.join(modelsDir, 'production', 'churn', '.incoming-1.0.0-1-abcd'), { recursive: true });
    cpSync(dir, path.join(modelsDir, 'production', 'churn', '1.0.0'), { recursive: true });

    await promoteVersion(modelsDir, 'churn', '1.1.0', { who: 'ana' });
    expect(readdirSync(path.join(modelsDir, 'production', 'churn'))).toEqual(['1.1.0']);
    expect(existsSync(path.join(dir, 'model.onnx'))).toBe(true);
  });
});
