/**
 * The shelf-taste recommender without look-ahead, on evaluate's rows: its settings (as a
 * registered version chose them on validation folds) refitted on the histories at the window's
 * cut-off only, exported to ONNX and scored by `npm run evaluate`'s code against popularity,
 * item-kNN and EASE (fitted on the same histories) and against the registered versions named,
 * with 95% bootstrap intervals and paired differences on the same members.
 *
 *   npm run build && node dist/bench/recommendations-cutoff-fit.js --version 2.2.0 [--compare 2.1.0] [--db PATH] [--models-dir DIR] [--json]
 *
 * A registered version was refitted on every loan to its training date, so on the library it was
 * trained on it has seen the held-out window; this refit has not.
 */
import 'reflect-metadata';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseFlags } from '../src/cli/flags';
import { evaluateRecommendationVersions, recommendationHoldout, type RecommendationVersion } from '../src/evaluation/recommendation-evaluation';
import { DEFAULT_TASTE_SETTINGS, exportTasteOnnx, fitTasteModel, type TasteSettings } from '../src/ml/recommender/taste';
import { readMetadata } from '../src/registry';
import { readRegistry } from '../src/registry/registry-file';
import { openStore } from '../src/store';
import { shelfCatalogue } from '../src/training/recommendations';

const USAGE = 'usage: node dist/bench/recommendations-cutoff-fit.js --version V [--compare V ...] [--db PATH] [--models-dir DIR] [--window DAY] [--json]';

async function main(): Promise<void> {
  const { flags } = parseFlags(
    process.argv.slice(2),
    { version: 'string', compare: 'strings', db: 'string', 'models-dir': 'string', window: 'string', json: 'boolean' },
    USAGE,
  );
  if (!flags.version) throw new Error(USAGE);
  const modelsDir = flags['models-dir'] ?? 'models';
  const record = readRegistry(modelsDir).models.recommendations;
  const registered = (version: string): RecommendationVersion => {
    const entry = record?.versions[version];
    if (!entry) throw new Error(`recommendations ${version} is not registered in ${modelsDir}`);
    const dir = path.join(modelsDir, entry.dir);
    return { version, dir, metadata: readMetadata(dir) };
  };
  const source = registered(flags.version);
  const h = (source.metadata as { hyperparameters?: Record<string, unknown> }).hyperparameters ?? {};
  const settings: TasteSettings = {
    ...DEFAULT_TASTE_SETTINGS,
    catalogueExponent: h.catalogueExponent === 'borrowers' ? null : Number(h.catalogueExponent),
    priorStrength: Number(h.priorStrength),
    authorWeight: Number(h.authorWeight),
    coBorrowingWeight: Number(h.coBorrowingWeight),
    shrinkage: Number(h.shrinkage),
  };
  const store = openStore(`sqlite:${flags.db ?? 'data/shelfmark.db'}`, { readonly: true });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'recommendations-cutoff-'));
  try {
    const holdout = await recommendationHoldout(store, source, { end: flags.window });
    const books = await store.db.selectFrom('books').select(['id', 'authors', 'genre', 'collection', 'ratings_count']).orderBy('id').execute();
    if (books.length !== holdout.bookIds.length || books.some((b, i) => b.id !== holdout.bookIds[i])) throw new Error('the library has another catalogue than the version');
    const cpu = process.cpuUsage();
    const model = fitTasteModel(holdout.training, shelfCatalogue(books), settings);
    const fitCpu = process.cpuUsage(cpu);
    writeFileSync(path.join(dir, 'model.onnx'), exportTasteOnnx(model));
    writeFileSync(path.join(dir, 'index.json'), readFileSync(path.join(source.dir, 'index.json')));
    const refit: RecommendationVersion = { version: `${flags.version} refitted at ${holdout.cutoff}`, dir, metadata: { ...source.metadata, trainingData: { asOf: holdout.cutoff } } as RecommendationVersion['metadata'] };
    const reports = await evaluateRecommendationVersions(holdout, [refit, ...(flags.compare ?? []).map(registered)], { seed: 1, resamples: 1000 }, (m) => process.stderr.write(`${m}\n`));
    const summary = reports.map((r) => ({
      version: r.version,
      rows: r.rows,
      lookAhead: r.lookAhead,
      ndcgAt10: r.metrics.ndcg_at_10,
      coverage: r.metrics.coverage,
      novelty: r.metrics.novelty,
      comparisons: r.comparisons,
    }));
    const baselines = Object.fromEntries(Object.entries(reports[0]!.baselines).map(([name, figures]) => [name, { ndcgAt10: figures.ndcg_at_10, coverage: figures.coverage, novelty: figures.novelty }]));
    const result = { window: holdout.description, settings, fitCpuSeconds: (fitCpu.user + fitCpu.system) / 1e6, onnxBytes: exportTasteOnnx(model).length, baselines, baselineSettings: reports[0]!.baselineSettings, versions: summary };
    process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : `${JSON.stringify(result, null, 1)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
