/**
 * Rankings over the whole library computed a slice at a time beside a feature cache far smaller
 * than the library give the same answers as scoring every member at once: the churn and overdue
 * watchlists and the segment overview on the small library (600 members; the one with churn and
 * overdue trained, which the monitor's test shares, and segmentation trained here on a copy), with
 * a cache of 50 entities per memo. The reference is each model's per-entity path over every member (or open
 * loan) in one batch, ranked here; the cache never holds more than its bound meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config';
import { RiskLevel } from '../../src/graphql/prediction-types';
import { closeModelDeps, openModelDeps, type ModelSubgraphDeps } from '../../src/model-runtime/model-subgraph';
import { CHURN_SLOT, MAX_CHURN_WATCHLIST } from '../../src/models/churn';
import { MAX_OVERDUE_WATCHLIST, OVERDUE_SLOT } from '../../src/models/overdue';
import { SEGMENTATION_SLOT } from '../../src/models/segmentation';
import { createChurnServices, predictChurn } from '../../subgraphs/churn';
import { createOverdueServices, predictOverdue } from '../../subgraphs/overdue';
import { createSegmentationServices, predictSegments } from '../../subgraphs/segmentation';
import { openStore } from '../../src/store';
import { trainAndRegister } from '../../src/training';
import { smallLibrary, writableCopy, type SmallLibrary } from '../fixtures/small-library';

const ROOT = path.join(__dirname, '..', '..');
const CACHE = 50;
let library: SmallLibrary;
let config: Config;
const opened: ModelSubgraphDeps[] = [];
const removed: string[] = [];

function configOn(env: NodeJS.ProcessEnv): Config {
  return loadConfig({
    ...env,
    SHELFMARK_ROOT: ROOT,
    LOG_LEVEL: 'error',
    PREDICTION_LOG: 'off',
    FEATURE_CACHE_ENTRIES: String(CACHE),
    // A loaded test machine may take more than a request's wait for the first run.
    AGGREGATE_FIRST_WAIT_MS: '60000',
  });
}

beforeAll(async () => {
  library = await smallLibrary({ models: ['overdue', 'churn'] });
  config = configOn(library.env);
}, 600_000);

afterAll(async () => {
  await Promise.all(opened.map((deps) => closeModelDeps(deps)));
  for (const dir of removed) rmSync(dir, { recursive: true, force: true });
});

async function open(name: string, slot: Parameters<typeof openModelDeps>[2][number], on: Config = config): Promise<ModelSubgraphDeps> {
  const deps = await openModelDeps(on, name, [slot]);
  opened.push(deps);
  return deps;
}

async function memberIds(deps: ModelSubgraphDeps): Promise<number[]> {
  return (await deps.store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
}

/** `entries` ranked as the watchlists rank: highest probability first, ties in the order given. */
function ranked<K>(entries: { key: K; probability: number }[], maximum: number): { key: K; probability: number }[] {
  return [...entries].sort((a, b) => b.probability - a.probability).slice(0, maximum);
}

describe('rankings over the whole library beside a bounded feature cache', () => {
  it('churnWatchlist equals ranking every member scored at once', async () => {
    const deps = await open('churn', CHURN_SLOT);
    const services = createChurnServices(deps);
    await services.warm?.();
    expect(services.memos.memberActivity.size).toBeLessThanOrEqual(CACHE);
    const ids = await memberIds(deps);
    expect(ids.length).toBeGreaterThan(10 * CACHE);
    const all = await predictChurn(services, ids.map(String));
    const expected = ranked(
      ids.flatMap((id, i) => {
        const risk = all[i];
        return risk && risk.level !== RiskLevel.LAPSED ? [{ key: String(id), probability: risk.probability }] : [];
      }),
      MAX_CHURN_WATCHLIST,
    );
    const watchlist = await services.watchlist.top(MAX_CHURN_WATCHLIST, 0);
    services.stop?.();
    expect(watchlist.length).toBe(expected.length);
    expect(watchlist.map((e) => e.risk.probability)).toEqual(expected.map((e) => e.probability));
    expect(new Set(watchlist.map((e) => e.member.id))).toEqual(new Set(expected.map((e) => e.key)));
    expect(services.memos.memberActivity.size).toBeLessThanOrEqual(CACHE);
  }, 120_000);

  it('overdueWatchlist equals ranking every open loan scored at once', async () => {
    const deps = await open('overdue', OVERDUE_SLOT);
    const services = createOverdueServices(deps);
    await services.warm?.();
    const loans = (await deps.store.db.selectFrom('loans').select('id').where('returned_at', 'is', null).where('due_at', '>=', deps.asOf).orderBy('id').execute()).map((r) => r.id);
    expect(loans.length).toBeGreaterThan(CACHE);
    const all = await predictOverdue(services, loans.map((id) => `L:${id}` as const));
    const expected = ranked(
      loans.flatMap((id, i) => {
        const risk = all[i];
        return risk ? [{ key: String(id), probability: risk.probability }] : [];
      }),
      MAX_OVERDUE_WATCHLIST,
    );
    const watchlist = await services.watchlist.top(MAX_OVERDUE_WATCHLIST, 0);
    services.stop?.();
    expect(watchlist.map((e) => e.risk.probability)).toEqual(expected.map((e) => e.probability));
    expect(new Set(watchlist.map((e) => e.loan.id))).toEqual(new Set(expected.map((e) => e.key)));
    expect(services.memos.openLoans.size).toBeLessThanOrEqual(CACHE);
  }, 120_000);

  it('the segment overview equals assigning every member at once', async () => {
    // Segmentation (k-means, seconds) trained here, into a copy with a models folder of its own.
    const copy = writableCopy(library);
    const modelsDir = mkdtempSync(path.join(tmpdir(), 'shelfmark-segmentation-models-'));
    removed.push(copy.dir, modelsDir);
    const store = openStore(copy.databaseUrl);
    try {
      await trainAndRegister('segmentation', store, { seed: library.seed, progress: () => {}, modelsDir, who: 'test', promote: true, seedProduction: true });
    } finally {
      await store.close();
    }
    const deps = await open('segmentation', SEGMENTATION_SLOT, configOn({ ...copy.env, MODELS_DIR: modelsDir }));
    const services = createSegmentationServices(deps);
    await services.warm?.();
    const ids = await memberIds(deps);
    const all = (await predictSegments(services, ids.map(String))).filter((s) => s !== null);
    const summaries = await services.overview.summaries();
    services.stop?.();
    expect(summaries.reduce((n, s) => n + s.size, 0)).toBe(all.length);
    for (const summary of summaries) {
      const members = all.filter((s) => s.name === summary.name);
      expect(summary.size).toBe(members.length);
      if (members.length === 0) continue;
      expect(summary.profile?.frequency).toBeCloseTo(members.reduce((sum, s) => sum + s.rfm.frequency, 0) / members.length, 4);
      expect(summary.profile?.tenureDays).toBeCloseTo(members.reduce((sum, s) => sum + s.tenureDays, 0) / members.length, 0);
    }
    expect(services.memos.memberActivity.size).toBeLessThanOrEqual(CACHE);
  }, 300_000);
});
