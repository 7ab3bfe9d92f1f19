/**
 * `kill -9` of a process writing the prediction log: everything it reported written is still
 * in the store, it lost at most its queue's bound, and the loss shows as missing sequence
 * numbers. The writer is kill-writer.ts, bundled with esbuild so that it runs without a build.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import SqliteDatabase from 'better-sqlite3';
import { buildSync } from 'esbuild';
import { Kysely, SqliteDialect } from 'kysely';
import { sequenceGaps } from '../prediction-log';
import { predictionLogLosses, storedSequences } from '../prediction-log-store';

const ROOT = path.resolve(__dirname, '../../..');
const CAPACITY = 2_000;
const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the writer, waits until it reports `atLeast` records written, kills it with SIGKILL. */
function runAndKill(file: string, atLeast: number): Promise<{ reportedWritten: number; signal: NodeJS.Signals | null }> {
  const script = path.join(dir, 'kill-writer.js');
  buildSync({ entryPoints: [path.join(__dirname, 'kill-writer.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: script, external: ['better-sqlite3'], logLevel: 'error' });
  const child = spawn(process.execPath, [script, file, String(CAPACITY)], { env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') }, stdio: ['ignore', 'pipe', 'inherit'] });
  let reportedWritten = 0;
  let buffered = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const match = /^written (\d+)$/.exec(line);
        if (match) reportedWritten = Number(match[1]);
      }
      if (reportedWritten >= atLeast && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => resolve({ reportedWritten, signal }));
  });
}

describe('a prediction-log writer killed with SIGKILL', () => {
  it('keeps every record it wrote, loses at most its queue bound, and the loss shows', async () => {
    const file = path.join(dir, 'log.db');
    const { reportedWritten, signal } = await runAndKill(file, 2_000);
    expect(signal).toBe('SIGKILL');
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(file) }) });
    try {
      const [losses] = await predictionLogLosses(db);
      expect(losses).toBeDefined();
      if (!losses) return;
      expect(losses.stored).toBeGreaterThanOrEqual(reportedWritten);
      // Batches are written in order, so what is stored is 1..last without holes.
      expect(losses.lastSequence).toBe(losses.stored);
      expect(losses.missing).toBeGreaterThan(0);
      expect(losses.missing).toBeLessThanOrEqual(CAPACITY);
      expect(sequenceGaps([await storedSequences(db, losses.processId)])).toEqual([
        { processId: 'killed-writer', from: losses.lastSequence + 1, to: losses.acceptedThrough, missing: losses.missing },
      ]);
    } finally {
      await db.destroy();
    }
  });
});
