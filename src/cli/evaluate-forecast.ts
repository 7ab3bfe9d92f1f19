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
import { readFileSync } from 'node:fs';
import { backtestDemandHistory, type HistoryBacktest } from '../evaluation/demand-history';
import { LIBRARIES_WEST_COLUMNS } from '../evaluation/forecast';
import { DEMAND_METHOD_LABELS } from '../evaluation/demand-evaluation';
import { DEMAND_CRITERIA, type DemandCriterion } from '../evaluation/demand-baselines';
import { parseFlags } from './flags';

const isCriterion = (name: string): name is DemandCriterion => (DEMAND_CRITERIA as readonly string[]).includes(name);

/** The goal on real data: summed absolute error at most this share of seasonal naive's on the unseen year. */
export const REAL_DATA_GOAL = 0.85;

/** Levels of the LibrariesWest file the served method is chosen for: finest (collection) to coarsest. */
const LIBRARIES_WEST_LEVELS = [
  { name: 'authority × item type', keep: ['authority', 'item_type'] },
  { name: 'item type', keep: ['item_type'] },
  { name: 'authority', keep: ['authority'] },
  { name: 'all LibrariesWest', keep: [] },
];

function formatMethodChoice(b: HistoryBacktest): string {
  const ratio = (x: number): string => x.toFixed(3);
  const lines = [
    `LibrariesWest: served method chosen per level on rolling origins before ${b.testStart} (criterion ${b.criterion}), then scored once on ${b.testStart} to ${b.testEnd}`,
  ];
  for (const level of b.levels) {
    const chosen = level.test[level.chosen];
    const verdict = chosen.ratioToSeasonalNaive <= REAL_DATA_GOAL ? 'MET' : 'MISSED';
    lines.push(`  ${level.level}: ${level.seriesScored} series (${level.seriesLeftOut} first seen in the test year, left out); chosen ${level.chosen}`);
    lines.push(`    validation (mean ± sd over ${level.validation[0]?.folds ?? 0} folds): ${level.validation.map((v) => `${v.method} ${v.mean.toFixed(0)} ± ${v.sd.toFixed(0)}`).join(', ')}`);
    lines.push(`    test year, summed absolute error over seasonal naive's: ${Object.entries(level.test).map(([m, t]) => `${m === level.chosen ? '*' : ''}${m} ${ratio(t.ratioToSeasonalNaive)}`).join(', ')}`);
    lines.push(`    goal <= ${REAL_DATA_GOAL} of seasonal naive with the chosen method (${DEMAND_METHOD_LABELS[level.chosen]}): ${ratio(chosen.ratioToSeasonalNaive)}, ${verdict}; MASE ${ratio(chosen.mase)}, bias ${(100 * chosen.bias).toFixed(1)}%`);
  }
  return lines.join('\n');
}

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
  --choose          instead: the simple demand methods (seasonal naive, 12-month mean, mean x season,
                    SES/Theta deseasonalised, Croston, TSB); the served method chosen per level by
                    rolling origins before the month after --cutoff, then scored once on the next 12 months
  --criterion C     with --choose: what the folds choose by, summedAbsoluteError (default, the goal's
                    measure), rmse (what the demand trainer chooses by), mase or rmsse
  --synthetic       instead: recursive against direct on synthetic series`;

async function main(argv: string[]): Promise<number> {
  const { flags } = parseFlags(
    argv,
    { data: 'string', cutoff: 'string', horizon: 'number', seed: 'number', epochs: 'number', strategy: 'string', validation: 'boolean', synthetic: 'boolean', choose: 'boolean', criterion: 'string' },
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
  if (flags.choose) {
    const [year, month] = (flags.cutoff ?? '2017-12').split('-').map(Number);
    if (!year || !month) throw new Error(`--cutoff must be a month as YYYY-MM, got "${flags.cutoff}"`);
    const criterion = flags.criterion ?? 'summedAbsoluteError';
    if (!isCriterion(criterion)) throw new Error(`--criterion must be one of ${DEMAND_CRITERIA.join(', ')}, got "${criterion}"`);
    const testStart = month === 12 ? `${year + 1}-01` : `${year}-${String(month + 1).padStart(2, '0')}`;
    const backtest = backtestDemandHistory(readFileSync(data, 'utf8'), {
      columns: LIBRARIES_WEST_COLUMNS,
      testStart,
      horizon: flags.horizon ?? 12,
      selection: { folds: 4, validationLength: 3, step: 1, minTrainLength: 12, criterion },
      levels: LIBRARIES_WEST_LEVELS,
    });
    process.stdout.write(`${formatMethodChoice(backtest)}\n`);
    return 0;
  }
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
