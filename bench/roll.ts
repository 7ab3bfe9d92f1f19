/**
 * What one daily roll of a model subgraph's memos costs, in process: for each memo source, two
 * memos hold every member of the library at its clock, then roll forward `--rolls` times by
 * `--step` days, the two arms alternating on the same load. `recompute` computes every held member
 * again (the roll before carries existed), `carry` computes only the members with a checkout or a
 * return in between and carries the others (MemoCarry). Prints the CPU seconds of each roll (this
 * process, user + system) and how many members' rolled values differ from a fresh computation at
 * the last day (goal 0). `--from DAY` starts at an earlier day than the clock (on a library that
 * lived on, so that the rolls meet the members active on those days).
 *
 *   node dist/bench/roll.js --db PATH [--memos memberActivity,openLoans,borrowingHistory] [--rolls 2] [--step 1] [--from DAY] [--json]
 */
import 'reflect-metadata';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { readClock } from '../src/circulation';
import { parseFlags } from '../src/cli/flags';
import { AsOfMemo, memoCarry, memoCompute, SlicePacer, type MemoSource } from '../src/model-runtime/as-of-memo';
import { membersActiveBetween } from '../src/model-runtime/follow';
import { CHURN_MEMOS } from '../src/models/churn';
import { OVERDUE_MEMOS } from '../src/models/overdue';
import { RECOMMENDATIONS_MEMOS } from '../src/models/recommendations';
import { openStore } from '../src/store';
import { addDays } from '../src/util/dates';

const USAGE = 'node dist/bench/roll.js --db PATH [--memos memberActivity,openLoans,borrowingHistory] [--rolls 2] [--step 1] [--from DAY] [--json]';
const SOURCES: Record<string, MemoSource<unknown>> = { ...CHURN_MEMOS, ...OVERDUE_MEMOS, ...RECOMMENDATIONS_MEMOS };
const ARMS = ['recompute', 'carry'] as const;

async function cpuSeconds(work: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { db: 'string', memos: 'string', rolls: 'number', step: 'number', from: 'string', json: 'boolean' }, USAGE);
  if (!flags.db) throw new Error(`--db is required\n${USAGE}`);
  const names = (flags.memos ?? Object.keys(SOURCES).join(',')).split(',').map((s) => s.trim());
  for (const name of names) if (!SOURCES[name]) throw new Error(`--memos: "${name}" is not one of ${Object.keys(SOURCES).join(', ')}\n${USAGE}`);
  const store = openStore(`sqlite:${path.resolve(flags.db)}`, { readonly: true, cacheSizeKb: 4096 });
  const results = [];
  try {
    const start = flags.from ?? (await readClock(store));
    const ids = (await store.db.selectFrom('members').select('id').execute()).map((r) => r.id);
    for (const name of names) {
      const source = SOURCES[name]!;
      const compute = memoCompute(source);
      const memos = Object.fromEntries(
        ARMS.map((arm) => [arm, new AsOfMemo<unknown>((batch, asOf) => compute(store, batch, asOf), start, undefined, name, new SlicePacer(), arm === 'carry' ? { carry: memoCarry(source) } : {})]),
      ) as Record<(typeof ARMS)[number], AsOfMemo<unknown>>;
      for (const arm of ARMS) await memos[arm].warm(ids);
      const rollCpuS: Record<string, number[]> = { recompute: [], carry: [] };
      let day = start;
      for (let k = 0; k < (flags.rolls ?? 2); k++) {
        const from = day;
        day = addDays(day, flags.step ?? 1);
        for (const arm of ARMS) {
          let commit = (): void => undefined;
          rollCpuS[arm]!.push(await cpuSeconds(async () => {
            commit = await memos[arm].prepare(day, await membersActiveBetween(store, from, day));
          }));
          commit();
        }
      }
      const fresh = await compute(store, ids, day);
      const rolled = await Promise.all(ARMS.map((arm) => memos[arm].load(ids)));
      const differ = rolled.map((values) => ids.filter((id, i) => !isDeepStrictEqual(values[i], fresh.get(id))).length);
      const result = { memo: name, members: memos.carry.size, from: start, to: day, rollCpuS, differFromFresh: Object.fromEntries(ARMS.map((arm, i) => [arm, differ[i]])) };
      results.push(result);
      if (!flags.json) process.stdout.write(`${name}: ${result.members} members, roll CPU s recompute ${rollCpuS.recompute!.map((s) => s.toFixed(2)).join(', ')} | carry ${rollCpuS.carry!.map((s) => s.toFixed(2)).join(', ')}; differing from fresh: ${JSON.stringify(result.differFromFresh)}\n`);
    }
  } finally {
    await store.close();
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(results)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
