import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { openStore, readAsOf, readMeta } from '../../store';
import { generateLibrary, libraryTables, simulateLibrary, TargetExistsError, type GenerationProgress, type GenerationSummary } from '..';
import { resolveTarget, temporaryFileFor, writeTables } from '../writer';
import { tableHashes } from './table-hash';

const MEMBERS = 300;

describe('generateLibrary on SQLite', () => {
  let dir: string;
  let first: GenerationSummary;
  const progress: GenerationProgress[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-simulator-'));
    first = await generateLibrary({ db: path.join(dir, 'seed1.db'), seed: 1, members: MEMBERS }, (p) => progress.push(p));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every table, with one truth row per loan and per member', () => {
    const counts = first.rowCounts;
    expect(counts.members).toBe(MEMBERS);
    expect(counts.books).toBe(10_000);
    expect(counts.branches).toBeGreaterThanOrEqual(6);
    expect(counts.loans).toBeGreaterThan(MEMBERS * 20);
    expect(counts.sim_loan_truth).toBe(counts.loans);
    expect(counts.sim_member_truth).toBe(MEMBERS);
    expect(counts.sim_churn_truth).toBeGreaterThan(MEMBERS * 2);
    expect(progress.map((p) => p.phase)).toEqual(expect.arrayContaining(['catalogue', 'members', 'borrowing', 'churn', 'write', 'indexes', 'done']));
  });

  it('records the as-of day (the last simulated day), the seed and the size, and nothing from the clock', async () => {
    const store = openStore(`sqlite:${path.join(dir, 'seed1.db')}`, { readonly: true });
    try {
      expect(await readAsOf(store)).toBe('2024-12-31');
      const meta = await readMeta(store);
      expect(meta).toMatchObject({ seed: '1', members: String(MEMBERS), window_start: '2022-01-01' });
      expect(JSON.parse(meta.churn_cutoffs!)).toEqual(['2024-07-04', '2024-10-02', '2024-12-31']);
      const last = await store.db.selectFrom('loans').select((eb) => eb.fn.max('checked_out_at').as('last')).executeTakeFirstOrThrow();
      expect(last.last).toBe('2024-12-31');
    } finally {
      await store.close();
    }
  });

  it('gives identical tables for the same seed and different ones for another seed', async () => {
    await generateLibrary({ db: path.join(dir, 'seed1-again.db'), seed: 1, members: MEMBERS });
    await generateLibrary({ db: path.join(dir, 'seed2.db'), seed: 2, members: MEMBERS });
    const a = await tableHashes(`sqlite:${path.join(dir, 'seed1.db')}`);
    const b = await tableHashes(`sqlite:${path.join(dir, 'seed1-again.db')}`);
    const c = await tableHashes(`sqlite:${path.join(dir, 'seed2.db')}`);
    expect(b).toEqual(a);
    for (const table of ['members', 'loans', 'sim_loan_truth', 'sim_member_truth', 'sim_churn_truth'] as const) expect(c[table]).not.toBe(a[table]);
    expect(c.books).toBe(a.books);
  });

  it('writes, a chunk of members at a time with loans spilled to disk, the tables of the library simulated whole in memory', async () => {
    // 120 members in chunks of 50: three chunks, the last one short; loans sorted back from the spill's files.
    const chunked = path.join(dir, 'chunked.db');
    await generateLibrary({ db: chunked, seed: 3, members: 120, memberChunk: 50 });
    const whole = path.join(dir, 'whole.db');
    await writeTables(resolveTarget(whole), false, libraryTables(simulateLibrary({ seed: 3, members: 120 })));
    expect(await tableHashes(`sqlite:${chunked}`)).toEqual(await tableHashes(`sqlite:${whole}`));
    expect(readdirSync(dir).filter((f) => f.includes('-loans'))).toEqual([]);
  });

  it('stores what the summary reports: overdue shares recomputed in SQL match', async () => {
    const store = openStore(`sqlite:${path.join(dir, 'seed1.db')}`, { readonly: true });
    try {
      const rows = await sql<{ collection: string; matured: number; overdue: number }>`
        select b.collection, count(*) as matured,
               sum(case when l.returned_at is null or l.returned_at > l.due_at then 1 else 0 end) as overdue
        from loans l join books b on b.id = l.book_id
        where l.due_at < '2024-12-31' group by b.collection`.execute(store.db);
      for (const row of rows.rows) {
        const reported = first.overdueByCollection.find((r) => r.collection === row.collection)!;
        expect(reported.matured).toBe(row.matured);
        expect(reported.overdue).toBe(row.overdue);
      }
    } finally {
      await store.close();
    }
  });

  it('refuses to overwrite an existing database unless forced', async () => {
    const target = path.join(dir, 'seed1.db');
    await expect(generateLibrary({ db: target, seed: 3, members: 50 })).rejects.toThrow(TargetExistsError);
    const existing = path.join(dir, 'not-a-library.db');
    writeFileSync(existing, 'precious');
    await expect(generateLibrary({ db: existing, members: 50 })).rejects.toThrow(/--force/);

    const before = await tableHashes(`sqlite:${target}`);
    const replaced = await generateLibrary({ db: target, seed: 3, members: 50, force: true });
    expect(replaced.rowCounts.members).toBe(50);
    expect((await tableHashes(`sqlite:${target}`)).members).not.toBe(before.members);
    expect(readdirSync(dir).filter((f) => f.includes('-tmp-'))).toEqual([]);
  });

  it('leaves neither a half-built database nor its temporary file when loading fails', async () => {
    const target = path.join(dir, 'broken.db');
    const failing = {
      table: 'branches' as const,
      count: 10,
      row: (i: number) => {
        if (i === 5) throw new Error('disk on fire');
        return { id: i + 1, name: `Branch ${i}`, size: 0.1 };
      },
    };
    await expect(writeTables(resolveTarget(target), false, [failing])).rejects.toThrow('disk on fire');
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('broken.db'))).toEqual([]);
  });

  it('removes the temporary file an interrupted run left behind', async () => {
    const target = path.join(dir, 'interrupted.db');
    const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
    const leftover = temporaryFileFor(target, deadPid);
    writeFileSync(leftover, 'half a database');
    await generateLibrary({ db: target, members: 20 });
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(target)).toBe(true);
  });

  it('rejects sizes and dates it cannot simulate', async () => {
    await expect(generateLibrary({ db: path.join(dir, 'x.db'), members: 0 })).rejects.toThrow(/members/);
    await expect(generateLibrary({ db: path.join(dir, 'x.db'), asOf: '2024-02-30' })).rejects.toThrow(/asOf/);
    await expect(generateLibrary({ db: path.join(dir, 'x.db'), seed: -1 })).rejects.toThrow(/seed/);
  });
});
