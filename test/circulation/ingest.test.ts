/**
 * `npm run ingest` as a process (dist/, so build first) on a tiny store: a small NDJSON file and
 * a Koha statistics export, each bad line reported with its line number and reason; and a run
 * killed with SIGKILL mid-stream, then re-run, ending with every table identical (row counts and
 * a checksum of every row) to an uninterrupted run.
 */
import { fork, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openStore } from '../../src/store';
import { addDays } from '../../src/util/dates';
import { tableHashes } from '../../src/simulator/__tests__/table-hash';
import { tinyLibrary } from '../fixtures/tiny-library';

const INGEST = path.join(__dirname, '..', '..', 'dist', 'src', 'cli', 'ingest.js');

let dir: string;
let pristine: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-ingest-'));
  pristine = path.join(dir, 'pristine.db');
  const { store } = await tinyLibrary(60, 30, pristine);
  await store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function freshCopy(name: string): string {
  const file = path.join(dir, name);
  copyFileSync(pristine, file);
  return file;
}

function ingest(args: string[]) {
  const result = spawnSync(process.execPath, [INGEST, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, CLOCK: 'stored' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function rowCount(db: string, table: 'loans' | 'events' | 'changes'): Promise<number> {
  const store = openStore(`sqlite:${db}`, { readonly: true });
  try {
    const row = await store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  } finally {
    await store.close();
  }
}

describe('npm run ingest', () => {
  it('applies a small NDJSON file, reports each bad line with its reason, and a re-run applies nothing new', async () => {
    const db = freshCopy('small.db');
    const file = path.join(dir, 'small.ndjson');
    writeFileSync(file, [
      '{"id":"s1","type":"checkOut","at":"2025-07-01","memberId":"1","bookId":"2","branchId":"1"}',
      '{"id":"s2","type":"checkOut","at":"2025-07-01","memberId":"999","bookId":"2","branchId":"1"}',
      '',
      '{"id":"s3","type":"returnLoan","at":"2025-07-02","memberId":"1","bookId":"2"}',
      '{"id":"s4","type":"returnLoan","at":"2025-07-02","loanId":"1"}',
      '{"id":"s5","type":"checkOut","at":"2025-06-01","memberId":"1","bookId":"2","branchId":"1"}',
      '{"id":"s1","type":"checkOut","at":"2025-07-01","memberId":"1","bookId":"3","branchId":"1"}',
      'not json at all',
      '{"id":"s6","type":"advanceClock","to":"2025-07-03"}',
    ].join('\n'));
    const first = ingest(['--events', file, '--db', db, '--json', '--batch', '2']);
    expect(first.status).toBe(1);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ lines: 9, applied: 3, duplicates: 0, refused: 5 });
    expect(summary.errors.map((e: { line: number; reason: string }) => [e.line, e.reason])).toEqual([
      [2, 'UNKNOWN_MEMBER'], [5, 'LOAN_ALREADY_RETURNED'], [6, 'BEFORE_CLOCK'], [7, 'EVENT_CONFLICT'], [8, 'MALFORMED'],
    ]);
    expect(first.stderr).toContain(`${file}:2: event s2 (checkOut): no member with id 999 [UNKNOWN_MEMBER]`);
    const loansAfterFirst = await rowCount(db, 'loans');
    const again = JSON.parse(ingest(['--events', file, '--db', db, '--json']).stdout);
    expect(again).toMatchObject({ applied: 0, duplicates: 3, refused: 5 });
    expect(await rowCount(db, 'loans')).toBe(loansAfterFirst);
  });

  it('reads a Koha statistics export: issue, renew and return of the borrower\'s loan, other types skipped', async () => {
    const db = freshCopy('koha.db');
    const file = path.join(dir, 'statistics.csv');
    writeFileSync(file, [
      'datetime,branch,value,type,other,itemnumber,itemtype,borrowernumber,ccode',
      '2025-07-01 10:15:00,CENTRAL,0,issue,,5,BK,7,FIC',
      '2025-07-01 11:00:00,Riverside,0,localuse,,6,BK,,FIC',
      '2025-07-08 09:00:00,CENTRAL,0,renew,,5,BK,7,FIC',
      '2025-07-20 16:45:00,CENTRAL,0,return,,5,BK,7,FIC',
      '2025-07-21 09:00:00,NOWHERE,0,issue,,5,BK,7,FIC',
      '2025-07-21 09:05:00,2,0,issue,,999,BK,7,FIC',
    ].join('\n'));
    const run = ingest(['--events', file, '--format', 'koha-statistics', '--db', db, '--json']);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ applied: 3, skipped: 1, refused: 2 });
    expect(summary.errors.map((e: { line: number; reason: string }) => [e.line, e.reason])).toEqual([[6, 'UNKNOWN_BRANCH'], [7, 'UNKNOWN_BOOK']]);
    const store = openStore(`sqlite:${db}`, { readonly: true });
    try {
      const loan = await store.db.selectFrom('loans').selectAll().where('member_id', '=', 7).where('checked_out_at', '=', '2025-07-01').executeTakeFirstOrThrow();
      expect(loan).toMatchObject({ book_id: 5, branch_id: 1, renewals: 1, due_at: '2025-07-29', returned_at: '2025-07-20' });
      const ids = (await store.db.selectFrom('events').select('id').execute()).map((e) => e.id);
      expect(ids.every((id) => /^koha:[0-9a-f]{32}$/.test(id))).toBe(true);
    } finally {
      await store.close();
    }
    expect(JSON.parse(ingest(['--events', file, '--format', 'koha-statistics', '--db', db, '--json']).stdout)).toMatchObject({ applied: 0, duplicates: 3 });
  });

  it('maps Koha item numbers to books through --items', async () => {
    const db = freshCopy('koha-items.db');
    const items = path.join(dir, 'items.csv');
    writeFileSync(items, 'itemnumber,book_id\n9001,5\n9002,6\n');
    const file = path.join(dir, 'statistics-items.csv');
    writeFileSync(file, 'datetime,branch,type,itemnumber,borrowernumber,itemtype,ccode\n2025-07-01 10:00:00,1,issue,9002,8,BK,FIC\n2025-07-01 10:01:00,1,issue,9003,8,BK,FIC\n');
    const summary = JSON.parse(ingest(['--events', file, '--format', 'koha-statistics', '--items', items, '--db', db, '--json']).stdout);
    expect(summary).toMatchObject({ applied: 1, refused: 1 });
    expect(summary.errors[0]).toMatchObject({ line: 3, reason: 'UNKNOWN_BOOK' });
    const store = openStore(`sqlite:${db}`, { readonly: true });
    try {
      expect(await store.db.selectFrom('loans').select('book_id').where('member_id', '=', 8).where('checked_out_at', '=', '2025-07-01').execute()).toEqual([{ book_id: 6 }]);
    } finally {
      await store.close();
    }
  });

  it('refuses bad flags with exit status 2 and the usage', () => {
    const run = ingest(['--events', path.join(dir, 'missing.ndjson')]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('no such file');
    expect(ingest(['--events', pristine, '--format', 'csv']).stderr).toContain('--format must be one of ndjson, koha-statistics');
  });

  it('after SIGKILL mid-stream, a re-run ends with tables identical to an uninterrupted run', async () => {
    const file = path.join(dir, 'long.ndjson');
    const lines: string[] = [];
    for (let k = 0; k < 4000; k++) {
      const day = addDays('2025-07-01', Math.floor(k / 400));
      const memberId = String((k % 60) + 1);
      const bookId = String((k % 30) + 1);
      lines.push(JSON.stringify({ id: `c${k}`, type: 'checkOut', at: day, memberId, bookId, branchId: String((k % 2) + 1) }));
      if (k % 3 === 0) lines.push(JSON.stringify({ id: `r${k}`, type: 'returnLoan', at: day, memberId, bookId }));
      if (k % 7 === 0) lines.push(JSON.stringify({ id: `x${k}`, type: 'checkOut', at: day, memberId: '9999', bookId, branchId: '1' }));
    }
    writeFileSync(file, `${lines.join('\n')}\n`);

    const uninterrupted = freshCopy('uninterrupted.db');
    expect(ingest(['--events', file, '--db', uninterrupted, '--batch', '50']).status).toBe(1);
    const total = await rowCount(uninterrupted, 'events');

    const crashed = freshCopy('crashed.db');
    const child = fork(INGEST, ['--events', file, '--db', crashed, '--batch', '50'], { stdio: 'ignore', env: { ...process.env, CLOCK: 'stored' } });
    let seen = 0;
    while (seen < total / 4) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      seen = await rowCount(crashed, 'events');
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const atCrash = await rowCount(crashed, 'events');
    expect(atCrash).toBeLessThan(total);

    const rerun = ingest(['--events', file, '--db', crashed, '--batch', '50', '--json']);
    expect(JSON.parse(rerun.stdout).duplicates).toBe(atCrash);
    expect(await tableHashes(`sqlite:${crashed}`)).toEqual(await tableHashes(`sqlite:${uninterrupted}`));
    for (const table of ['loans', 'events', 'changes'] as const) expect(await rowCount(crashed, table)).toBe(await rowCount(uninterrupted, table));
  }, 180_000);
});
