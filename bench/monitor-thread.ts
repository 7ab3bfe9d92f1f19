/**
 * What the live monitor costs the thread that serves requests: one monitor run over a living
 * library's prediction log, on the serving thread (as the library subgraph ran it until
 * 2026-12-07) against on its own thread (src/monitoring/monitor-thread, as it runs now), in
 * alternate rounds in one process.
 *
 *   node dist/bench/monitor-thread.js --db FILE [--rounds K] [--records N] [--json]
 *
 * `--db` is a library with a prediction log, e.g. the one `bench:living` keeps. Each round
 * copies it, keeps the newest `--records` log records, and times one first run of a fresh
 * monitor (every record read, judged and folded; the snapshot computed), as after a restart.
 * Meanwhile the serving thread's event-loop delay is sampled every 10 ms
 * (perf_hooks.monitorEventLoopDelay): its p99 and max are how long a request arriving during the
 * run could wait for the loop. Also reported: the run's wall time and the process's CPU.
 */
import 'reflect-metadata';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sql } from 'kysely';
import { readClock } from '../src/circulation';
import { parseFlags, UsageError } from '../src/cli/flags';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logging';
import { createProcessMetrics } from '../src/metrics';
import { LiveMonitor } from '../src/monitoring/monitor';
import { startMonitorThread } from '../src/monitoring/monitor-thread';
import { openStore } from '../src/store';
import { loadAverage } from './processes';

const USAGE = `usage: node dist/bench/monitor-thread.js --db FILE [--rounds K] [--records N] [--json]
  One live-monitor run over a library's prediction log, on the serving thread against on its own
  thread, in alternate rounds: the serving thread's event-loop delay (p99, max), wall time and CPU.
  --db FILE      a SQLite library with a prediction log (e.g. the one bench:living keeps); copied, never changed
  --rounds K     rounds per arm (default 3)
  --records N    newest prediction-log records each run reads (default 50000)
  --json         print the rounds as one JSON object`;

type ArmName = 'serving-thread' | 'own-thread';

interface Round {
  arm: ArmName;
  records: number;
  wallMs: number;
  cpuMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/** A copy of the library holding only the newest `records` log records, and no judged predictions. */
async function prepareCopy(from: string, dir: string, records: number): Promise<{ databaseUrl: string; kept: number }> {
  const file = path.join(dir, 'library.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
  for (const suffix of ['', '-wal', '-shm']) if (existsSync(`${from}${suffix}`)) copyFileSync(`${from}${suffix}`, `${file}${suffix}`);
  const databaseUrl = `sqlite:${file}`;
  const store = openStore(databaseUrl);
  try {
    await sql`DELETE FROM prediction_log WHERE rowid NOT IN (SELECT rowid FROM prediction_log ORDER BY rowid DESC LIMIT ${records})`.execute(store.db);
    await sql`DELETE FROM prediction_outcomes`.execute(store.db);
    const row = await sql<{ n: number }>`SELECT count(*) AS n FROM prediction_log`.execute(store.db);
    return { databaseUrl, kept: Number(row.rows[0]?.n ?? 0) };
  } finally {
    await store.close();
  }
}

async function measured(arm: ArmName, records: number, work: () => Promise<void>): Promise<Round> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  const cpu = process.cpuUsage();
  const started = performance.now();
  delay.enable();
  await work();
  delay.disable();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const sampled = delay.count > 0;
  return {
    arm,
    records,
    wallMs: Math.round(wallMs),
    cpuMs: Math.round((used.user + used.system) / 1000),
    loopDelayP99Ms: sampled ? Math.round(delay.percentile(99) / 1e6) : Math.round(wallMs),
    loopDelayMaxMs: sampled ? Math.round(delay.max / 1e6) : Math.round(wallMs),
  };
}

async function round(arm: ArmName, databaseUrl: string, records: number, modelsDir: string): Promise<Round> {
  const logger = createLogger('bench-monitor', 'error');
  const metrics = createProcessMetrics('library');
  if (arm === 'serving-thread') {
    const store = openStore(databaseUrl, { busyTimeoutMs: 2000 });
    const monitor = new LiveMonitor({ store, modelsDir, metrics, logger, clock: () => readClock(store) });
    try {
      return await measured(arm, records, () => monitor.runOnce());
    } finally {
      await monitor.stop();
      await store.close();
    }
  }
  let thread: ReturnType<typeof startMonitorThread> | undefined;
  try {
    return await measured(arm, records, async () => {
      thread = startMonitorThread({ databaseUrl, modelsDir, clock: 'stored', intervalMs: 3_600_000, logLevel: 'error', busyTimeoutMs: 2000 }, { metrics, logger });
      await thread.nextRun();
    });
  } finally {
    await thread?.stop();
  }
}

async function main(argv: string[]): Promise<void> {
  const { flags } = parseFlags(argv, { db: 'string', rounds: 'number', records: 'number', json: 'boolean' }, USAGE);
  if (!flags.db) throw new UsageError(`--db is required\n${USAGE}`);
  const from = path.resolve(flags.db);
  if (!existsSync(from)) throw new UsageError(`no library at ${from}`);
  const rounds = flags.rounds ?? 3;
  const records = flags.records ?? 50_000;
  if (!(Number.isInteger(rounds) && rounds >= 1 && rounds <= 20)) throw new UsageError('--rounds must be a whole number from 1 to 20');
  if (!(Number.isInteger(records) && records >= 1 && records <= 5_000_000)) throw new UsageError('--records must be a whole number from 1 to 5000000');
  const config = loadConfig();
  const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-bench-monitor-'));
  const results: Round[] = [];
  const loadBefore = loadAverage();
  try {
    for (let k = 0; k < rounds; k++) {
      const arms: ArmName[] = k % 2 === 0 ? ['serving-thread', 'own-thread'] : ['own-thread', 'serving-thread'];
      for (const arm of arms) {
        const { databaseUrl, kept } = await prepareCopy(from, dir, records);
        const result = await round(arm, databaseUrl, kept, config.modelsDir);
        results.push(result);
        if (!flags.json) process.stdout.write(`${arm.padEnd(15)} ${kept} records: run ${result.wallMs} ms, CPU of this process ${result.cpuMs} ms, serving thread's event-loop delay p99 ${result.loopDelayP99Ms} ms, max ${result.loopDelayMaxMs} ms\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const load = `${loadBefore} -> ${loadAverage()}`;
  if (flags.json) process.stdout.write(`${JSON.stringify({ rounds: results, load })}\n`);
  else process.stdout.write(`load average ${load}\n`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`monitor-thread: ${(error as Error).message}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
