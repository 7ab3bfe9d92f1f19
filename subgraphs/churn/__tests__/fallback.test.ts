/**
 * The churn subgraph started on a models directory whose production model.onnx is corrupted:
 * it serves the earlier production version and says so in its readiness body and its metrics.
 * Like every model subgraph, it warms up (its feature caches, its first watchlist ranking) once
 * it has answered a readiness probe "ready", and its readiness body says `warmed: true` after.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../src/config';
import { untilWarmed } from '../../../src/graph-launcher';
import { promoteVersion } from '../../../src/registry';
import { tempModelsDir } from '../../../src/registry/__tests__/fixtures';
import { registerServableChurn } from '../../../test/fixtures/servable-churn';
import { metricValue } from '../../../test/fixtures/small-library';
import { tinyLibrary } from '../../../test/fixtures/tiny-library';
import { startChurnSubgraph } from '..';

describe('a churn subgraph whose production version is corrupted', () => {
  let running: Awaited<ReturnType<typeof startChurnSubgraph>>;
  beforeAll(async () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'shelfmark-fallback-')), 'library.db');
    const tiny = await tinyLibrary(60, 30, file);
    await tiny.store.close();
    const modelsDir = tempModelsDir();
    for (let i = 0; i < 2; i++) await promoteVersion(modelsDir, 'churn', await registerServableChurn(modelsDir), { who: 'ana' });
    writeFileSync(path.join(modelsDir, 'production', 'churn', '1.1.0', 'model.onnx'), 'corrupted');
    const config = loadConfig({ SHELFMARK_ROOT: path.join(__dirname, '..', '..', '..'), DATABASE_URL: `sqlite:${file}`, MODELS_DIR: modelsDir, MODEL_RELOAD_INTERVAL_MS: '3600000', LOG_LEVEL: 'error' });
    running = await startChurnSubgraph(config, 0);
  }, 60_000);
  afterAll(async () => {
    await running?.stop();
  });

  it('is ready, serving the earlier version, and its readiness body says why', async () => {
    const response = await fetch(running.url.replace(/\/graphql$/, '/health/ready'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ready',
      subgraph: 'churn',
      fallback: true,
      models: [{ model: 'churn', production: '1.1.0', serving: '1.0.0', fallback: true, reason: expect.stringMatching(/^1\.1\.0: model\.onnx: sha256/) }],
      warmed: expect.any(Boolean),
    });
  });

  it('exports the fallback gauge', async () => {
    const text = await (await fetch(running.url.replace(/\/graphql$/, '/metrics'))).text();
    expect(text).toMatch(/^model_serving_fallback\{model="churn",version="1\.0\.0",production="1\.1\.0",service="churn"\} 1$/m);
  });

  it('says warmed: true once its first watchlist ranking has run, and runs nothing more at rest', async () => {
    const inferenceRuns = async () => metricValue(await (await fetch(running.url.replace(/\/graphql$/, '/metrics'))).text(), 'model_inference_runs_total', { model: 'churn' });
    await untilWarmed(running.url, 30_000);
    const response = await fetch(running.url.replace(/\/graphql$/, '/health/ready'));
    expect(await response.json()).toMatchObject({ status: 'ready', warmed: true });
    // The warm-up ranked every member in the background: at least one run, all of them finished.
    const runs = await inferenceRuns();
    expect(runs).toBeGreaterThan(0);
    await running.warmed();
    expect(await inferenceRuns()).toBe(runs);
  });
});
