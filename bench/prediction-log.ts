/**
 * What logging predictions costs, on the thread that answers and in the whole process, with the
 * batches written on that thread (a Kysely INSERT, as before the writer thread) and on the
 * writer thread (what serves). Interleaved rounds, both into SQLite files (the embedded
 * default), so both arms see the same machine load.
 *
 * Records are a dashboard page's mix (risks with three factors, segments with five feature
 * values, lists of five recommendations; 100 of each model per request, one loader batch after
 * another, so the log keeps them as four rows) and arrive in bursts of `--burst` (a 100-member
 * page logs about 400), one burst per turn of the event loop. Per record it prints the serving thread's CPU time (Linux: that thread's
 * own counters in /proc), the process's CPU time (every thread), and the `log()` call alone.
 *
 * Then two paced runs through the writer thread with the serving defaults (capacity 10,000,
 * batches of 500, flush every second): `--rate` requests/s of `--per-request` records for
 * `--seconds`, once as is and once while another connection holds the store's write lock (an
 * overloaded or stalled store). Each prints records accepted, written and dropped, the most
 * records queued, and the `log()` cost per record, which must not grow when the store stalls.
 * Run: node dist/bench/prediction-log.js [--records N] [--rounds N] [--rate R] [--json]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFlags, UsageError } from '../src/cli/flags';
import { openStore } from '../src/store';
import { createPredictionLog, type PredictionInput, type PredictionSink } from '../src/monitoring/prediction-log';
import { createCurrentPredictionLogTable, createStorePredictionSink } from '../src/monitoring/prediction-log-store';
import { startPredictionLogWriter } from '../src/monitoring/prediction-log-writer';

const USAGE = `usage: node dist/bench/prediction-log.js [--records N] [--rounds N] [--burst N] [--batch N]
                                          [--rate R] [--per-request N] [--seconds S] [--json]
  --records N      records per arm per round (default 100000)
  --rounds N       interleaved rounds of both arms (default 3)
  --burst N        records logged per turn of the event loop (default 400, a 100-member page)
  --batch N        records per write (default 500, the log's default)
  --rate R         requests/s of the paced runs (default 100; 0 skips them)
  --per-request N  records each request logs in the paced runs (default 400, a 100-member page)
  --seconds S      length of each paced run (default 10)
  --json           print one JSON object instead of text`;

type Arm = 'same-thread' | 'writer-thread';

/** A fraction in [0, 1) that looks random (a model's weights and scores have every digit) but is the same every run. */
function fraction(n: number, salt: number): number {
  const x = Math.sin(n * 12.9898 + salt * 78.233) * 43_758.5453;
  return x - Math.floor(x);
}

/**
 * The n-th record of a dashboard page's mix, in the order a page logs them: per request (400
 * records) 100 members, each model's loader batch one after another (overdue and churn risks
 * with a score, three factors and features by reference, segments with a label and five
 * feature values, lists of five recommendations), all at the request's time. Until 2026-12-07
 * the mix interleaved the models record by record, each with its own millisecond; the store
 * then wrote a row per record whatever the order, so the per-record cost of that build is the
 * same with either order.
 */
function record(n: number): PredictionInput {
  const request = Math.floor(n / 400);
  const k = n % 400;
  const member = (request * 100 + (k % 100)) % 10_000;
  const common = { requestId: `bench-${request}`, at: new Date(1_796_000_000_000 + request).toISOString(), asOf: '2026-12-06', arm: null, entityKind: 'member', entityId: String(member), label: null };
  const risk = { score: fraction(n, 1), items: null, features: null, featureRef: 'as-of:2026-12-06' };
  switch (Math.floor(k / 100)) {
    case 0:
      return { ...common, ...risk, model: 'overdue', version: '1.2.0', factors: [{ name: 'member_late_share', weight: fraction(n, 2) }, { name: 'loan_days', weight: -fraction(n, 3) }, { name: 'renewals', weight: fraction(n, 4) }] };
    case 1:
      return { ...common, ...risk, model: 'churn', version: '1.1.0', factors: [{ name: 'days_since_last_loan', weight: fraction(n, 2) }, { name: 'loans_last_90d', weight: -fraction(n, 3) }, { name: 'late_share', weight: fraction(n, 4) }] };
    case 2:
      return {
        ...common,
        model: 'segmentation',
        version: '1.0.0',
        score: null,
        items: null,
        label: 'Loyal',
        factors: [],
        features: { recency: 100 * fraction(n, 2), frequency: 30 * fraction(n, 3), monetary: 50 * fraction(n, 4), engagement: fraction(n, 5), tenureDays: Math.floor(3000 * fraction(n, 6)) },
        featureRef: null,
      };
    default:
      return { ...common, model: 'recommendations', version: '1.3.0', score: null, items: Array.from({ length: 5 }, (_, k) => ({ id: String(Math.floor(10_000 * fraction(n, 10 + k))), score: fraction(n, 20 + k) })), factors: [], features: null, featureRef: null };
  }
}

interface ArmResult {
  arm: Arm;
  /** Serving-thread CPU microseconds per record (logging and, same-thread, writing). */
  servingUsPerRecord: number;
  /** Process CPU microseconds per record, every thread. */
  processUsPerRecord: number;
  /** The `log()` calls alone, nanoseconds per record. */
  logNsPerRecord: number;
  written: number;
  dropped: number;
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** CPU microseconds of this process's main thread (Linux; NaN elsewhere). */
function servingThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

async function runArm(arm: Arm, dir: string, round: number, records: number, burst: number, batchSize: number): Promise<ArmResult> {
  const url = `sqlite:${path.join(dir, `${arm}-${round}.db`)}`;
  const store = openStore(url);
  await createCurrentPredictionLogTable(store.db);
  const writer = arm === 'writer-thread' ? startPredictionLogWriter({ processId: `bench-${round}`, databaseUrl: url, retentionDays: 3650, checkIntervalMs: 3_600_000, busyTimeoutMs: 2000 }) : undefined;
  const sink: PredictionSink = writer ?? createStorePredictionSink(store.db);
  const inputs = Array.from({ length: records }, (_, n) => record(n));
  const log = createPredictionLog({ sink, processId: `bench-${round}`, capacity: records + 1, batchSize, flushIntervalMs: 100 });
  await nextTurn();
  const serving = servingThreadCpuUs();
  const cpu = process.cpuUsage();
  let logNs = 0n;
  for (let start = 0; start < records; start += burst) {
    const t = process.hrtime.bigint();
    for (let n = start; n < Math.min(records, start + burst); n++) log.log(inputs[n] as PredictionInput);
    logNs += process.hrtime.bigint() - t;
    await nextTurn();
  }
  await log.close();
  const used = process.cpuUsage(cpu);
  const servingUs = servingThreadCpuUs() - serving;
  await writer?.close();
  await store.close();
  const { written, dropped } = log.stats();
  return {
    arm,
    servingUsPerRecord: servingUs / records,
    processUsPerRecord: (used.user + used.system) / records,
    logNsPerRecord: Number(logNs) / records,
    written,
    dropped,
  };
}

interface PacedResult {
  storeLocked: boolean;
  requests: number;
  accepted: number;
  /** Rows of the log the accepted records made (one per request and model). */
  rows: number;
  written: number;
  dropped: number;
  mostQueued: number;
  logNsPerRecord: number;
  /** How late the last request was sent against its schedule (ms): the serving thread kept up when small. */
  lagMs: number;
}

/**
 * `rate` requests/s of `perRequest` records for `seconds` through the writer thread with the
 * serving defaults; with `storeLocked`, another connection holds the write lock throughout.
 */
async function paced(dir: string, rate: number, perRequest: number, seconds: number, storeLocked: boolean): Promise<PacedResult> {
  const url = `sqlite:${path.join(dir, `paced-${storeLocked ? 'locked' : 'free'}.db`)}`;
  const store = openStore(url);
  await createCurrentPredictionLogTable(store.db);
  const lock = storeLocked ? openStore(url) : undefined;
  lock?.sqlite?.prepare('BEGIN IMMEDIATE').run();
  const writer = startPredictionLogWriter({ processId: 'paced', databaseUrl: url, retentionDays: 3650, checkIntervalMs: 3_600_000, busyTimeoutMs: 2000 });
  const log = createPredictionLog({ sink: writer, processId: 'paced' });
  const total = Math.round(rate * seconds);
  const start = performance.now();
  let mostQueued = 0;
  let logNs = 0n;
  let n = 0;
  // A request's records as the graph logs them: a member request one per model, a page 100 per model.
  const recordOf = (request: number, k: number) => record(request * 400 + (perRequest < 400 ? (k % 4) * 100 + (Math.floor(k / 4) % 100) : k % 400));
  for (let request = 0; request < total; request++) {
    const wait = start + (request * 1000) / rate - performance.now();
    // Each request is a turn of its own, as in a server, even when behind schedule: the log's
    // batches are handed over between turns, so a loop that never yields would only fill the queue.
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    else await nextTurn();
    const t = process.hrtime.bigint();
    for (let k = 0; k < perRequest; k++, n++) log.log(recordOf(request, k));
    logNs += process.hrtime.bigint() - t;
    mostQueued = Math.max(mostQueued, log.stats().queued);
  }
  const lagMs = performance.now() - (start + ((total - 1) * 1000) / rate);
  lock?.sqlite?.prepare('ROLLBACK').run();
  await lock?.close();
  await log.close();
  await writer.close();
  await store.close();
  const { accepted, rows, written, dropped } = log.stats();
  return { storeLocked, requests: total, accepted, rows, written, dropped, mostQueued, logNsPerRecord: Number(logNs) / n, lagMs };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { records: 'number', rounds: 'number', burst: 'number', batch: 'number', rate: 'number', 'per-request': 'number', seconds: 'number', json: 'boolean' }, USAGE);
  const rate = flags.rate ?? 100;
  const perRequest = flags['per-request'] ?? 400;
  const seconds = flags.seconds ?? 10;
  if (!(rate >= 0) || !(seconds > 0) || !Number.isInteger(perRequest) || perRequest < 1) throw new UsageError(`--rate must be 0 or more, --seconds positive, --per-request a positive integer\n${USAGE}`);
  const records = flags.records ?? 100_000;
  const rounds = flags.rounds ?? 3;
  const burst = flags.burst ?? 400;
  const batch = flags.batch ?? 500;
  for (const [name, value] of Object.entries({ records, rounds, burst, batch })) {
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${name} must be a positive integer, got ${value}\n${USAGE}`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-bench-log-'));
  const results: ArmResult[] = [];
  const pacedRuns: PacedResult[] = [];
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
    if (rate > 0) {
      for (const storeLocked of [false, true]) {
        const result = await paced(dir, rate, perRequest, seconds, storeLocked);
        pacedRuns.push(result);
        if (!flags.json) process.stderr.write(`paced ${rate}/s × ${perRequest}${storeLocked ? ', store locked' : ''}: done\n`);
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
  if (flags.json) process.stdout.write(`${JSON.stringify({ records, rounds, burst, batch, summary, results, paced: pacedRuns })}\n`);
  else {
    for (const [arm, s] of Object.entries(summary)) {
      process.stdout.write(`${arm.padEnd(14)} median of ${rounds}: serving thread ${s.servingUsPerRecord.toFixed(2)} µs/record, process CPU ${s.processUsPerRecord.toFixed(2)} µs/record, log() ${s.logNsPerRecord.toFixed(0)} ns/record, ${s.dropped} dropped\n`);
    }
    for (const p of pacedRuns) {
      process.stdout.write(
        `paced ${rate} requests/s × ${perRequest} records for ${seconds} s${p.storeLocked ? ', store write-locked throughout' : ''}: ${p.accepted} accepted (${p.rows} rows), ${p.written} written, ${p.dropped} dropped, at most ${p.mostQueued} queued; log() ${p.logNsPerRecord.toFixed(0)} ns/record; last request ${p.lagMs.toFixed(1)} ms behind schedule\n`,
      );
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
