/**
 * `npm run evaluate` for segmentation and recommendations: the committed versions scored on a
 * small library generated with another seed, next to their baselines on the same members.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import path from 'node:path';
import { findProjectRoot } from '../../config';
import { readMetadata } from '../../registry';
import { productionVersion, readRegistry } from '../../registry/registry-file';
import { openStore, type Store } from '../../store';
import { addDays } from '../../util/dates';
import { smallLibrary } from '../../../test/fixtures/small-library';
import type { Interval } from '../intervals';
import { evaluateRecommendationVersions, recommendationHoldout } from '../recommendation-evaluation';
import { baselineSegmentations, evaluateSegmentationVersions, segmentationHoldout } from '../segmentation-evaluation';

jest.setTimeout(600_000);

const committedModels = path.join(findProjectRoot(), 'models');

function committed(model: string) {
  const entry = productionVersion(readRegistry(committedModels), model);
  if (!entry) throw new Error(`no production ${model} in ${committedModels}`);
  const dir = path.join(committedModels, entry.dir);
  return { version: entry.version, dir, metadata: readMetadata(dir) };
}

function expectInside(figures: Record<string, Interval>, names: readonly string[]): void {
  for (const name of names) {
    const i = figures[name]!;
    expect({ name, finite: Number.isFinite(i.value) }).toEqual({ name, finite: true });
    expect(i.low).toBeLessThanOrEqual(i.value + 1e-12);
    expect(i.high).toBeGreaterThanOrEqual(i.value - 1e-12);
  }
}

let store: Store;

beforeAll(async () => {
  const library = await smallLibrary({ seed: 11, members: 600, models: [] });
  store = openStore(library.databaseUrl, { readonly: true });
});

afterAll(async () => {
  await store?.close();
});

describe('segmentation judged by use', () => {
  it('fits segment outcomes a cut-off before the one it scores, and compares with the RFM grids on the same members', async () => {
    const holdout = await segmentationHoldout(store);
    expect(holdout.fit.cutoff).toBe(addDays(holdout.score.cutoff, -90));
    expect(holdout.score.cutoff).toBe(addDays(holdout.end, -90));
    // The grids are fitted on the fit cut-off's members only: refitting with the score
    // cut-off's rows changed would not change the fit cut-off's cells.
    const grids = baselineSegmentations(holdout);
    expect(grids.rfmQuintileGrid!.fit).toHaveLength(holdout.fit.memberIds.length);
    expect(grids.rfmQuintileGrid!.score).toHaveLength(holdout.score.memberIds.length);

    const version = committed('segmentation');
    const [report] = await evaluateSegmentationVersions(holdout, [version], { seed: 2, resamples: 100 });
    if (!report) throw new Error('no report');
    expect(report).toMatchObject({ model: 'segmentation', version: version.version, rows: holdout.score.memberIds.length, oracle: null });
    expect(Object.keys(report.baselines)).toEqual(['rfmQuintileGrid', 'rfmTercileNamed', 'noSegments']);
    const names = ['lapseAuc', 'lapseLogLoss', 'lapseBrier', 'loansMae', 'loansRmse', 'stability'];
    expectInside(report.metrics, names);
    for (const figures of Object.values(report.baselines)) expectInside(figures, names);
    // No segments at all cannot rank members, and everyone keeps "everyone".
    expect(report.baselines.noSegments!.lapseAuc!.value).toBe(0.5);
    expect(report.baselines.noSegments!.stability!.value).toBe(1);
    const best = Object.entries(report.baselines).reduce((a, b) => (b[1].lapseAuc!.value > a[1].lapseAuc!.value ? b : a))[0];
    expect(report.bestBaseline).toBe(best);
    expect(report.comparisons[0]!.against).toContain(best);
  });
});

describe('recommendations against stronger baselines', () => {
  it('ranks the same members by the version and by popularity, item-kNN and EASE', async () => {
    const version = committed('recommendations');
    const holdout = await recommendationHoldout(store, version);
    expect(holdout.cutoff).toBe(addDays(holdout.end, -90));
    // Every scored member has a book new to them in the window, none of which they had before.
    holdout.members.forEach((u, m) => {
      expect(holdout.relevant[m]!.size).toBeGreaterThan(0);
      for (const item of holdout.seen[u]!) expect(holdout.relevant[m]!.has(item)).toBe(false);
    });
    const [report] = await evaluateRecommendationVersions(holdout, [version], { seed: 2, resamples: 100 });
    if (!report) throw new Error('no report');
    expect(report).toMatchObject({ model: 'recommendations', version: version.version, rows: holdout.members.length, oracle: null });
    expect(Object.keys(report.baselines)).toEqual(['popularity', 'itemKnn', 'ease']);
    const names = ['ndcg_at_10', 'hit_rate_at_10', 'recall_at_10', 'novelty'];
    for (const figures of [report.metrics, ...Object.values(report.baselines)]) {
      expectInside(figures, names);
      expect(figures.coverage!.value).toBeGreaterThan(0);
      expect(figures.coverage!.value).toBeLessThanOrEqual(1);
    }
    // Popularity recommends the same few books to everyone: the least coverage and novelty.
    expect(report.baselines.popularity!.coverage!.value).toBeLessThan(report.baselines.itemKnn!.coverage!.value);
    expect(report.baselines.popularity!.novelty!.value).toBeLessThan(report.baselines.itemKnn!.novelty!.value);
    const best = Object.entries(report.baselines).reduce((a, b) => (b[1].ndcg_at_10!.value > a[1].ndcg_at_10!.value ? b : a))[0];
    expect(report.bestBaseline).toBe(best);
  });
});
