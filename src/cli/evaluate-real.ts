/**
 * `npm run eval:real`: the models that have a real public data set to be judged on, each
 * through its own command's code path: the recommender on Book-Crossing ratings (NDCG@10
 * against popularity) and the demand model on LibrariesWest monthly loans (2018 forecast
 * against seasonal naive). Reads ../shared/data, so it is not part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { findProjectRoot } from '../config';
import { parseFlags } from './flags';

const USAGE = `usage: npm run eval:real [-- --shared DIR]
  Runs the real-data evaluations and prints their figures:
    - recommender on <shared>/data/book-crossing/ratings_dev.csv (20% of each user's rows held out)
    - demand model on <shared>/data/librarieswest/issues_monthly_2016-07_2018-12.csv (trained to 2017-12, forecasts 2018)
  --shared  the shared folder (default: ../shared beside the project)`;

function run(script: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const { flags } = parseFlags(process.argv.slice(2), { shared: 'string' }, USAGE);
  const root = findProjectRoot();
  const shared = path.resolve(flags.shared ?? path.join(root, '..', 'shared'));
  const ratings = path.join(shared, 'data', 'book-crossing', 'ratings_dev.csv');
  const history = path.join(shared, 'data', 'librarieswest', 'issues_monthly_2016-07_2018-12.csv');
  for (const file of [ratings, history]) {
    if (!existsSync(file)) throw new Error(`${file} not found (pass --shared DIR)`);
  }
  const cli = path.join(root, 'dist', 'src', 'cli');
  process.stdout.write('== Recommender on Book-Crossing (hybrid vs popularity)\n');
  const recommend = await run(path.join(cli, 'evaluate-recommend.js'), ['--ratings', ratings]);
  process.stdout.write('\n== Demand model on LibrariesWest (2018 forecast vs seasonal naive)\n');
  const forecast = await run(path.join(cli, 'evaluate-forecast.js'), ['--data', history]);
  process.stdout.write('\n== Demand on LibrariesWest: the served method chosen per level before 2018, scored on 2018 (goal <= 0.85 of seasonal naive)\n');
  const choice = await run(path.join(cli, 'evaluate-forecast.js'), ['--data', history, '--choose']);
  process.stdout.write('\n== The same, chosen by RMSE as the demand trainer chooses (the LSTM is no candidate here: the folds before 2018 have 12-15 months of history, it needs 16)\n');
  const byRmse = await run(path.join(cli, 'evaluate-forecast.js'), ['--data', history, '--choose', '--criterion', 'rmse']);
  return recommend || forecast || choice || byRmse;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    process.stderr.write(`eval:real: ${error.message}\n`);
    process.exitCode = 2;
  },
);
