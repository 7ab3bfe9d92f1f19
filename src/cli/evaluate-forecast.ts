/**
 * `node dist/src/cli/evaluate-forecast.js`: the demand model's back-test on real monthly data
 * (src/evaluation/forecast.ts), printed.
 */
import type { DemandModelOptions } from '../ml/lstm';
import {
  compareStrategiesOnSynthetic,
  evaluateForecast,
  formatEvaluation,
  formatValidation,
  validateInsideWindow,
  type EvaluateForecastOptions,
} from '../evaluation/forecast';
import { parseFlags } from './flags';

const DEFAULT_DATA = '../shared/data/librarieswest/issues_monthly_2016-07_2018-12.csv';

const USAGE = `usage: node dist/src/cli/evaluate-forecast.js [options]
  Back-tests the demand model on real monthly data: trained up to --cutoff, the --horizon months after
  it are forecast and scored against seasonal naive (summed absolute error), with the LSTM alone, its
  mean with seasonal naive (what npm run forecast writes) and the non-neural baselines.
  --data CSV        monthly history (default ${DEFAULT_DATA})
  --cutoff YYYY-MM  last training month (default 2017-12)
  --horizon N       months forecast after the cutoff (default 12)
  --seed N          training seed (default 1)
  --epochs N        training epochs (default: the forecast command's)
  --strategy S      recursive (default) or direct multi-month forecasting
  --validation      instead: rolling origins inside the training months (no month after the cutoff)
  --synthetic       instead: recursive against direct on synthetic series`;

async function main(argv: string[]): Promise<number> {
  const { flags } = parseFlags(
    argv,
    { data: 'string', cutoff: 'string', horizon: 'number', seed: 'number', epochs: 'number', strategy: 'string', validation: 'boolean', synthetic: 'boolean' },
    USAGE,
  );
  const training: Omit<DemandModelOptions, 'seasonLength'> = {};
  if (flags.epochs !== undefined) training.epochs = flags.epochs;
  const strategy = flags.strategy;
  if (strategy === 'recursive' || strategy === 'direct') training.strategy = strategy;
  else if (strategy !== undefined) throw new Error(`--strategy must be recursive or direct, got "${strategy}"`);
  if (flags.synthetic) {
    const c = await compareStrategiesOnSynthetic({ training });
    process.stdout.write(
      `synthetic: ${c.series} series, ${c.historyPeriods} months of history, ${c.horizon} ahead; ratio to seasonal naive: ` +
        `trend-scaled seasonal naive ${c.ratio.trendScaledSeasonalNaive.toFixed(3)}, LSTM recursive ${c.ratio.recursive.toFixed(3)} ` +
        `(${c.trainingSeconds.recursive.toFixed(1)} s), LSTM direct ${c.ratio.direct.toFixed(3)} (${c.trainingSeconds.direct.toFixed(1)} s)\n`,
    );
    return 0;
  }
  const data = flags.data ?? DEFAULT_DATA;
  const options: EvaluateForecastOptions = {
    cutoff: flags.cutoff ?? '2017-12',
    seed: flags.seed ?? 1,
    training,
    log: (line) => process.stderr.write(`${line}\n`),
  };
  if (flags.validation) {
    process.stdout.write(`${formatValidation(await validateInsideWindow(data, options))}\n`);
    return 0;
  }
  const evaluation = await evaluateForecast(data, { ...options, horizon: flags.horizon ?? 12 });
  process.stdout.write(`${formatEvaluation(evaluation)}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`evaluate-forecast: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
