/**
 * What logging a prediction costs the caller, and how fast the store absorbs the log.
 *
 * Prints two figures: the cost of `log()` per record (queue only, with a sink that drops
 * everything, so no write competes), and the sustained write rate of batches into a SQLite
 * file (the embedded default). Run: node dist/bench/prediction-log.js [--records N] [--batch N] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFlags, UsageError } from '../src/cli/flags';
import { openStore } from '../src/store';
import { createPredictionLog, type PredictionInput } from '../src/monitoring/prediction-log';
import { createPredictionLogTable, createStorePredictionSink } from '../src/monitoring/prediction-log-store';

const USAGE = `usage: node dist/bench/prediction-log.js [--records N] [--batch N] [--json]
  --records N  records per measurement (default 200000)
  --batch N    records per sink write (default 500, the log's default)
  --json       print one JSON object instead of text`;

function record(n: number): PredictionInput {
  return {
    requestId: `bench-${n}`,
    at: new Date(1_796_000_000_000 + n).toISOString(),
    model: n % 2 === 0 ? 'churn' : 'overdue',
    version: '1.0.0',
    arm: null,
    entityKind: 'member',
    entityId: String(n % 50_000),
    score: (n % 997) / 997,
    items: null,
    factors: [{ name: 'days_since_last_loan', weight: 0.31 }, { name: 'loans_last_90d', weight: -0.12 }],
    features: { days_since_last_loan: n % 365, loans_last_90d: n % 17, late_share: 0.1, branch: 'Central' },
    featureRef: null,
  };
}

async function enqueueCost(records: number): Promise<{ nsPerRecord: number; dropped: number }> {
  const inputs = Array.from({ length: records }, (_, n) => record(n));
  const log = createPredictionLog({ sink: { write: async () => undefined }, capacity: records + 1, batchSize: records + 1, flushIntervalMs: 3_600_000 });
  const start = process.hrtime.bigint();
  for (const input of inputs) log.log(input);
  const elapsed = Number(process.hrtime.bigint() - start);
  await log.close();
  return { nsPerRecord: elapsed / records, dropped: log.stats().dropped };
}

async function sqliteWriteRate(records: number, batchSize: number): Promise<{ recordsPerSecond: number; written: number; dropped: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-bench-log-'));
  const store = openStore(`sqlite:${path.join(dir, 'log.db')}`);
  try {
    await createPredictionLogTable(store.db);
    const log = createPredictionLog({ sink: createStorePredictionSink(store.db), capacity: records + 1, batchSize, flushIntervalMs: 100 });
    const start = process.hrtime.bigint();
    for (let n = 0; n < records; n++) log.log(record(n));
    await log.close();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const { written, dropped } = log.stats();
    return { recordsPerSecond: written / seconds, written, dropped };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { records: 'number', batch: 'number', json: 'boolean' }, USAGE);
  const records = flags.records ?? 200_000;
  const batch = flags.batch ?? 500;
  if (!Number.isInteger(records) || records < 1) throw new UsageError(`--records must be a positive integer, got ${records}\n${USAGE}`);
  if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`--batch must be a positive integer, got ${batch}\n${USAGE}`);
  await enqueueCost(Math.min(records, 20_000)); // warm-up
  const enqueue = await enqueueCost(records);
  const sqlite = await sqliteWriteRate(records, batch);
  const result = { records, batch, enqueueNsPerRecord: Math.round(enqueue.nsPerRecord), sqliteRecordsPerSecond: Math.round(sqlite.recordsPerSecond), sqliteWritten: sqlite.written, dropped: enqueue.dropped + sqlite.dropped };
  if (flags.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    process.stdout.write(`log() cost: ${result.enqueueNsPerRecord} ns per record (${records} records, queue only)\n`);
    process.stdout.write(`SQLite sustained write: ${result.sqliteRecordsPerSecond} records/s (${sqlite.written} written in batches of ${batch}, ${result.dropped} dropped)\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
