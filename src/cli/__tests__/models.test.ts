import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, runModelsCommand } from '../models';
import { findProjectRoot } from '../../config';
import { listModels } from '../../registry';
import { registerChurn, tempModelsDir } from '../../registry/__tests__/fixtures';
import { registerServableChurn } from '../../../test/fixtures/servable-churn';

async function run(modelsDir: string, ...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runModelsCommand(argv, { modelsDir, out: (line) => out.push(line), err: (line) => err.push(line), cwd: modelsDir });
  return { code, out, err };
}

describe('npm run models', () => {
  it('prints help with --help and exits 0', async () => {
    const result = await run(tempModelsDir(), '--help');
    expect(result.code).toBe(EXIT_OK);
    expect(result.out.join('\n')).toMatch(/^Usage: npm run models -- <command> \[options\]/);
  });

  it('exits 2 with one line for a wrong command line', async () => {
    const modelsDir = tempModelsDir();
    const cases: [string[], string][] = [
      [[], 'models: no command given (see --help)'],
      [['frobnicate'], 'models: unknown command "frobnicate" (see --help)'],
      [['promote', 'churn'], 'models: promote takes <model> <version> (see --help)'],
      [['promote', 'churn', 'latest'], 'models: expected a version as MAJOR.MINOR.PATCH (e.g. 1.2.0), got "latest" (see --help)'],
      [['promote', 'churn', '1.0.0', '--force'], 'models: --force needs --reason "why the checks may be overridden" (see --help)'],
      [['promote', 'churn', '1.0.0', '--reason'], 'models: --reason needs a value (see --help)'],
      [['list', '--colour'], 'models: unknown option --colour (see --help)'],
      [['validate', 'churn', '1.0.0', '--tolerance', 'lots'], 'models: --tolerance must be a non-negative number such as 0.02, got "lots" (see --help)'],
    ];
    for (const [argv, message] of cases) {
      const result = await run(modelsDir, ...argv);
      expect({ argv, code: result.code, err: result.err }).toEqual({ argv, code: EXIT_USAGE, err: [message] });
    }
  });

  it('lists versions as a table with the headline metric next to the baseline', async () => {
    const modelsDir = tempModelsDir();
    expect((await run(modelsDir, 'list')).out).toEqual([`no model versions are registered in ${modelsDir}`]);
    await registerChurn(modelsDir, { auc: 0.8 });
    await registerChurn(modelsDir, { auc: 0.8123, stage: 'experiments' });
    const result = await run(modelsDir, 'list');
    expect(result.code).toBe(EXIT_OK);
    expect(result.out).toEqual([
      'MODEL  VERSION  STAGE        HEADLINE   BASELINE                      CREATED',
      'churn  1.1.0    experiments  auc 0.812  0.700 (days since last loan)  2024-06-30',
      'churn  1.0.0    staging      auc 0.800  0.700 (days since last loan)  2024-06-30',
    ]);
  });

  it('validates, promotes, refuses with exit 1, forces with a reason and rolls back', async () => {
    const modelsDir = tempModelsDir();
    await registerServableChurn(modelsDir, 0.8);
    await registerServableChurn(modelsDir, 0.7);

    const validated = await run(modelsDir, 'validate', 'churn', '1.0.0');
    expect(validated.code).toBe(EXIT_OK);
    expect(validated.out[0]).toBe('churn 1.0.0 (staging)');
    expect(validated.out.at(-1)).toBe('all checks passed');

    const promoted = await run(modelsDir, 'promote', 'churn', '1.0.0', '--who', 'ana');
    expect(promoted).toEqual({ code: EXIT_OK, out: ['promoted churn 1.0.0 to production'], err: [] });

    const failedValidation = await run(modelsDir, 'validate', 'churn', '1.1.0');
    expect(failedValidation.code).toBe(EXIT_FAILED);
    expect(failedValidation.out).toContain("  FAIL  regression  auc 0.7000 vs production 1.0.0's 0.8000: 12.5% worse, beyond the 2.0% tolerance");

    const refused = await run(modelsDir, 'promote', 'churn', '1.1.0');
    expect(refused.code).toBe(EXIT_FAILED);
    expect(refused.out).toEqual([]);
    expect(refused.err).toEqual([
      "models: refusing to promote churn 1.1.0: 1 check failed: regression (auc 0.7000 vs production 1.0.0's 0.8000: 12.5% worse, beyond the 2.0% tolerance). To override: --force --reason \"...\"",
    ]);

    expect((await run(modelsDir, 'promote', 'churn', '1.1.0', '--tolerance', '0.2')).code).toBe(EXIT_OK);
    expect((await run(modelsDir, 'rollback', 'churn', '--reason', 'trial over', '--who', 'ben')).out).toEqual([
      'rolled back churn: 1.0.0 is in production again; 1.1.0 back in staging',
    ]);

    const forced = await run(modelsDir, 'promote', 'churn', '1.1.0', '--force', '--reason', 'accepted by the collections team', '--who', 'ana');
    expect(forced.code).toBe(EXIT_OK);
    expect(forced.err).toEqual(['warning: promoted despite failed checks (regression); recorded with reason "accepted by the collections team"']);
    expect(forced.out).toEqual(['promoted churn 1.1.0 to production (1.0.0 archived)']);
    const history = listModels(modelsDir, 'churn').find((v) => v.version === '1.1.0')!.history;
    expect(history.at(-1)).toMatchObject({ who: 'ana', forced: { reason: 'accepted by the collections team', failedChecks: ['regression'] } });
    expect(history.find((h) => h.action === 'rollback')).toMatchObject({ who: 'ben', why: 'trial over' });
  });

  it('refuses, even with --force, a rollback to a version the serving code cannot load', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir);
    expect((await run(modelsDir, 'promote', 'churn', '1.0.0')).code).toBe(EXIT_OK);
    await registerServableChurn(modelsDir);
    expect((await run(modelsDir, 'promote', 'churn', '2.0.0', '--force', '--reason', 'new features')).code).toBe(EXIT_OK);
    const refused = await run(modelsDir, 'rollback', 'churn', '--force', '--reason', 'try it');
    expect(refused.code).toBe(EXIT_FAILED);
    expect(refused.err).toEqual([expect.stringMatching(/^models: cannot roll back churn 2\.0\.0 to 1\.0\.0: the serving code cannot load it \(churn 1\.0\.0: feature spec .*\); --force does not override this$/)]);
    expect(listModels(modelsDir, 'churn').find((v) => v.stage === 'production')?.version).toBe('2.0.0');
  });

  it('exits 1 with one line for unknown models and versions, and for a refused archive', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir);
    expect(await run(modelsDir, 'validate', 'churn', '2.0.0')).toEqual({ code: EXIT_FAILED, out: [], err: ['models: churn has no version 2.0.0 (registered: 1.0.0)'] });
    expect(await run(modelsDir, 'rollback', 'churn')).toEqual({ code: EXIT_FAILED, out: [], err: ['models: churn has no earlier production version to roll back to'] });
    await run(modelsDir, 'promote', 'churn', '1.0.0');
    const archive = await run(modelsDir, 'archive', 'churn', '1.0.0');
    expect(archive.code).toBe(EXIT_FAILED);
    expect(archive.err).toHaveLength(1);
    expect(archive.err[0]).toMatch(/^models: churn 1\.0\.0 is the production version/);
  });

  it('archives a version and writes a model card', async () => {
    const modelsDir = tempModelsDir();
    await registerChurn(modelsDir);
    expect((await run(modelsDir, 'archive', 'churn', '1.0.0', '--reason', 'old')).out).toEqual(['archived churn 1.0.0']);

    // Registered without charts, so without a card: nothing is written unless --out says where.
    const card = await run(modelsDir, 'card', 'churn', '1.0.0');
    expect(card.code).toBe(EXIT_USAGE);
    expect(card.err).toEqual(['models: churn 1.0.0 has no registered model card: write one with --out <file> (see --help)']);
    expect(existsSync(path.join(modelsDir, 'churn-1.0.0-card.html'))).toBe(false);
    const committed = path.join(findProjectRoot(__dirname), 'models');
    const registered = await run(committed, 'card', 'churn', '1.0.0');
    expect(registered.out).toEqual([`churn 1.0.0's model card, written when it was registered: ${path.join(committed, 'archived', 'churn', '1.0.0', 'card.html')}`]);
    const named = await run(modelsDir, 'card', 'churn', '1.0.0', '--out', 'cards/../churn.html');
    expect(named.out).toEqual([`wrote churn 1.0.0's model card to ${path.join(modelsDir, 'churn.html')}`]);
    expect(readFileSync(path.join(modelsDir, 'churn.html'), 'utf8')).toContain('churn model, version 1.0.0');
  });
});
