/**
 * Training-time benchmark of the tree learners at the sizes Shelfmark trains:
 * gradient boosting 200 trees of depth 4 on 10,000 × 20, a random forest of 60 trees of depth
 * 12 on 400,000 × 20 (80,000 rows per tree), each scored against the logistic truth on
 * 20,000 held-out rows. After `npm run build`: `node dist/src/ml/trees/benchmark.js`.
 */
import { auc } from '../metrics';
import { trainGradientBoosting } from './gradient-boosting';
import { trainRandomForest } from './random-forest';
import { logisticTruthData, sliceRows } from './synthetic';

export interface TreeBenchmarkResult {
  model: string;
  rows: number;
  trainSeconds: number;
  heldOutAuc: number;
  truthAuc: number;
}

export function runTreeBenchmark(): TreeBenchmarkResult[] {
  const results: TreeBenchmarkResult[] = [];
  const cases = [
    { model: 'gradient boosting, 200 trees, depth 4', rows: 10_000, train: trainGradientBoosting, params: { trees: 200, maxDepth: 4 } },
    { model: 'random forest, 60 trees, depth 12', rows: 400_000, train: trainRandomForest, params: { trees: 60, maxDepth: 12, rowsPerTree: 80_000 } },
  ] as const;
  for (const c of cases) {
    const all = logisticTruthData({ rows: c.rows + 20_000, features: 20, seed: 7 });
    const train = sliceRows(all, 0, c.rows);
    const test = sliceRows(all, c.rows, c.rows + 20_000);
    const started = process.hrtime.bigint();
    const model = c.train(train, c.params);
    const trainSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    results.push({
      model: c.model,
      rows: c.rows,
      trainSeconds,
      heldOutAuc: auc(model.predictProba(test.features, test.rowCount), test.labels),
      truthAuc: auc(test.trueProbability, test.labels),
    });
  }
  return results;
}

if (require.main === module) {
  for (const r of runTreeBenchmark()) {
    process.stdout.write(
      `${r.model} on ${r.rows} rows: ${r.trainSeconds.toFixed(2)} s, held-out AUC ${r.heldOutAuc.toFixed(4)} (truth ${r.truthAuc.toFixed(4)})\n`,
    );
  }
}
