/**
 * The promotion gate for segmentation and recommendations: production and the candidate
 * re-scored on one holdout of a small library generated with another seed, compared on the same
 * members by a paired bootstrap. A deliberately worse version is refused (where the stored
 * headlines let it through), and with that one as champion a clearly better one is accepted.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT_FAILED, runModelsCommand } from '../../cli/models';
import { findProjectRoot } from '../../config';
import { exportRecommenderOnnx, exportSimilarItemsOnnx, trainRecommender, type Interaction } from '../../ml/recommender';
import { promoteVersion, readMetadata, registerVersion, validateVersion, type ModelMetadata, type ParityFile } from '../../registry';
import { productionVersion, readRegistry } from '../../registry/registry-file';
import { openStore, type Store } from '../../store';
import { recommenderParityRows } from '../../training/recommendations';
import { Random } from '../../util/random';
import { smallLibrary, type SmallLibrary } from '../../../test/fixtures/small-library';
import { rescoreOnEvidence } from '../promotion-gate';
import { recommendationHoldout, type RecommendationHoldout } from '../recommendation-evaluation';

jest.setTimeout(900_000);

let library: SmallLibrary;
let store: Store;
let modelsDir: string;

function production(model: string): { version: string; dir: string; metadata: ModelMetadata } {
  const entry = productionVersion(readRegistry(modelsDir), model);
  if (!entry) throw new Error(`no production ${model} in ${modelsDir}`);
  const dir = path.join(modelsDir, entry.dir);
  return { version: entry.version, dir, metadata: readMetadata(dir) };
}

function draftOf(metadata: ModelMetadata) {
  const { version: _v, stage: _s, sha256: _h, files: _f, parity: _p, created: _c, ...draft } = metadata;
  return draft;
}

async function regressionOf(model: string, version: string) {
  const report = await validateVersion(modelsDir, model, version, { rescore: rescoreOnEvidence(store, model) });
  return report.checks.find((c) => c.name === 'regression');
}

/** Refused by the gate, and by `models promote --db`, which leaves production as it was. */
async function expectRefused(model: string, version: string, rows: RegExp): Promise<void> {
  const champion = production(model).version;
  const byHeadline = await validateVersion(modelsDir, model, version);
  expect(byHeadline.checks.find((c) => c.name === 'regression')?.passed).toBe(true);
  const regression = await regressionOf(model, version);
  expect(regression).toMatchObject({ passed: false });
  expect(regression?.detail).toMatch(rows);
  expect(regression?.detail).toMatch(/worse on the same rows/);
  const err: string[] = [];
  const code = await runModelsCommand(['promote', model, version, '--db', library.dbPath], { modelsDir, out: () => {}, err: (line) => err.push(line) });
  expect(code).toBe(EXIT_FAILED);
  expect(err.join('\n')).toMatch(/regression/);
  expect(production(model).version).toBe(champion);
}

beforeAll(async () => {
  library = await smallLibrary({ seed: 11, members: 600, models: [] });
  store = openStore(library.databaseUrl, { readonly: true });
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-rank-gate-'));
  cpSync(path.join(findProjectRoot(), 'models'), modelsDir, { recursive: true });
});

afterAll(async () => {
  await store?.close();
  if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
});

describe('segmentation', () => {
  let committed: { metadata: ModelMetadata; model: Buffer; parity: ParityFile };
  beforeAll(() => {
    // Read now: promoting another version moves this one's folder to archived/.
    const { dir, metadata } = production('segmentation');
    committed = { metadata, model: readFileSync(path.join(dir, 'model.onnx')), parity: JSON.parse(readFileSync(path.join(dir, 'parity.json'), 'utf8')) as ParityFile };
  });

  /** Registers the committed production graph again; with `oneName`, every centroid carries that one name, so the segments tell no one apart. */
  async function register(oneName?: string): Promise<string> {
    const draft = draftOf(committed.metadata);
    const serving = structuredClone(draft.serving) as { segments: { name: string }[] };
    if (oneName !== undefined) for (const segment of serving.segments) segment.name = oneName;
    const registered = await registerVersion(modelsDir, {
      metadata: { ...draft, serving },
      onnxBytes: committed.model,
      parity: committed.parity,
      stage: 'staging',
      who: 'test',
    });
    return registered.metadata.version;
  }

  it('refuses segments that are worse on the same members, and accepts clearly better ones', async () => {
    const worse = await register('Everyone');
    await expectRefused('segmentation', worse, /lapse AUC .* on the same \d+ members/);

    await promoteVersion(modelsDir, 'segmentation', worse, { who: 'test', force: { reason: 'test: a worse champion' } });
    const genuine = await register();
    const regression = await regressionOf('segmentation', genuine);
    expect(regression).toMatchObject({ passed: true });
    expect(regression?.detail).toMatch(/better on the same rows/);
  });
});

describe('recommendations', () => {
  let holdout: RecommendationHoldout;

  /**
   * Registers a small recommender fitted on the holdout's histories at the cut-off. With
   * `shuffled`, every book's loans are moved to another book first: its popularity and
   * co-borrowing point at the wrong books.
   */
  async function register(shuffled: boolean): Promise<string> {
    const champion = production('recommendations');
    const itemCount = holdout.bookIds.length;
    const moved = shuffled ? new Random(5).shuffle([...Array(itemCount).keys()]) : [...Array(itemCount).keys()];
    const interactions: Interaction[] = holdout.seen.flatMap((items, userIndex) => items.map((item) => ({ userIndex, itemIndex: moved[item]!, weight: 1 })));
    const model = trainRecommender(
      { userCount: holdout.seen.length, itemCount, interactions },
      { factors: 8, iterations: 2, neighbours: 20, popularityWeight: 1, neighbourhoodWeight: 1, seed: 3 },
    );
    const queries = holdout.members.slice(0, 50).map((u) => ({ userIndex: u, seenItems: holdout.seen[u]! }));
    const registered = await registerVersion(modelsDir, {
      metadata: draftOf(champion.metadata),
      onnxBytes: exportRecommenderOnnx(model, { metadata: { model: 'recommendations' } }),
      parity: recommenderParityRows(model, queries),
      extraFiles: {
        'index.json': readFileSync(path.join(champion.dir, 'index.json'), 'utf8'),
        'similar.onnx': exportSimilarItemsOnnx(model, { metadata: { model: 'recommendations-similar' } }),
      },
      stage: 'staging',
      who: 'test',
    });
    return registered.metadata.version;
  }

  beforeAll(async () => {
    holdout = await recommendationHoldout(store, production('recommendations'));
  });

  it('refuses a recommender that is worse on the same members, and accepts a clearly better one', async () => {
    const worse = await register(true);
    await expectRefused('recommendations', worse, new RegExp(`NDCG@10 .* on the same ${holdout.members.length} members`));

    await promoteVersion(modelsDir, 'recommendations', worse, { who: 'test', force: { reason: 'test: a worse champion' } });
    const genuine = await register(false);
    const regression = await regressionOf('recommendations', genuine);
    expect(regression).toMatchObject({ passed: true });
    expect(regression?.detail).toMatch(/better on the same rows/);
  });
});
