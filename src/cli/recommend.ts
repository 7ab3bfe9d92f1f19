/**
 * `npm run recommend -- --interactions CSV --users TXT --k 10 --out CSV`
 *
 * Trains the hybrid recommender on an interactions file (columns user,item,weight; header
 * row), exports it to ONNX, runs the top-k for the listed members through onnxruntime and
 * writes `user,rank,item,score`. Members absent from the interactions get the most popular
 * items (counted on stderr). Exit codes: 0 done, 2 bad input or usage (one line on stderr,
 * no stack trace), 1 anything unexpected.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readFlags, UsageError } from './flags';
import {
  InputError,
  parseInteractionsCsv,
  parseUserList,
  RECOMMENDER_TENSORS,
  recommendThroughOnnx,
  SIMILAR_ITEMS_TENSORS,
  type MemberRecommendations,
} from '../ml/recommender';
import { csvLine } from '../util/csv';

export const RECOMMEND_USAGE = `Usage: npm run recommend -- --interactions CSV --users TXT --k N --out CSV [options]

Trains the recommender on CSV (columns user,item,weight with a header row; weight > 0),
exports it to ONNX, and writes the top N items for every member listed in TXT (one id per
line) through onnxruntime, as CSV columns user,rank,item,score. Items a member already has
are never recommended; members absent from CSV get the most popular items.

Options:
  --interactions CSV   interactions file (required)
  --users TXT          members to recommend for (required)
  --k N                items per member, a positive integer (required)
  --out CSV            where to write the recommendations (required)
  --seed N             seed for training (default 42); same seed, same output
  --factors N          latent factors (default 32)
  --iterations N       ALS iterations (default 10)
  --save-model DIR     also write recommendations.onnx, similar-books.onnx and ids.json there
  --help               show this help`;

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CommandIo = {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
};

function positiveInteger(value: string | undefined, option: string, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new UsageError(`missing --${option} (see --help)`);
    return fallback;
  }
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new UsageError(`--${option} must be a positive integer, got "${value}"`);
  return parsed;
}

function required(value: string | undefined, option: string): string {
  if (value === undefined || value.length === 0) throw new UsageError(`missing --${option} (see --help)`);
  return value;
}

async function readInput(file: string, label: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code ?? String(error);
    throw new InputError(`cannot read ${label} ${file}: ${reason}`);
  }
}

export function recommendationsCsv(lists: readonly MemberRecommendations[]): string {
  const lines = ['user,rank,item,score'];
  for (const list of lists) {
    list.items.forEach((item, rank) => lines.push(csvLine([list.user, String(rank + 1), item, list.scores[rank]!.toFixed(6)])));
  }
  return `${lines.join('\n')}\n`;
}

/** Runs the command; resolves to the process exit code. */
export async function runRecommend(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  const say = (text: string): void => io.stderr(`recommend: ${text}`);
  try {
    const { flags: options, help } = readFlags(
      argv,
      { interactions: 'string', users: 'string', k: 'string', out: 'string', seed: 'string', factors: 'string', iterations: 'string', 'save-model': 'string' },
      { positionals: false },
    );
    if (help) {
      io.stdout(RECOMMEND_USAGE);
      return 0;
    }
    const interactionsFile = required(options.interactions, 'interactions');
    const usersFile = required(options.users, 'users');
    const outFile = required(options.out, 'out');
    const k = positiveInteger(options.k, 'k');
    const seedText = options.seed;
    const seed = seedText === undefined ? 42 : Number(seedText);
    if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got "${seedText}"`);
    const factors = positiveInteger(options.factors, 'factors', 32);
    const iterations = positiveInteger(options.iterations, 'iterations', 10);

    const interactions = parseInteractionsCsv(await readInput(interactionsFile, 'interactions file'), interactionsFile);
    const users = parseUserList(await readInput(usersFile, 'users file'), usersFile);

    const result = await recommendThroughOnnx({
      interactions,
      users,
      k,
      hyperparameters: { seed, factors, iterations },
      onProgress: say,
    });
    if (!result.parity.agreed) {
      say(`warning: the ONNX graph and the trainer disagree for ${result.parity.checked - result.parity.agreeing} members`);
    }
    const unknown = result.unknownUsers.length;
    if (unknown > 0) {
      say(
        `${unknown} of ${users.length} members ${unknown === 1 ? 'is' : 'are'} not in the interactions file and get the most popular items ` +
          `(first: ${result.unknownUsers.slice(0, 3).join(', ')})`,
      );
    }

    const rows = result.lists.reduce((sum, list) => sum + list.items.length, 0);
    const short = result.lists.filter((list) => list.items.length < k).length;
    if (short > 0) say(`${short} member${short === 1 ? ' has' : 's have'} fewer than ${k} items left that they do not already have`);
    try {
      await mkdir(path.dirname(path.resolve(outFile)), { recursive: true });
      await writeFile(outFile, recommendationsCsv(result.lists));
    } catch (error) {
      throw new InputError(`cannot write ${outFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    const saveDir = options['save-model'];
    if (saveDir !== undefined) {
      await mkdir(saveDir, { recursive: true });
      await writeFile(path.join(saveDir, 'recommendations.onnx'), result.recommenderOnnx);
      if (result.similarItemsOnnx) await writeFile(path.join(saveDir, 'similar-books.onnx'), result.similarItemsOnnx);
      const ids = {
        recommendations: RECOMMENDER_TENSORS,
        similarBooks: SIMILAR_ITEMS_TENSORS,
        popularityWeight: result.model.popularityWeight,
        users: result.userIds,
        items: result.itemIds,
      };
      await writeFile(path.join(saveDir, 'ids.json'), `${JSON.stringify(ids, null, 2)}\n`);
      say(`saved the ONNX models and index-to-id maps in ${saveDir}`);
    }
    say(`wrote ${rows} recommendations for ${result.lists.length} members to ${outFile}`);
    return 0;
  } catch (error) {
    if (error instanceof InputError || error instanceof UsageError) {
      say(error.message);
      return 2;
    }
    say(`internal error: ${(error as Error).message ?? String(error)}`);
    return 1;
  }
}

if (require.main === module) {
  void runRecommend(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
