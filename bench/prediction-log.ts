/**
 * What logging predictions costs, on the thread that answers and in the whole process, with the
 * batches written on that thread (a Kysely INSERT, as before the writer thread) and on the
 * writer thread (what serves). Interleaved rounds, both into SQLite files (the embedded
 * default), so both arms see the same machine load.
 *
 * Records arrive in bursts of `--burst` (a 100-member page logs about 400), one burst per turn
 * of the event loop. Per record it prints the serving thread's busy time (event-loop
 * utilisation, which counts only that thread), the process's CPU time (every thread), and the
 * `log()` call alone. Run: node dist/bench/prediction-log.js [--records N] [--rounds N] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseFlags, UsageError } from '../src/cli/flags';
import { openStore } from '../src/store';
import { createPredictionLog, type PredictionInput, type PredictionSink } from '../src/monitoring/prediction-log';
import { createPredictionLogTable, createStorePredictionSink } from '../src/monitoring/prediction-log-store';
import { startPredictionLogWriter } from '../src/monitoring/prediction-log-writer';

const USAGE = `usage: node dist/bench/prediction-log.js [--records N] [--rounds N] [--burst N] [--batch N] [--json]
  --records N  records per arm per round (default 100000)
  --rounds N   interleaved rounds of both arms (default 3)
  --burst N    records logged per turn of the event loop (default 400, a 100-member page)
  --batch N    records per write (default 500, the log's default)
  --json       print one JSON object instead of text`;

type Arm = 'same-thread' | 'writer-thread';

function record(n: number): PredictionInput {
  return {
    requestId: `bench-${Math.floor(n / 400)}`,
    at: new Date(1_796_000_000_000 + n).toISOString(),
    asOf: '2026-12-06',
    model: n % 2 === 0 ? 'churn' : 'overdue',
    version: '1.0.0',
    arm: null,
    entityKind: 'member',
    entityId: String(n % 50_000),
    score: (n % 997) / 997,
    items: null,
    factors: [{ name: 'days_since_last_loan', weight: 0.31 }, { name: 'loans_last_90d', weight: -0.12 }, { name: 'late_share', weight: 0.05 }],
    features: null,
    featureRef: 'as-of:2026-12-06',
  };
}

interface ArmResult {
  arm: Arm;
  /** Serving-thread busy microseconds per record (logging and, same-thread, writing). */
  servingUsPerRecord: number;
  /** Process CPU microseconds per record, every thread. */
  processUsPerRecord: number;
  /** The `log()` calls alone, nanoseconds per record. */
  logNsPerRecord: number;
  written: number;
  dropped: number;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

async function runArm(arm: Arm, dir: string, round: number, records: number, burst: number, batchSize: number): Promise<ArmResult> {
  const url = `sqlite:${path.join(dir, `${arm}-${round}.db`)}`;
  const store = openStore(url);
  await createPredictionLogTable(store.db);
  const writer = arm === 'writer-thread' ? startPredictionLogWriter({ processId: `bench-${round}`, databaseUrl: url, retentionDays: 3650, checkIntervalMs: 3_600_000, busyTimeoutMs: 2000 }) : undefined;
  const sink: PredictionSink = writer ?? createStorePredictionSink(store.db);
  const inputs = Array.from({ length: records }, (_, n) => record(n));
  const log = createPredictionLog({ sink, processId: `bench-${round}`, capacity: records + 1, batchSize, flushIntervalMs: 100 });
  await nextTurn();
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  let logNs = 0n;
  for (let start = 0; start < records; start += burst) {
    const t = process.hrtime.bigint();
    for (let n = start; n < Math.min(records, start + burst); n++) log.log(inputs[n] as PredictionInput);
    logNs += process.hrtime.bigint() - t;
    await nextTurn();
  }
  await log.close();
  const busy = performance.eventLoopUtilization(elu);
  const used = process.cpuUsage(cpu);
  await writer?.close();
  await store.close();
  const { written, dropped } = log.stats();
  return {
    arm,
    servingUsPerRecord: (busy.active * 1000) / records,
    processUsPerRecord: (used.user + used.system) / records,
    logNsPerRecord: Number(logNs) / records,
    written,
    dropped,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { records: 'number', rounds: 'number', burst: 'number', batch: 'number', json: 'boolean' }, USAGE);
  const records = flags.records ?? 100_000;
  const rounds = flags.rounds ?? 3;
  const burst = flags.burst ?? 400;
  const batch = flags.batch ?? 500;
  for (const [name, value] of Object.entries({ records, rounds, burst, batch })) {
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${name} must be a positive integer, got ${value}\n${USAGE}`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-bench-log-'));
  const results: ArmResult[] = [];
  try {
    await runArm('writer-thread', dir, 0, Math.min(records, 20_000), burst, batch); // warm-up
    await runArm('same-thread', dir, 0, Math.min(records, 20_000), burst, batch);
    for (let round = 1; round <= rounds; round++) {
      const order: Arm[] = round % 2 === 1 ? ['same-thread', 'writer-thread'] : ['writer-thread', 'same-thread'];
      for (const arm of order) {
        const result = await runArm(arm, dir, round, records, burst, batch);
        results.push(result);
        if (!flags.json) process.stderr.write(`round ${round} ${arm}: serving ${result.servingUsPerRecord.toFixed(2)} µs, process ${result.processUsPerRecord.toFixed(2)} µs, log() ${result.logNsPerRecord.toFixed(0)} ns per record; ${result.written} written, ${result.dropped} dropped\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = Object.fromEntries(
    (['same-thread', 'writer-thread'] as Arm[]).map((arm) => {
      const of = results.filter((r) => r.arm === arm);
      return [arm, { servingUsPerRecord: median(of.map((r) => r.servingUsPerRecord)), processUsPerRecord: median(of.map((r) => r.processUsPerRecord)), logNsPerRecord: median(of.map((r) => r.logNsPerRecord)), dropped: of.reduce((n, r) => n + r.dropped, 0) }];
    }),
  );
  if (flags.json) process.stdout.write(`${JSON.stringify({ records, rounds, burst, batch, summary, results })}\n`);
  else {
    for (const [arm, s] of Object.entries(summary)) {
      process.stdout.write(`${arm.padEnd(14)} median of ${rounds}: serving thread ${s.servingUsPerRecord.toFixed(2)} µs/record, process CPU ${s.processUsPerRecord.toFixed(2)} µs/record, log() ${s.logNsPerRecord.toFixed(0)} ns/record, ${s.dropped} dropped\n`);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
