/**
 * The SQLite writer's two helpers: prepared statements reused by SQL text (never a busy one),
 * and WAL checkpoints run by a worker thread, with the writer's own checkpoints restored when
 * the worker fails.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import SqliteDatabase from 'better-sqlite3';
import { startCheckpointer } from '../checkpointer';
import { withStatementCache } from '../statement-cache';

let dir: string;
let file: string;
let sqlite: SqliteDatabase.Database;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-sqlite-writer-'));
  file = path.join(dir, 'store.db');
  sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.exec('create table t (id integer primary key, v text)');
});
afterEach(() => {
  if (sqlite.open) sqlite.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('withStatementCache', () => {
  it('hands back the statement prepared before for the same SQL, and keeps at most `capacity`', () => {
    const cached = withStatementCache(sqlite, 2);
    const first = cached.prepare('select 1');
    expect(cached.prepare('select 1')).toBe(first);
    cached.prepare('select 2');
    cached.prepare('select 3');
    expect(cached.prepare('select 1')).not.toBe(first);
    expect(() => withStatementCache(sqlite, 0)).toThrow(/positive integer/);
  });

  it('prepares a fresh statement while the cached one is still being iterated', () => {
    sqlite.exec("insert into t (v) values ('a'), ('b')");
    const cached = withStatementCache(sqlite);
    const streaming = cached.prepare('select v from t order by id');
    const rows = streaming.iterate([]);
    rows.next();
    const other = cached.prepare('select v from t order by id');
    expect(other).not.toBe(streaming);
    expect(other.all([])).toEqual([{ v: 'a' }, { v: 'b' }]);
    rows.return?.();
  });
});

describe('startCheckpointer', () => {
  it('turns the writer\'s own checkpoints off and copies the whole WAL back from its worker', async () => {
    const checkpointer = startCheckpointer(sqlite, file, { intervalMs: 60_000 });
    expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const sizeBefore = statSync(file).size;
    const insert = sqlite.prepare('insert into t (v) values (?)');
    for (let i = 0; i < 3000; i++) insert.run(`row ${i}`);
    // The writes are in the WAL only: the writer did not checkpoint them itself.
    expect(statSync(file).size).toBe(sizeBefore);
    await checkpointer.stop();
    expect(statSync(file).size).toBeGreaterThan(sizeBefore + 8 * 4096);
    const reader = new SqliteDatabase(file, { readonly: true });
    expect(reader.prepare('select count(*) as n from t').get()).toEqual({ n: 3000 });
    reader.close();
  });

  it('gives the writer its own checkpoints back when the worker fails', async () => {
    const failed = new Promise<Error>((resolve) => {
      startCheckpointer(sqlite, path.join(dir, 'missing', 'store.db'), { intervalMs: 10, onError: resolve });
    });
    expect((await failed).message).toMatch(/directory does not exist|unable to open/);
    expect(sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
  });
});
