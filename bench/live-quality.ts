/**
 * Live quality against offline, on a copy of a library that lives on: every simulated day the
 * production overdue model scores the open loans and the churn model every member (weekly),
 * through the subgraphs' own serving and logging path; the live monitor runs once a day; the
 * simulator moves circulation one day. At the end it prints, per model, the monitor's live AUC
 * per window, the AUC computed offline from the same log and the same outcomes (the join of
 * src/monitoring/outcomes), the simulator's oracle on the same loans (overdue), and what a
 * monitor run cost.
 *
 * Run (after a build): node dist/bench/live-quality.js [--db PATH] [--models DIR] [--days N] [--json]
 * The library given is copied; it is never changed.
 */
import 'reflect-metadata';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readClock } from '../src/circulation';
import { parseFlags, UsageError } from '../src/cli/flags';
import { loadConfig, type Config } from '../src/config';
import { createLogger } from '../src/logging';
import { createProcessMetrics } from '../src/metrics';
import { auc } from '../src/ml/metrics';
import { closeModelDeps, openModelDeps } from '../src/model-runtime/model-subgraph';
import { CHURN_SLOT } from '../src/models/churn';
import { OVERDUE_SLOT } from '../src/models/overdue';
import { LiveMonitor } from '../src/monitoring/monitor';
import { judgeOutcomes, liveOutcomes } from '../src/monitoring/outcomes';
import { fromRow, type PredictionLogTable } from '../src/monitoring/prediction-log-store';
import { QUALITY_WINDOWS } from '../src/monitoring/windows';
import { liveOn } from '../src/simulator';
import { migrateStore, openStore, sqlitePath, type Store } from '../src/store';
import { addDays } from '../src/util/dates';
import { createChurnContext, createChurnServices } from '../subgraphs/churn';
import { createOverdueContext, createOverdueServices } from '../subgraphs/overdue';

const USAGE = `usage: node dist/bench/live-quality.js [--db PATH] [--models DIR] [--days N] [--json]
  --db PATH     the library to copy (default: DATABASE_URL's SQLite file)
  --models DIR  the models (default: MODELS_DIR)
  --days N      simulated days (default 60; churn outcomes need more than 91)
  --json        print one JSON object instead of text`;

const IDENTITY = { sub: 'bench-live-quality', role: 'staff' as const };

async function serveDay(config: Config, store: Store, day: number): Promise<void> {
  const today = await readClock(store);
  const overdue = await openModelDeps(config, 'overdue', [OVERDUE_SLOT]);
  try {
    const loans = await store.db.selectFrom('loans').select('id').where('returned_at', 'is', null).where('due_at', '>=', today).execute();
    const context = createOverdueContext(IDENTITY, createOverdueServices(overdue), `day-${day}-overdue`);
    await context.overdueRisk.loadMany(loans.map((l) => `L:${l.id}` as const));
    await overdue.predictionLog.flush();
  } finally {
    await closeModelDeps(overdue);
  }
  if (day % 7 !== 0) return;
  const churn = await openModelDeps(config, 'churn', [CHURN_SLOT]);
  try {
    const members = await store.db.selectFrom('members').select('id').where('joined_at', '<=', today).execute();
    const context = createChurnContext(IDENTITY, createChurnServices(churn), `day-${day}-churn`);
    await context.churnRisk.loadMany(members.map((m) => String(m.id)));
    await churn.predictionLog.flush();
  } finally {
    await closeModelDeps(churn);
  }
}

interface ModelFigures {
  model: string;
  live: Record<string, { auc: number | null; low: number | null; high: number | null; rows: number; offlineAuc: number | null; offlineRows: number }>;
  offlineAllDays: { auc: number | null; rows: number };
  oracleAllDays: { auc: number | null; rows: number } | null;
}

/** AUC, or NaN when the outcomes hold one class only (no ranking to judge). */
function aucOf(scores: number[], labels: number[]): number {
  const positives = labels.filter((l) => l > 0).length;
  return positives === 0 || positives === labels.length ? NaN : auc(scores, labels);
}

async function figures(store: Store, monitor: LiveMonitor, model: string, clock: string): Promise<ModelFigures> {
  const rows = (await store.db.selectFrom('prediction_log' as never).selectAll().where('model' as never, '=', model as never).execute()) as unknown as PredictionLogTable[];
  const known = liveOutcomes(await judgeOutcomes(store, model, rows.map(fromRow), clock));
  const live: ModelFigures['live'] = {};
  for (const window of QUALITY_WINDOWS) {
    const health = monitor.health(model, window)[0];
    const figure = health?.metrics.find((m) => m.name === 'auc' && !m.estimated);
    const days = { day: 1, week: 7, '30d': 30 }[window];
    const inWindow = known.filter((j) => (j.outcome?.knownOn ?? '') > addDays(clock, -days));
    const offline = aucOf(inWindow.map((j) => j.prediction.score ?? 0), inWindow.map((j) => j.outcome?.value ?? 0));
    const finite = (x: number | undefined) => (x !== undefined && Number.isFinite(x) ? x : null);
    live[window] = { auc: finite(figure?.value), low: finite(figure?.low), high: finite(figure?.high), rows: figure?.rows ?? 0, offlineAuc: finite(offline), offlineRows: inWindow.length };
  }
  const finiteOrNull = (x: number) => (Number.isFinite(x) ? x : null);
  const offlineAllDays = { auc: finiteOrNull(aucOf(known.map((j) => j.prediction.score ?? 0), known.map((j) => j.outcome?.value ?? 0))), rows: known.length };
  let oracleAllDays: ModelFigures['oracleAllDays'] = null;
  if (model === 'overdue' && known.length > 0) {
    const truth = new Map((await store.db.selectFrom('sim_loan_truth').select(['loan_id', 'late_probability']).execute()).map((t) => [String(t.loan_id), t.late_probability]));
    const withTruth = known.filter((j) => truth.has(j.prediction.entityId));
    oracleAllDays = { auc: finiteOrNull(aucOf(withTruth.map((j) => truth.get(j.prediction.entityId) ?? 0), withTruth.map((j) => j.outcome?.value ?? 0))), rows: withTruth.length };
  }
  return { model, live, offlineAllDays, oracleAllDays };
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { db: 'string', models: 'string', days: 'number', json: 'boolean' }, USAGE);
  const base = loadConfig();
  const source = flags.db ?? sqlitePath(base.databaseUrl);
  if (!source || !existsSync(source)) throw new UsageError(`no SQLite library at ${source ?? base.databaseUrl}\n${USAGE}`);
  const days = flags.days ?? 60;
  if (!Number.isInteger(days) || days < 1 || days > 400) throw new UsageError(`--days must be a whole number in 1..400, got ${days}\n${USAGE}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-live-quality-'));
  try {
    const file = path.join(dir, 'library.db');
    copyFileSync(source, file);
    for (const ending of ['-wal', '-shm']) if (existsSync(`${source}${ending}`)) copyFileSync(`${source}${ending}`, `${file}${ending}`);
    const databaseUrl = `sqlite:${file}`;
    const config: Config = { ...base, databaseUrl, modelsDir: flags.models ?? base.modelsDir, logLevel: 'warn', predictionLog: { ...base.predictionLog, enabled: true } };
    const store = openStore(databaseUrl);
    await migrateStore(store);
    const monitor = new LiveMonitor({ store, modelsDir: config.modelsDir, metrics: createProcessMetrics('bench'), logger: createLogger('bench', 'warn'), clock: () => readClock(store) });
    const runs: number[] = [];
    const started = await readClock(store);
    for (let day = 0; day < days; day++) {
      await serveDay(config, store, day);
      const t0 = performance.now();
      await monitor.runOnce();
      runs.push(performance.now() - t0);
      await liveOn(store, { days: 1 });
      if (!flags.json) process.stderr.write(`\rday ${day + 1}/${days}`);
    }
    await monitor.runOnce();
    const clock = await readClock(store);
    const result = {
      from: started,
      through: clock,
      days,
      monitorRunMs: { mean: runs.reduce((a, b) => a + b, 0) / runs.length, max: Math.max(...runs) },
      models: [await figures(store, monitor, 'overdue', clock), await figures(store, monitor, 'churn', clock)],
    };
    await monitor.stop();
    await store.close();
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    process.stderr.write('\n');
    const f = (x: number | null) => (x === null ? '–' : x.toFixed(4));
    process.stdout.write(`${days} simulated days, ${started} to ${clock}; a monitor run took ${result.monitorRunMs.mean.toFixed(0)} ms on average, ${result.monitorRunMs.max.toFixed(0)} ms at most\n`);
    for (const m of result.models) {
      process.stdout.write(`${m.model}: offline AUC over every known outcome ${f(m.offlineAllDays.auc)} (${m.offlineAllDays.rows} outcomes)${m.oracleAllDays ? `, oracle ${f(m.oracleAllDays.auc)} on the same ${m.oracleAllDays.rows}` : ''}\n`);
      for (const [window, w] of Object.entries(m.live)) process.stdout.write(`  ${window.padEnd(4)} live AUC ${f(w.auc)} [${f(w.low)}, ${f(w.high)}] on ${w.rows}; offline on the same outcomes ${f(w.offlineAuc)} on ${w.offlineRows}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error instanceof UsageError ? error.message : (error.stack ?? error.message)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
