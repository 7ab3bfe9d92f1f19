/**
 * The library after its generated window: the same seed and days send the same events byte for
 * byte; living 3 days then 2 more equals 5 at once, table for table; every event goes through
 * the write path (one `events` row each); the drift knobs change what happens from their day on.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateLibrary, liveOn, parseShift, type LivingOptions } from '..';
import { openMigratedStore } from '../../store';
import { churnHoldout, overdueHoldout } from '../../evaluation/classifier-holdout';
import { tableHashes } from './table-hash';

function correlation(pairs: readonly (readonly [number, number])[]): number {
  const mean = (k: 0 | 1) => pairs.reduce((sum, p) => sum + p[k], 0) / pairs.length;
  const [mx, my] = [mean(0), mean(1)];
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

let dir: string;
let generated: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-living-'));
  generated = path.join(dir, 'generated.db');
  await generateLibrary({ db: generated, seed: 3, members: 300 });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function live(name: string, runs: Omit<LivingOptions, 'onEvent'>[]): Promise<{ file: string; events: string[] }> {
  const file = path.join(dir, `${name}.db`);
  copyFileSync(generated, file);
  const events: string[] = [];
  const store = await openMigratedStore(`sqlite:${file}`);
  try {
    for (const run of runs) {
      events.length = 0;
      await liveOn(store, { ...run, onEvent: (line) => events.push(line) });
    }
  } finally {
    await store.close();
  }
  return { file, events };
}

const SHIFTS = ['cohort=15:teen@2', 'reliability=0.4@3', 'genre=Fantasy*4@1'].map(parseShift);

describe('liveOn', () => {
  it('sends the same events for the same seed and days, and 3 days then 2 equal 5 at once', async () => {
    const once = await live('once', [{ days: 5, shifts: SHIFTS }]);
    const again = await live('again', [{ days: 5, shifts: SHIFTS }]);
    const split = await live('split', [{ days: 3, shifts: SHIFTS }, { days: 2, shifts: SHIFTS }]);
    expect(once.events.length).toBeGreaterThan(50);
    expect(again.events.join('\n')).toBe(once.events.join('\n'));
    expect(split.events.join('\n')).toBe(once.events.join('\n'));
    expect(await tableHashes(`sqlite:${split.file}`)).toEqual(await tableHashes(`sqlite:${once.file}`));
    const other = await live('other-seed', [{ days: 5, shifts: SHIFTS, seed: 99 }]);
    expect(other.events.join('\n')).not.toBe(once.events.join('\n'));
  }, 120_000);

  it('writes every event through the write path and the truth beside it; the knobs take effect on their day', async () => {
    const { file, events } = await live('knobs', [{ days: 4, shifts: SHIFTS }]);
    const store = await openMigratedStore(`sqlite:${file}`);
    try {
      const stored = await store.db.selectFrom('events').select(['id', 'type']).execute();
      expect(stored).toHaveLength(events.length);
      expect(stored.filter((e) => e.type === 'advanceClock')).toHaveLength(4);
      const joined = await store.db.selectFrom('members').select('joined_at').where('id', '>', 300).execute();
      expect(joined).toHaveLength(15);
      expect(new Set(joined.map((m) => m.joined_at))).toEqual(new Set(['2025-01-02']));
      expect((await store.db.selectFrom('sim_member_truth').select('profile').where('member_id', '>', 300).execute()).every((m) => m.profile === 'teen')).toBe(true);
      const newLoans = await store.db.selectFrom('loans').select('id').where('checked_out_at', '>', '2024-12-31').execute();
      const truth = await store.db.selectFrom('sim_loan_truth').select('loan_id').where('loan_id', 'in', newLoans.map((l) => l.id)).execute();
      expect(truth).toHaveLength(newLoans.length);
      expect((await store.db.selectFrom('meta').select('value').where('key', '=', 'as_of').executeTakeFirst())?.value).toBe('2025-01-04');
      const reliability = async (db: string) => {
        const other = await openMigratedStore(`sqlite:${db}`);
        try {
          return (await other.db.selectFrom('sim_member_truth').select('reliability').where('member_id', '=', 1).executeTakeFirstOrThrow()).reliability;
        } finally {
          await other.close();
        }
      };
      expect(await reliability(file)).toBeCloseTo(0.6 * (await reliability(generated)), 12);
      // Loans still out when reliability falls (day 3) and due from then on take the new, higher late probability; settled ones keep theirs.
      const before = await openMigratedStore(`sqlite:${generated}`);
      const generatedTruth = new Map<number, number>();
      try {
        for (const r of await before.db.selectFrom('sim_loan_truth').select(['loan_id', 'late_probability']).execute()) generatedTruth.set(r.loan_id, r.late_probability);
      } finally {
        await before.close();
      }
      const loansAfter = await store.db.selectFrom('loans').select(['id', 'returned_at', 'due_at']).where('checked_out_at', '<=', '2024-12-31').execute();
      const outAtShift = loansAfter.filter((l) => (l.returned_at === null || l.returned_at >= '2025-01-03') && l.due_at >= '2025-01-03');
      const settledBefore = loansAfter.filter((l) => l.returned_at !== null && l.returned_at <= '2024-12-31').map((l) => ({ id: l.id, late_probability: generatedTruth.get(l.id) }));
      const lived = new Map((await store.db.selectFrom('sim_loan_truth').select(['loan_id', 'late_probability']).execute()).map((r) => [r.loan_id, r.late_probability]));
      expect(outAtShift.length).toBeGreaterThan(50);
      expect(outAtShift.every((l) => (lived.get(l.id) ?? 0) > (generatedTruth.get(l.id) ?? 1))).toBe(true);
      expect(settledBefore.every((l) => lived.get(l.id) === l.late_probability)).toBe(true);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('stores the churn truth at the cut-off each day closes, so the held-out oracle follows the clock', async () => {
    const { file } = await live('churn-truth', [{ days: 4 }]);
    const store = await openMigratedStore(`sqlite:${file}`);
    try {
      const cutoffs = ['2024-10-03', '2024-10-04', '2024-10-05', '2024-10-06'];
      const byCutoff = await store.db.selectFrom('sim_churn_truth').select(['cutoff', (eb) => eb.fn.countAll<number>().as('n')]).where('cutoff', '>', '2024-10-02').where('cutoff', '<', '2024-12-31').groupBy('cutoff').orderBy('cutoff').execute();
      const joinedBy = async (day: string) => Number((await store.db.selectFrom('members').select((eb) => eb.fn.countAll<number>().as('n')).where('joined_at', '<=', day).executeTakeFirstOrThrow()).n);
      expect(byCutoff.map((r) => [r.cutoff, Number(r.n)])).toEqual(await Promise.all(cutoffs.map(async (c) => [c, await joinedBy(c)])));
      const meta = await store.db.selectFrom('meta').select('value').where('key', '=', 'churn_cutoffs').executeTakeFirstOrThrow();
      expect(JSON.parse(meta.value)).toEqual(expect.arrayContaining(cutoffs));
      // One day after a cut-off generation stored, the oracle barely moves: the same members, the same causes.
      const at = async (cutoff: string) => new Map((await store.db.selectFrom('sim_churn_truth').select(['member_id', 'probability']).where('cutoff', '=', cutoff).execute()).map((r) => [r.member_id, r.probability]));
      const [generatedDay, livedDay] = await Promise.all([at('2024-10-02'), at('2024-10-03')]);
      const pairs = [...generatedDay].filter(([id]) => livedDay.has(id)).map(([id, p]) => [p, livedDay.get(id)!] as const);
      expect(pairs.length).toBeGreaterThan(250);
      expect(pairs.every(([, p]) => p >= 0 && p <= 1)).toBe(true);
      expect(correlation(pairs)).toBeGreaterThan(0.95);
      // The held-out windows at the new clock (2025-01-04) find the truth for every row.
      expect((await churnHoldout(store)).oracle).toBeDefined();
      expect((await overdueHoldout(store)).oracle).toBeDefined();
    } finally {
      await store.close();
    }
  }, 120_000);

  it('refuses a shift it cannot read, saying what it expected', () => {
    expect(() => parseShift('reliability=2@3')).toThrow(/between 0 and 1/);
    expect(() => parseShift('genre=Cooking*2@3')).toThrow(/unknown genre "Cooking"/);
    expect(() => parseShift('cohort=10:pirate@3')).toThrow(/PROFILE must be one of/);
    expect(() => parseShift('weather=rain@3')).toThrow(/unknown shift "weather"/);
    expect(() => parseShift('reliability=0.2')).toThrow(/expected NAME=VALUE@DAY/);
  });
});
