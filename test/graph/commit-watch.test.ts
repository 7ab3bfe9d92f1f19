import { mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { applyEvent, changeSignalFile, parseEvent } from '../../src/circulation';
import { memberOpenLoanFeatures } from '../../src/features/overdue';
import { createLogger } from '../../src/logging';
import { createProcessMetrics } from '../../src/metrics';
import { openStore, type Store } from '../../src/store';
import { tinyLibrary } from '../fixtures/tiny-library';
import { watchCommits } from '../../src/model-runtime/commit-watch';
import { followChanges, type Freshness } from '../../src/model-runtime/follow';
import { openMemos } from '../../src/model-runtime/model-subgraph';

const logger = createLogger('test', 'silent');

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('watching a SQLite store for commits', () => {
  let dir: string;
  let file: string;
  let writer: Store;
  let reader: Store;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-commit-watch-'));
    file = path.join(dir, 'library.db');
    ({ store: writer } = await tinyLibrary(10, 5, file));
    reader = openStore(`sqlite:${file}`);
  });
  afterEach(async () => {
    await reader.close();
    await writer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const register = (store: Store, i: number) =>
    applyEvent(store, parseEvent({ id: `reg-watch-${i}`, type: 'registerMember', at: '2025-06-30T12:00:00Z', name: `Reader ${i}`, email: `reader${i}@example.org`, branchId: '1' }));

  it('wakes on change records committed by another connection, and not on reads or on commits without change records', async () => {
    let wakes = 0;
    const watch = watchCommits(`sqlite:${file}`, () => (wakes += 1), 20, logger);
    expect(watch).toBeDefined();
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const before = wakes;
      await reader.db.selectFrom('members').selectAll().execute();
      // A commit the change feed does not carry, as the prediction log's and the monitor's are.
      await writer.db.updateTable('members').set({ name: 'Renamed' }).where('id', '=', 1).execute();
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(wakes).toBe(before);
      const touched = statSync(changeSignalFile(file)).mtimeMs;
      await new Promise((resolve) => setTimeout(resolve, 20));
      await register(writer, 0);
      await eventually(() => wakes > before);
      expect(statSync(changeSignalFile(file)).mtimeMs).toBeGreaterThan(touched);
    } finally {
      watch?.close();
    }
  });

  it('gathers a flood of commits into at most one wake per gap', async () => {
    let wakes = 0;
    const gapMs = 200;
    const watch = watchCommits(`sqlite:${file}`, () => (wakes += 1), gapMs, logger);
    try {
      const started = performance.now();
      for (let i = 0; i < 50; i += 1) await register(writer, i);
      await eventually(() => wakes > 0);
      await new Promise((resolve) => setTimeout(resolve, gapMs * 2));
      const gaps = (performance.now() - started) / gapMs;
      expect(wakes).toBeGreaterThan(0);
      expect(wakes).toBeLessThanOrEqual(Math.ceil(gaps) + 1);
      expect(wakes).toBeLessThan(50);
    } finally {
      watch?.close();
    }
  });

  it('watches a signal file that a writer replaced', async () => {
    let wakes = 0;
    const watch = watchCommits(`sqlite:${file}`, () => (wakes += 1), 20, logger);
    try {
      renameSync(changeSignalFile(file), `${changeSignalFile(file)}.old`);
      writeFileSync(changeSignalFile(file), '0\n');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const before = wakes;
      await register(writer, 100);
      await eventually(() => wakes > before);
    } finally {
      watch?.close();
    }
  });

  it('is not set up for an in-memory store or PostgreSQL', () => {
    expect(watchCommits(':memory:', () => undefined, 20, logger)).toBeUndefined();
    expect(watchCommits('postgres://127.0.0.1:5432/x', () => undefined, 20, logger)).toBeUndefined();
  });

  it('a follower whose timer would not fire for a minute still sees a checkout written by another connection', async () => {
    const metrics = createProcessMetrics('commit-watch-test');
    const freshness: Freshness = { asOf: '2025-06-30', memos: new Set(), inputs: 0 };
    const memos = openMemos({ store: reader, asOf: freshness.asOf, metrics, memos: freshness.memos }, { openLoans: memberOpenLoanFeatures });
    await memos.openLoans.warm([1]);
    const follower = await followChanges({ store: reader, freshness, config: { clock: 'stored', follow: { intervalMs: 60_000, rankingRefreshMs: 0 } }, logger, metrics, models: ['overdue'] });
    try {
      const applied = await applyEvent(writer, parseEvent({ id: 'co-watch-1', type: 'checkOut', at: '2025-06-30T12:00:00Z', memberId: '1', bookId: '3', branchId: '1' }));
      await eventually(async () => {
        const [open] = await memos.openLoans.load([1]);
        return open?.loans.some((loan) => loan.id === applied.loanId) ?? false;
      });
    } finally {
      await follower.stop();
    }
  });
});
