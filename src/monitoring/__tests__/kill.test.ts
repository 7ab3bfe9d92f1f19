/**
 * `kill -9` of a process writing the prediction log through its writer thread: everything it
 * reported written is still in the store, it lost at most its queue's bound, and the loss shows
 * as missing sequence numbers on `prediction_log_missing_records` of the next process that
 * opens the log. The writer is kill-writer.ts, bundled with esbuild (with the writer thread's
 * script beside it) so that it runs without a build.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { buildSync } from 'esbuild';
import { loadConfig } from '../../config';
import { createLogger } from '../../logging';
import { createProcessMetrics } from '../../metrics';
import { openPredictionLogging } from '../../model-runtime/prediction-logging';
import { openStore } from '../../store';
import { sequenceGaps } from '../prediction-log';
import { countPredictions, predictionLogLosses, storedSequences } from '../prediction-log-store';

const ROOT = path.resolve(__dirname, '../../..');
const CAPACITY = 2_000;
const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the writer, waits until it reports `atLeast` records written, kills it with SIGKILL. */
function runAndKill(file: string, atLeast: number): Promise<{ reportedWritten: number; signal: NodeJS.Signals | null }> {
  buildSync({
    entryPoints: { 'kill-writer': path.join(__dirname, 'kill-writer.ts'), 'prediction-log-worker': path.join(__dirname, '..', 'prediction-log-worker.ts') },
    outdir: dir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['better-sqlite3', 'pg'],
    logLevel: 'error',
  });
  const child = spawn(process.execPath, [path.join(dir, 'kill-writer.js'), file, String(CAPACITY)], { env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules'), SHELFMARK_ROOT: ROOT }, stdio: ['ignore', 'pipe', 'inherit'] });
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

describe('a process writing the prediction log, killed with SIGKILL', () => {
  it('keeps every record it wrote, loses at most its queue bound, and the next process reports the gap', async () => {
    const file = path.join(dir, 'log.db');
    const { reportedWritten, signal } = await runAndKill(file, 3_000);
    expect(signal).toBe('SIGKILL');
    const store = openStore(`sqlite:${file}`);
    try {
      const [losses, ...others] = await predictionLogLosses(store.db);
      expect(others).toEqual([]);
      if (!losses) throw new Error('the killed process stored nothing');
      // Sequence numbers count rows (a page's 100 predictions are one); the counter counts records.
      expect((await countPredictions(store.db)).churn).toBeGreaterThanOrEqual(reportedWritten);
      expect(losses.stored).toBeLessThan(reportedWritten);
      // Batches are written in order, so what is stored is 1..last without holes.
      expect(losses.lastSequence).toBe(losses.stored);
      expect(losses.missing).toBeGreaterThan(0);
      // At most the queue's bound in records, which is at most as many rows.
      expect(losses.missing).toBeLessThanOrEqual(CAPACITY);
      expect(sequenceGaps([await storedSequences(store.db, losses.processId)])).toEqual([
        { processId: losses.processId, from: losses.lastSequence + 1, to: losses.acceptedThrough, missing: losses.missing },
      ]);

      // The process that takes over (here: this one) counts the gap when its writer thread starts.
      const config = loadConfig({ SHELFMARK_ROOT: ROOT, DATABASE_URL: `sqlite:${file}`, PREDICTION_LOG_RETENTION_INTERVAL_MS: '1000' });
      const metrics = createProcessMetrics('successor');
      const log = openPredictionLogging({ config: config.predictionLog, store, metrics, logger: createLogger('successor', 'silent'), asOf: () => '2026-12-06' });
      try {
        const line = `prediction_log_missing_records{process="${losses.processId}",service="successor"} ${losses.missing}`;
        for (let tries = 0; tries < 100 && !(await metrics.registry.metrics()).includes(line); tries++) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(await metrics.registry.metrics()).toContain(line);
      } finally {
        await log.close();
      }
    } finally {
      await store.close();
    }
  });
});
