import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { plantedTasteLibrary } from '../../ml/recommender/synthetic';
import { runRecommend } from '../recommend';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shelfmark-recommend-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function run(args: string[]): Promise<{ code: number; stderr: string[]; stdout: string[] }> {
  const stderr: string[] = [];
  const stdout: string[] = [];
  const code = await runRecommend(args, { stderr: (t) => stderr.push(t), stdout: (t) => stdout.push(t) });
  return { code, stderr, stdout };
}

const library = plantedTasteLibrary({ members: 80, books: 60, genres: 4, loansPerMember: 8, noise: 0.2, seed: 4 });
const interactionsCsv = ['user,item,weight', ...library.interactions.map((i) => `m${i.userIndex},isbn-${i.itemIndex},${i.weight}`)].join('\n');
const loansOf = (member: string): Set<string> =>
  new Set(library.interactions.filter((i) => `m${i.userIndex}` === member).map((i) => `isbn-${i.itemIndex}`));

describe('npm run recommend', () => {
  it('trains, runs top-k through ONNX and writes user,rank,item,score', async () => {
    const interactions = file('loans.csv', interactionsCsv);
    const users = file('users.txt', 'm0\nm1\nstranger\nm2\n\nnewcomer\n');
    const out = join(dir, 'out', 'recs.csv');
    const { code, stderr } = await run(['--interactions', interactions, '--users', users, '--k', '5', '--out', out, '--seed', '7']);
    expect(code).toBe(0);
    const [header, ...rows] = readFileSync(out, 'utf8').trim().split('\n');
    expect(header).toBe('user,rank,item,score');
    const byUser = new Map<string, Array<{ rank: number; item: string; score: number }>>();
    for (const row of rows) {
      const [user, rank, item, score] = row.split(',');
      byUser.set(user!, [...(byUser.get(user!) ?? []), { rank: Number(rank), item: item!, score: Number(score) }]);
    }
    expect([...byUser.keys()]).toEqual(['m0', 'm1', 'stranger', 'm2', 'newcomer']);
    for (const [user, list] of byUser) {
      expect(list.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5]);
      for (let r = 1; r < list.length; r++) expect(list[r]!.score).toBeLessThanOrEqual(list[r - 1]!.score);
      const loans = loansOf(user);
      expect(list.filter((r) => loans.has(r.item))).toEqual([]);
    }
    // Unknown members get the same popular list, and the count is said on stderr.
    expect(byUser.get('stranger')!.map((r) => r.item)).toEqual(byUser.get('newcomer')!.map((r) => r.item));
    expect(stderr.some((line) => line.includes('2 of 5 members are not in the interactions file'))).toBe(true);
    expect(stderr.some((line) => /parity: ONNX top-5 equals the trainer's/.test(line))).toBe(true);

    // Same seed, same output.
    const again = join(dir, 'again.csv');
    expect((await run(['--interactions', interactions, '--users', users, '--k', '5', '--out', again, '--seed', '7'])).code).toBe(0);
    expect(readFileSync(again, 'utf8')).toBe(readFileSync(out, 'utf8'));
  });

  const users = (): string => file('few-users.txt', 'm0\n');
  const expectBadInput = async (args: string[], message: string | RegExp): Promise<void> => {
    const { code, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(message);
    expect(stderr[0]).not.toMatch(/\n\s+at /);
  };

  it('explains a missing column with the header it found, exit code 2', async () => {
    const interactions = file('no-weight.csv', 'user,item\nm0,b1\n');
    await expectBadInput(
      ['--interactions', interactions, '--users', users(), '--k', '3', '--out', join(dir, 'x.csv')],
      /no-weight\.csv line 1: missing column weight \(header found: user,item; expected user,item,weight\)$/,
    );
  });

  it('gives the line number of a non-numeric weight, exit code 2', async () => {
    const interactions = file('bad-weight.csv', 'user,item,weight\nm0,b1,1\nm0,b2,1\nm1,b1,two\n');
    await expectBadInput(['--interactions', interactions, '--users', users(), '--k', '3', '--out', join(dir, 'x.csv')], /bad-weight\.csv line 4: weight "two" is not a number$/);
  });

  it('explains an empty file, exit code 2', async () => {
    const interactions = file('empty.csv', '');
    await expectBadInput(['--interactions', interactions, '--users', users(), '--k', '3', '--out', join(dir, 'x.csv')], /empty\.csv is empty: expected a header row/);
  });

  it('refuses bad options and missing files with one line, exit code 2', async () => {
    const interactions = file('ok.csv', interactionsCsv);
    await expectBadInput(['--interactions', interactions, '--users', users(), '--k', 'ten', '--out', join(dir, 'x.csv')], '--k must be a positive integer, got "ten"');
    await expectBadInput(['--interactions', interactions, '--users', users(), '--k', '3'], 'missing --out (see --help)');
    await expectBadInput(['--interactions', join(dir, 'nope.csv'), '--users', users(), '--k', '3', '--out', join(dir, 'x.csv')], /cannot read interactions file .*nope\.csv: no such file/);
    await expectBadInput(['--colour', 'blue'], 'unknown option --colour');
  });

  it('prints usage for --help', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout.join('\n')).toMatch(/^Usage: npm run recommend -- --interactions CSV --users TXT --k N --out CSV/);
  });
});
