/**
 * `node dist/src/cli/evaluate-recommend.js`: the recommender on Book-Crossing
 * (src/evaluation/recommender.ts), printed.
 */
import { InputError, type RecommenderHyperparameters } from '../ml/recommender';
import type { RankingMetrics } from '../ml/ranking-metrics';
import {
  DEFAULT_RATINGS_FILE,
  evaluateRecommenderOnBookCrossing,
  type BookCrossingEvaluation,
  type ContentSource,
  type EvaluationStage,
} from '../evaluation/recommender';
import { parseFlags, UsageError } from './flags';

function formatReport(report: BookCrossingEvaluation): string {
  const line = (name: string, m: RankingMetrics): string =>
    `${name.padEnd(12)} ${m.ndcg.toFixed(4).padStart(8)} ${m.precision.toFixed(4).padStart(8)} ${m.recall.toFixed(4).padStart(8)} ${m.hitRate.toFixed(4).padStart(8)}`;
  const k = report.k;
  return [
    `Book-Crossing (${report.stage} split, content: ${report.content}): ${report.evaluatedMembers} members scored, ${report.heldOutRows} held-out rows`,
    `${'model'.padEnd(12)} ${`NDCG@${k}`.padStart(8)} ${`P@${k}`.padStart(8)} ${`R@${k}`.padStart(8)} ${`HR@${k}`.padStart(8)}`,
    line('hybrid', report.hybrid),
    line('popularity', report.popularity),
    `NDCG ratio hybrid / popularity: ${report.ndcgRatio.toFixed(2)} (target >= 1.2: ${report.ndcgRatio >= 1.2 ? 'met' : 'NOT met'})`,
    `blend chosen on validation: popularity weight ${report.popularityWeight}, neighbourhood weight ${report.neighbourhoodWeight}; ` +
      `training ${report.trainingSeconds.toFixed(1)} s; ONNX parity ${report.parityAgreed ? 'ok' : 'FAILED'}`,
  ].join('\n');
}

const USAGE = `usage: node dist/src/cli/evaluate-recommend.js [options]
  Scores the hybrid recommender against popularity on Book-Crossing ratings (NDCG, precision, recall, hit rate at 10).
  --ratings CSV              ratings file (default ${DEFAULT_RATINGS_FILE})
  --seed N                   hold-out and training seed (default 42)
  --content none|isbn        item content derived from the ISBN, or none (default none)
  --stage test|validation    score the test split, or the inner validation split of the training part (default test)
  --alpha A, --unobserved-weight W0, --regularization L, --factors K, --iterations N, --neighbours M,
  --popularity-weight B      recommender hyperparameters (default: the recommender's)
  --json                     print the report as JSON`;

async function main(argv: string[]): Promise<number> {
  try {
    const { flags } = parseFlags(
      argv,
      {
        ratings: 'string',
        seed: 'number',
        content: 'string',
        stage: 'string',
        alpha: 'number',
        'unobserved-weight': 'number',
        'popularity-weight': 'number',
        regularization: 'number',
        factors: 'number',
        neighbours: 'number',
        iterations: 'number',
        json: 'boolean',
      },
      USAGE,
    );
    const content = (flags.content ?? 'none') as ContentSource;
    if (content !== 'none' && content !== 'isbn') throw new UsageError(`--content must be none or isbn, got "${content}"`);
    const stage = (flags.stage ?? 'test') as EvaluationStage;
    if (stage !== 'test' && stage !== 'validation') throw new UsageError(`--stage must be test or validation, got "${stage}"`);
    const hyperparameters: Partial<RecommenderHyperparameters> = {};
    for (const name of ['alpha', 'regularization', 'factors', 'iterations', 'neighbours'] as const) {
      const value = flags[name];
      if (value !== undefined) hyperparameters[name] = value;
    }
    const unobservedWeight = flags['unobserved-weight'];
    if (unobservedWeight !== undefined) hyperparameters.unobservedWeight = unobservedWeight;
    const popularityWeight = flags['popularity-weight'];
    if (popularityWeight !== undefined) hyperparameters.popularityWeight = popularityWeight;
    const report = await evaluateRecommenderOnBookCrossing({
      ...(flags.ratings ? { ratingsFile: flags.ratings } : {}),
      seed: flags.seed ?? 42,
      content,
      stage,
      hyperparameters,
      onProgress: (message) => {
        if (!message.includes('ALS iteration')) process.stderr.write(`evaluate-recommend: ${message}\n`);
      },
    });
    process.stdout.write(`${flags.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
    return 0;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const known = error instanceof UsageError || error instanceof InputError || code === 'ENOENT';
    process.stderr.write(`evaluate-recommend: ${(error as Error).message}\n`);
    return known ? 2 : 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
