/**
 * Live quality against offline, on a copy of a library that lives on: every simulated day the
 * production overdue model scores the open loans, the churn model every member (weekly), and
 * the recommender lists for up to 200 of the last week's borrowers, through the subgraphs' own
 * serving and logging path; the live monitor runs once a day; the
 * simulator moves circulation one day (one continuous `liveOn`, so day N costs what day 1 does).
 *
 * At the end it prints, per model and window, the monitor's live AUC with its interval; the
 * AUC computed offline from the same log rows and the same outcomes, with the exact AUC of
 * src/ml/metrics (the join of src/monitoring/outcomes is shared, the AUC is not: the monitor's
 * comes from its day summaries' score histograms); their difference; and the simulator's oracle
 * on the same outcomes: the true late probability of each loan, and the true churn probability
 * of each member at the prediction's day. The simulator stores a cut-off's churn truth when its
 * 90-day window closes, so after the figures the library lives CHURN_WINDOW_DAYS more days,
 * unserved, before the oracle is read. Churn also gets the figure over closed windows: the
 * predictions whose 90 days were over, every one of their outcomes known.
 *
 * The monitor's own alerts are recorded after every run: per rule of monitoring/alerts.yml the
 * alert-days (the week window's conditions, as alertConditions evaluates them) and, for the
 * drift rules, the features named and the window sizes compared. With --alerts-only the
 * run stops after the served days (no oracle days, no AUC figures): the monitor's false-alarm
 * rate on an unshifted library, with the thresholds stored in the versions' metadata. With
 * --shift (as `simulate --shift`: day 1 is the first lived day, the day alerts are recorded as)
 * the library lives on with that hidden cause changed: the monitor's detection delay and the
 * features it names. With --alerts-only --json, the alerts so far go to stderr after each day.
 *
 * Run (after a build): node dist/bench/live-quality.js [--db PATH] [--models DIR] [--days N] [--alerts-only [--shift NAME=VALUE@DAY ...]] [--json]
 * The library given is copied; it is never changed.
 */
import 'reflect-metadata';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { readClock } from '../src/circulation';
import { parseFlags, UsageError } from '../src/cli/flags';
import { loadConfig, type Config } from '../src/config';
import { createLogger } from '../src/logging';
import { createProcessMetrics } from '../src/metrics';
import { auc } from '../src/ml/metrics';
import { closeModelDeps, openModelDeps } from '../src/model-runtime/model-subgraph';
import { CHURN_SLOT } from '../src/models/churn';
import { OVERDUE_SLOT } from '../src/models/overdue';
import { LiveMonitor, RECOMMENDATION_K, type ModelHealth } from '../src/monitoring/monitor';
import { judgeOutcomes, liveOutcomes, predictionDay, type Judgement } from '../src/monitoring/outcomes';
import { recordsOf, type PredictionLogDatabase, type StoreDb } from '../src/monitoring/prediction-log-store';
import { QUALITY_WINDOWS, WINDOW_DAYS, type QualityWindow } from '../src/monitoring/windows';
import { CHURN_WINDOW_DAYS, liveOn, MAX_LIVING_DAYS } from '../src/simulator';
import { parseShift } from '../src/simulator/living';
import { migrateStore, openStore, sqlitePath, type Store } from '../src/store';
import { chunks } from '../src/store/in-chunks';
import { addDays } from '../src/util/dates';
import { createChurnContext, createChurnServices } from '../subgraphs/churn';
import { createOverdueContext, createOverdueServices } from '../subgraphs/overdue';
import { createRecommendationsContext, createRecommendationsServices, RECOMMENDATIONS_SUBGRAPH_SLOT } from '../subgraphs/recommendations';

/** Days lived after the figures, so that the simulator has stored churn truth at every cut-off served. */
const ORACLE_DAYS = CHURN_WINDOW_DAYS;
const MAX_DAYS = MAX_LIVING_DAYS - ORACLE_DAYS;

const USAGE = `usage: node dist/bench/live-quality.js [--db PATH] [--models DIR] [--days N] [--alerts-only [--shift NAME=VALUE@DAY ...]] [--json] [--trace-drift]
  --db PATH     the library to copy (default: DATABASE_URL's SQLite file)
  --models DIR  the models (default: MODELS_DIR)
  --days N      simulated days served and monitored (default 100, at most ${MAX_DAYS}); churn's
                first "churned" outcomes are known ${CHURN_WINDOW_DAYS + 1} days after its first predictions
  --alerts-only the monitor's alerts per rule only: no oracle days, no AUC figures
  --shift S     with --alerts-only: change a hidden cause from a lived day on, as simulate --shift
                (e.g. reliability=0.2@30); may repeat
  --json        print one JSON object instead of text
  --trace-drift after each monitor run, one JSON line on stderr per served model: the week
                window's drift verdict of every feature (rows, test, statistic, p, threshold)`;

const IDENTITY = { sub: 'bench-live-quality', role: 'staff' as const };
/** Members a day given recommendations (of the last week's borrowers). */
const LISTS_PER_DAY = 200;

/**
 * Serves `keys` in slices of half the log's queue, writing the log after each: a day's batch in
 * one call (some 10,000 open loans, every member) would fill the queue, and the records past
 * it, the newest loans and members, would be dropped. Throws if any record was dropped.
 */
async function serveInSlices(deps: Awaited<ReturnType<typeof openModelDeps>>, config: Config, keys: readonly string[], load: (slice: string[]) => Promise<unknown>): Promise<void> {
  const slice = Math.max(1, Math.floor(config.predictionLog.capacity / 2));
  for (let at = 0; at < keys.length; at += slice) {
    await load(keys.slice(at, at + slice));
    await deps.predictionLog.flush();
  }
  const dropped = (await deps.metrics.predictionLogDropped.get()).values.reduce((sum, v) => sum + v.value, 0);
  if (dropped > 0) throw new Error(`the prediction log dropped ${dropped} records of a served day: the monitor would not see them`);
}

async function serveDay(config: Config, store: Store, day: number): Promise<void> {
  const today = await readClock(store);
  const overdue = await openModelDeps(config, 'overdue', [OVERDUE_SLOT]);
  try {
    const loans = await store.db.selectFrom('loans').select('id').where('returned_at', 'is', null).where('due_at', '>=', today).execute();
    const context = createOverdueContext(IDENTITY, createOverdueServices(overdue), `day-${day}-overdue`);
    await serveInSlices(overdue, config, loans.map((l) => `L:${l.id}`), (slice) => context.overdueRisk.loadMany(slice as `L:${string}`[]));
  } finally {
    await closeModelDeps(overdue);
  }
  // Lists for some recent borrowers (recommendations' drift window is every borrower of a day it served on, whoever asked).
  const recommendations = await openModelDeps(config, 'recommendations', [RECOMMENDATIONS_SUBGRAPH_SLOT]);
  try {
    // The clock is already on the next day, whose circulation has not happened: last week's borrowers.
    const borrowers = await store.db.selectFrom('loans').select('member_id').distinct().where('checked_out_at', '>=', addDays(today, -7)).orderBy('member_id').limit(LISTS_PER_DAY).execute();
    const context = createRecommendationsContext(IDENTITY, createRecommendationsServices(recommendations), `day-${day}-recommendations`);
    await serveInSlices(recommendations, config, borrowers.map((b) => String(b.member_id)), (slice) => Promise.all(slice.map((id) => context.recommendations.load(id, RECOMMENDATION_K))));
  } finally {
    await closeModelDeps(recommendations);
  }
  if (day % 7 !== 0) return;
  const churn = await openModelDeps(config, 'churn', [CHURN_SLOT]);
  try {
    const members = await store.db.selectFrom('members').select('id').where('joined_at', '<=', today).execute();
    const context = createChurnContext(IDENTITY, createChurnServices(churn), `day-${day}-churn`);
    await serveInSlices(churn, config, members.map((m) => String(m.id)), (slice) => context.churnRisk.loadMany(slice));
  } finally {
    await closeModelDeps(churn);
  }
}

interface AucFigure {
  auc: number | null;
  rows: number;
}

interface WindowFigures {
  window: QualityWindow;
  live: { auc: number | null; low: number | null; high: number | null; rows: number };
  offline: AucFigure;
  /** Live minus offline AUC. */
  difference: number | null;
  oracle: AucFigure;
}

interface ModelFigures {
  model: string;
  versions: string[];
  windows: WindowFigures[];
  /** Every outcome known at the end, each joined to the prediction live when it became known. */
  allKnown: { offline: AucFigure; oracle: AucFigure };
  /** Churn: the predictions made on days whose 90-day window was over at the end. */
  closedWindows: { through: string; offline: AucFigure; oracle: AucFigure } | null;
}

const finite = (x: number | undefined | null): number | null => (x !== undefined && x !== null && Number.isFinite(x) ? x : null);

/** Exact AUC of the scores against 0/1 outcomes; null when the outcomes hold one class only (no ranking to judge). */
function exactAuc(judgements: readonly Judgement[], score: (j: Judgement) => number | undefined): AucFigure {
  const scored = judgements.flatMap((j) => {
    const s = score(j);
    return s === undefined || !j.outcome ? [] : [{ s, label: j.outcome.value > 0 ? 1 : 0 }];
  });
  const positives = scored.filter((r) => r.label === 1).length;
  const value = positives === 0 || positives === scored.length ? null : auc(scored.map((r) => r.s), scored.map((r) => r.label));
  return { auc: value, rows: scored.length };
}

/** The known outcomes of `model`'s logged predictions as of `clock`, each joined to the prediction live when it became known. */
async function knownOutcomes(store: Store, model: string, clock: string): Promise<Judgement[]> {
  const logDb: Kysely<PredictionLogDatabase> = store.db as StoreDb;
  const rows = await logDb.selectFrom('prediction_log').selectAll().where('model', '=', model).execute();
  return liveOutcomes(await judgeOutcomes(store, model, rows.flatMap(recordsOf), clock));
}

/** The oracle's probability behind each outcome: a loan's true late probability; a member's true churn probability at the prediction's day. */
type Oracle = (j: Judgement) => number | undefined;

async function oracleOf(store: Store, model: string, known: readonly Judgement[]): Promise<Oracle> {
  if (model === 'overdue') {
    const truth = new Map((await store.db.selectFrom('sim_loan_truth').select(['loan_id', 'late_probability']).execute()).map((t) => [String(t.loan_id), t.late_probability]));
    return (j) => truth.get(j.prediction.entityId);
  }
  const cutoffs = [...new Set(known.map((j) => predictionDay(j.prediction)))];
  const truth = new Map<string, number>();
  for (const part of chunks(cutoffs, 500)) {
    for (const t of await store.db.selectFrom('sim_churn_truth').select(['member_id', 'cutoff', 'probability']).where('cutoff', 'in', part).execute()) truth.set(`${t.member_id}@${t.cutoff}`, t.probability);
  }
  return (j) => truth.get(`${j.prediction.entityId}@${predictionDay(j.prediction)}`);
}

/** What the monitor and the offline join say at `clock`; the oracle is added once its truth exists. */
interface Measured {
  model: string;
  known: Judgement[];
  versions: string[];
  live: Record<QualityWindow, WindowFigures['live']>;
}

async function measure(store: Store, monitor: LiveMonitor, model: string, clock: string): Promise<Measured> {
  const known = await knownOutcomes(store, model, clock);
  const versions = [...new Set(known.map((j) => j.prediction.version))].sort();
  const live = {} as Measured['live'];
  for (const window of QUALITY_WINDOWS) {
    const figure = monitor.health(model, window)[0]?.metrics.find((m) => m.name === 'auc' && !m.estimated);
    live[window] = { auc: finite(figure?.value), low: finite(figure?.low), high: finite(figure?.high), rows: figure?.rows ?? 0 };
  }
  return { model, known, versions, live };
}

function figuresOf({ model, known, versions, live }: Measured, oracle: Oracle, clock: string): ModelFigures {
  const served = (j: Judgement) => j.prediction.score ?? undefined;
  const windows = QUALITY_WINDOWS.map((window): WindowFigures => {
    const inWindow = known.filter((j) => (j.outcome?.knownOn ?? '') > addDays(clock, -WINDOW_DAYS[window]));
    const offline = exactAuc(inWindow, served);
    const liveAuc = live[window].auc;
    return { window, live: live[window], offline, difference: liveAuc !== null && offline.auc !== null ? liveAuc - offline.auc : null, oracle: exactAuc(inWindow, oracle) };
  });
  const allKnown = { offline: exactAuc(known, served), oracle: exactAuc(known, oracle) };
  let closedWindows: ModelFigures['closedWindows'] = null;
  if (model === 'churn') {
    const through = addDays(clock, -CHURN_WINDOW_DAYS - 1);
    const closed = known.filter((j) => predictionDay(j.prediction) <= through);
    closedWindows = { through, offline: exactAuc(closed, served), oracle: exactAuc(closed, oracle) };
  }
  return { model, versions, windows, allKnown, closedWindows };
}

/** The served models whose alerts are recorded. */
const SERVED = ['overdue', 'churn', 'recommendations'] as const;

interface AlertDays {
  /** Per rule: the days (0 = the first served day) with at least one alert, and every feature named. */
  rules: Record<string, { days: number[]; features: string[] }>;
  /** Per model: the fewest and most values a drift verdict of the week window compared. */
  windowSizes: Record<string, { min: number; max: number }>;
  /** Per model, each day it had one: the week window's outcome ratio [day, value, low, high, rows]. */
  outcomeRatios: Record<string, number[][]>;
  /** Per model, each day it had one: the week window's labelled AUC [day, value, low, high, rows], beside the offline figure ModelQualityBelowOffline compares it with. */
  aucs: Record<string, number[][]>;
}

/** Appends the week window's labelled `metric` of `health` to `into[model]` as [day, value, low, high, rows]. */
function recordFigure(into: Record<string, number[][]>, model: string, d: number, health: ModelHealth, metric: string): void {
  const figure = health.metrics.find((m) => m.name === metric && !m.estimated);
  if (figure && Number.isFinite(figure.value)) (into[model] ??= []).push([d, ...[figure.value, figure.low, figure.high].map((x) => Number(x.toFixed(3))), figure.rows]);
}

/** One JSON line per served model on stderr: the week window's drift verdicts of day `d`. */
function traceDrift(monitor: LiveMonitor, d: number): void {
  for (const model of SERVED) {
    const health = monitor.health(model, 'week')[0];
    if (!health) continue;
    const verdicts = health.drift.map((v) => ({ feature: v.feature, rows: v.count, test: v.test, statistic: Number(v.statistic.toPrecision(4)), p: v.pValue === null ? null : Number(v.pValue.toPrecision(3)), threshold: Number(v.threshold.toPrecision(3)), drifted: v.drifted }));
    process.stderr.write(`${JSON.stringify({ trace: 'drift', day: d, model, version: health.version, verdicts })}\n`);
  }
}

/** Records the week window's alerts of each served model after a monitor run on day `d`. */
function recordAlerts(monitor: LiveMonitor, d: number, into: AlertDays): void {
  for (const model of SERVED) {
    const health = monitor.health(model, 'week')[0];
    if (!health) continue;
    for (const v of health.drift) {
      const size = (into.windowSizes[model] ??= { min: v.count, max: v.count });
      size.min = Math.min(size.min, v.count);
      size.max = Math.max(size.max, v.count);
    }
    recordFigure(into.outcomeRatios, model, d, health, 'outcome_ratio');
    recordFigure(into.aucs, model, d, health, 'auc');
    for (const alert of health.alerts) {
      const rule = (into.rules[alert.name] ??= { days: [], features: [] });
      if (rule.days.at(-1) !== d) rule.days.push(d);
      const drifted = alert.name === 'ModelFeatureDrift' ? health.drift.filter((v) => v.drifted && alert.summary.includes(`feature ${v.feature} `)).map((v) => `${model}/${v.feature}@${d}`) : [`${model}@${d}`];
      rule.features.push(...drifted);
    }
  }
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { db: 'string', models: 'string', days: 'number', 'alerts-only': 'boolean', shift: 'strings', json: 'boolean', 'trace-drift': 'boolean' }, USAGE);
  const base = loadConfig();
  const source = flags.db ?? sqlitePath(base.databaseUrl);
  if (!source || !existsSync(source)) throw new UsageError(`no SQLite library at ${source ?? base.databaseUrl}\n${USAGE}`);
  const days = flags.days ?? 100;
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) throw new UsageError(`--days must be a whole number in 1..${MAX_DAYS}, got ${days}\n${USAGE}`);
  if (flags.shift && !flags['alerts-only']) throw new UsageError(`--shift needs --alerts-only (the oracle days after the figures would live unshifted)\n${USAGE}`);
  const shifts = (flags.shift ?? []).map(parseShift);
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
    const alerts: AlertDays = { rules: {}, windowSizes: {}, outcomeRatios: {}, aucs: {} };
    const started = await readClock(store);
    // Day d: the models serve at the clock of day d, the monitor runs, the simulator lives day d + 1.
    const day = async (d: number): Promise<void> => {
      if (d < days) await serveDay(config, store, d);
      const t0 = performance.now();
      await monitor.runOnce();
      runs.push(performance.now() - t0);
      recordAlerts(monitor, d, alerts);
      if (flags['trace-drift']) traceDrift(monitor, d);
      // A run stopped early still says what it saw.
      if (flags.json && flags['alerts-only']) process.stderr.write(`${JSON.stringify({ day: d, alerts })}\n`);
      else if (!flags.json) process.stderr.write(`\rday ${d}/${days}`);
    };
    await day(0);
    await liveOn(store, { days, shifts, onDay: (lived) => day(lived.index) });
    const clock = await readClock(store);
    if (flags['alerts-only']) {
      await monitor.stop();
      await store.close();
      const result = { from: started, through: clock, days, shifts: flags.shift ?? [], monitorRunMs: { mean: runs.reduce((a, b) => a + b, 0) / runs.length, max: Math.max(...runs) }, alerts };
      process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : `${started} to ${clock}, ${days} days: ${JSON.stringify(alerts)}\n`);
      return;
    }
    const measured = [await measure(store, monitor, 'overdue', clock), await measure(store, monitor, 'churn', clock)];
    await monitor.stop();
    if (!flags.json) process.stderr.write(`\rliving ${ORACLE_DAYS} more days for churn's oracle`);
    await liveOn(store, { days: ORACLE_DAYS });
    const models: ModelFigures[] = [];
    for (const m of measured) models.push(figuresOf(m, await oracleOf(store, m.model, m.known), clock));
    await store.close();
    const result = { from: started, through: clock, days, oracleDays: ORACLE_DAYS, alerts, monitorRunMs: { mean: runs.reduce((a, b) => a + b, 0) / runs.length, max: Math.max(...runs) }, models };
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    process.stderr.write('\n');
    printFigures(result);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function printFigures(result: { from: string; through: string; days: number; monitorRunMs: { mean: number; max: number }; models: ModelFigures[] }): void {
  const f = (x: number | null) => (x === null ? '–' : x.toFixed(4));
  const signed = (x: number | null) => (x === null ? '–' : `${x >= 0 ? '+' : ''}${x.toFixed(4)}`);
  const auc = (a: AucFigure) => `${f(a.auc)} on ${a.rows}`;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`${result.days} simulated days served and monitored, ${result.from} to ${result.through} (then ${ORACLE_DAYS} more lived, unserved, for churn's oracle); a monitor run took ${result.monitorRunMs.mean.toFixed(0)} ms on average, ${result.monitorRunMs.max.toFixed(0)} ms at most`);
  for (const m of result.models) {
    out(`${m.model} ${m.versions.join(', ')}`);
    out('  window  live AUC [95%]             outcomes  offline AUC  live − offline  oracle AUC (same outcomes)');
    for (const w of m.windows) {
      out(`  ${w.window.padEnd(6)}  ${`${f(w.live.auc)} [${f(w.live.low)}, ${f(w.live.high)}]`.padEnd(25)}  ${String(w.live.rows).padStart(8)}  ${f(w.offline.auc).padEnd(11)}  ${signed(w.difference).padEnd(14)}  ${auc(w.oracle)}${w.offline.rows === w.live.rows ? '' : ` (offline on ${w.offline.rows})`}`);
    }
    out(`  every known outcome: offline ${auc(m.allKnown.offline)}, oracle ${auc(m.allKnown.oracle)}`);
    if (m.closedWindows) out(`  closed windows (predictions made through ${m.closedWindows.through}): offline ${auc(m.closedWindows.offline)}, oracle ${auc(m.closedWindows.oracle)}`);
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error instanceof UsageError ? error.message : (error.stack ?? error.message)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
