/**
 * The live monitor: brings each model version's live quality, drift and outcomes up to date
 * from the prediction log and circulation, in the background, and keeps the result for readers.
 *
 * Contract:
 * - `runOnce()` reads the log records written since the last run (per process, by sequence
 *   number), judges them and the still-pending ones against circulation as of the library
 *   clock (outcomes.ts), folds known outcomes into per-day summaries (quality.ts, by the day
 *   each outcome became known) and served probabilities into the CBPE estimate (by the day they
 *   were served), writes judged predictions to `prediction_outcomes`, and then computes every
 *   model × version × window (day, week, 30d) once: metrics with 95% intervals, the estimate
 *   (labelled estimated), drift per feature against the version's `driftReferences`, and the
 *   alert conditions. It publishes `model_live_metric`, `model_feature_drift` (the week window)
 *   and `model_offline_metric`, and replaces the snapshot `health()` reads. Runs never overlap.
 * - `health(model, window)` only reads the last snapshot: the graph's answer path does no work.
 * - A known outcome stays joined to the prediction it was judged with: a prediction of the same
 *   subject read in a later pass or run (logged late, or read after a restart, when the log is
 *   taken `readBatch` records at a time) is not joined. With the log's delay of about a second
 *   and a day's granularity, that only matters on a first run over more than `readBatch` records.
 * - Drift windows hold the population the version's references (and the calibration windows
 *   its `driftThresholds` were fitted on, src/training/calibration-windows.ts) hold, whatever
 *   the traffic asked about and how often:
 *   - overdue: each loan once, on its checkout day: the first prediction of the loan made on
 *     the day it was checked out, with that prediction's score and the loan's features as of
 *     that day (recomputed with `overdueCheckoutFeatures`, so a renewal or return since does not
 *     show). Predictions of a loan on later days, and loans first asked about after their
 *     checkout day, are left out: open loans on a day over-represent long loans and DVDs
 *     (length-biased sampling), while the reference is loans at checkout.
 *   - churn: each member once a day, answered by the model (the active members; LAPSED answers
 *     by rule are out), features recomputed as of that day: the reference is active members at
 *     monthly cut-offs, each once.
 *   - segmentation: each member asked about once a day, with the segment given and the
 *     features recomputed as of that day (its log holds RFM figures under other names than the
 *     features of its references, which matched none before). Not yet its reference's
 *     population (every member on the training date): the members asked about are a subset
 *     the traffic chooses, and its calibration windows are the week's borrowers, a third one.
 *   - recommendations: the day's borrowers, on each day a version served lists (lists carry
 *     no features or score), once the day is over: the genre of each book checked out, and a
 *     sample of the borrowers' history lengths as of the day. The traffic does not choose
 *     them: they are the population of its references and calibration windows (what members
 *     borrow and how much history they bring is what it is asked with).
 *   - the models that log their features (demand): each subject once a day, with the features
 *     logged.
 * - Overdue's outcome ratio counts the loans whose checkout-day prediction the monitor saw, each
 *   judged with its prediction live at the outcome (as the other figures). A loan first asked
 *   about when already out has survived its first days unreturned: the on-time early returns of
 *   its kind are missing, so such loans come back late more often than their probabilities say
 *   (left truncation). The loans already out when the log began are such loans, and they were
 *   the ones settled in the first two weeks of a run.
 * - Memory is bounded by the windows (30 day summaries per version and figure), one pending
 *   prediction per subject (loan, member@day, book@week) without its features and factors, the
 *   subjects judged in the last 31 days, at most `driftSample` values per feature, version and
 *   day, the subjects taken into a drift window in the last 30 days, the pending loans seen on
 *   their checkout day, and per member its last 30 segment changes.
 *
 * Alerts are the conditions of monitoring/alerts.yml's model rules evaluated on the same
 * figures at the time of the run, without the rules' `for` durations; Prometheus' alert API is
 * not read. The outcome ratio expects, of each prediction, its probability times the factor of
 * the week of the year it is settled in, when the version's metadata holds `outcomeSeasons`
 * (seasons.ts). Drift uses the version's reference distributions with the thresholds of its
 * metadata's `driftThresholds` when it has them, else the default thresholds of drift.ts
 * (Evidently's), the p-value tests' α in both cases Bonferroni-divided among the version's
 * features × a year of days (thresholds.ts). A feature's window larger than the windows its thresholds
 * were calibrated on (`driftThresholds.windowRows`) is sampled down to that size first: a p-value
 * threshold holds only at the size it was calibrated at. The features recomputed for churn and
 * overdue are a random sample of a run's window population (at most `featureSample`). The score is compared for the classifiers (their probability); list,
 * forecast and segment models are compared on the features they log.
 */
import { CHURN_FEATURE_NAMES, churnFeatures } from '../features/churn';
import { OVERDUE_FEATURE_NAMES, overdueCheckoutFeatures } from '../features/overdue';
import { borrowingHistories } from '../features/recommendations';
import { SEGMENTATION_FEATURE_NAMES, segmentationFeatures } from '../features/segmentation';
import type { Logger } from '../logging';
import type { ProcessMetrics } from '../metrics';
import { listModels, readMetadata } from '../registry';
import type { Store } from '../store';
import { inChunks } from '../store/in-chunks';
import { addDays } from '../util/dates';
import { sampleWithoutReplacement } from '../ml/trees/params';
import { Random } from '../util/random';
import { addToCalibration, binsOf, emptyCalibrationSums, mergeCalibration, type CalibrationBin, type CalibrationSums } from './calibration';
import { compareWindow, type DriftConfig, type DriftReferences, type FeatureDrift, type FeatureValue } from './drift';
import { publishDrift, publishLiveQuality } from './gauges';
import { upsertPredictionOutcomes, type PredictionOutcomeTable } from './outcome-store';
import { answeredByRule, isJudgedModel, judgeOutcomes, liveOutcomes, madeLater, predictionDay, RECOMMENDATION_HIT_DAYS, segmentChanges, type Judgement } from './outcomes';
import type { PredictionRecord } from './prediction-log';
import { recordsOf, type PredictionLogDatabase, type StoreDb } from './prediction-log-store';
import {
  ClassifierQualityWindows,
  DemandQualityWindows,
  EstimatedQualityWindows,
  figuresOf,
  heldOutWeeksOf,
  liveMetricName,
  OUTCOME_RATIO_BOUNDS,
  OutcomeRatioWindows,
  qualityFloor,
  RecommendationQualityWindows,
  SegmentStabilityWindows,
} from './quality';
import { outcomeSeasonsOf, type OutcomeSeasons } from './seasons';
import { driftThresholdsOf, monitoredDriftConfig } from './thresholds';
import type { Interval } from './statistics';
import { SegmentHistory } from './segment-history';
import { DailyWindows, LONGEST_WINDOW_DAYS, QUALITY_WINDOWS, WINDOW_DAYS, type QualityWindow } from './windows';
import path from 'node:path';
import type { Kysely } from 'kysely';

/** The key of the score's reference among a version's `driftReferences`; published as feature "score". */
export const SCORE_REFERENCE = '__score__';
/** Recommendation lists are judged at this depth (the graph's default `first`). */
export const RECOMMENDATION_K = 10;
const CLASSIFIERS = new Set(['overdue', 'churn']);
/** The models whose drift windows are built by the monitor's population rules, with features recomputed (see the contract). */
const RECOMPUTED = ['overdue', 'churn', 'segmentation'] as const;
type RecomputedModel = (typeof RECOMPUTED)[number];
const isRecomputed = (model: string): model is RecomputedModel => (RECOMPUTED as readonly string[]).includes(model);
/** Days a drift window reaches back (the longest window). */
const DRIFT_DAYS = WINDOW_DAYS['30d'];
const DEFAULT_THRESHOLD = 0.5;
/** The metrics ModelQualityBelowOffline compares with the version's held-out figures (higher is better for each). */
const QUALITY_METRICS = ['auc', 'precision', 'recall', 'hit_rate', 'ndcg'] as const;

export interface LiveMetric extends Interval {
  /** The snake_case name published in model_live_metric (auc, log_loss, hit_rate, mae_ratio, ...). */
  name: string;
  /** True for CBPE estimates from served probabilities, before outcomes are known. */
  estimated: boolean;
  /** Rows behind the figure (outcomes, lists, series-weeks, members or served predictions). */
  rows: number;
}

export interface ActiveAlert {
  /** The rule's name in monitoring/alerts.yml. */
  name: string;
  severity: 'warning' | 'critical';
  summary: string;
}

export interface ModelHealth {
  model: string;
  version: string;
  window: QualityWindow;
  /** The library day the window ends on. */
  asOf: string;
  computedAt: string;
  metrics: LiveMetric[];
  /** False when the version's metadata holds no drift references ("no reference"). */
  driftReference: boolean;
  drift: FeatureDrift[];
  alerts: ActiveAlert[];
  /** Outcomes known in the window, and predictions still waiting for theirs (all days). */
  knownOutcomes: number;
  pendingOutcomes: number;
  /** Classifiers: known outcomes in the window by 10 bins of predicted probability; empty for the other models. */
  calibration: CalibrationBin[];
}

export interface MonitorDeps {
  /** A writable store (the library subgraph's). */
  store: Store;
  modelsDir: string;
  metrics: Pick<ProcessMetrics, 'modelLiveMetric' | 'modelFeatureDrift' | 'modelOfflineMetric' | 'predictionLogMissing'>;
  logger: Logger;
  /** The library clock's date now. */
  clock: () => Promise<string>;
}

export interface MonitorOptions {
  /** Log records folded per pass; a run takes as many passes as the new records need. */
  readBatch?: number;
  /** Most feature values kept per feature, version and day for the drift windows. */
  driftSample?: number;
  /** Most predictions per model and run whose features are recomputed for drift when the log holds none. */
  featureSample?: number;
  /** Write judged predictions to `prediction_outcomes` (default true; a one-off reader such as a model card leaves the store alone). */
  persist?: boolean;
}

interface VersionMetadata {
  threshold: number;
  references: DriftReferences | null;
  driftConfig: DriftConfig;
  offline: Record<string, number>;
  /** Per metric of QUALITY_METRICS the version has a held-out figure of: the level a live week's upper 95% bound must stay above (quality.ts `qualityFloor`). */
  floors: Record<string, number>;
  /** The version's seasonal expectation of its outcome ratio (metadata `outcomeSeasons`), or null to judge against 1. */
  outcomeSeasons: OutcomeSeasons | null;
}

/**
 * What a prediction waiting for its outcome keeps: what judging it (outcomes.ts) and its row
 * (`row`) read. Its features, factors and request id are in the log and not needed here.
 */
function pendingForm(record: PredictionRecord): PredictionRecord {
  const { processId, sequence, acceptedThrough, at, asOf, model, version, arm, entityKind, entityId, score, items, label } = record;
  return { processId, sequence, acceptedThrough, requestId: '', at, asOf, model, version, arm, entityKind, entityId, score, items, label, factors: [], features: null, featureRef: null };
}

/** A reservoir of feature values per day. */
interface ValueSample {
  values: FeatureValue[];
  seen: number;
}

class VersionState {
  /** Something was folded in since the last snapshot. */
  dirty = true;
  readonly labelled: ClassifierQualityWindows;
  readonly estimated: EstimatedQualityWindows;
  readonly outcomes: OutcomeRatioWindows;
  readonly recommendations = new RecommendationQualityWindows(RECOMMENDATION_K);
  readonly demand = new DemandQualityWindows();
  readonly segments = new SegmentStabilityWindows();
  readonly drift = new Map<string, DailyWindows<ValueSample, FeatureValue>>();
  readonly calibration = new DailyWindows<CalibrationSums, { score: number; outcome: number }>({
    empty: () => emptyCalibrationSums(),
    add: (sums, { score, outcome }) => addToCalibration(sums, score, outcome),
    merge: mergeCalibration,
  });
  readonly knownDays = new DailyWindows<{ n: number }, number>({ empty: () => ({ n: 0 }), add: (s) => void (s.n += 1), merge: (into, from) => void (into.n += from.n) });

  constructor(readonly model: string, readonly version: string, readonly metadata: VersionMetadata, private readonly driftSample: number, private readonly random: Random) {
    this.labelled = new ClassifierQualityWindows(metadata.threshold);
    this.estimated = new EstimatedQualityWindows(metadata.threshold);
    this.outcomes = new OutcomeRatioWindows(metadata.outcomeSeasons);
  }

  addFeatures(day: string, values: Record<string, FeatureValue>): void {
    for (const [feature, value] of Object.entries(values)) {
      let windows = this.drift.get(feature);
      if (!windows) {
        const cap = this.driftSample;
        const random = this.random;
        windows = new DailyWindows<ValueSample, FeatureValue>({
          empty: () => ({ values: [], seen: 0 }),
          add(sample, v) {
            sample.seen += 1;
            if (sample.values.length < cap) sample.values.push(v);
            else {
              const slot = random.int(sample.seen);
              if (slot < cap) sample.values[slot] = v;
            }
          },
          merge(into, from) {
            into.values.push(...from.values);
            into.seen += from.seen;
          },
        });
        this.drift.set(feature, windows);
      }
      windows.add(day, value);
    }
  }
}

function snake(name: string): string {
  return liveMetricName(name);
}

function figures(quality: object, rows: number, estimated: boolean): LiveMetric[] {
  return Object.entries(figuresOf(quality)).map(([name, interval]) => ({ name: snake(name), ...interval, estimated, rows }));
}

/** The version's references: `driftReferences` of its metadata, as DriftReferences or as a bare map of features. */
function referencesOf(raw: unknown): DriftReferences | null {
  if (!raw || typeof raw !== 'object') return null;
  const record = raw as Record<string, unknown>;
  const features = record.features && typeof record.features === 'object' ? record.features : record;
  return Object.keys(features).length > 0 ? { features: features as DriftReferences['features'] } : null;
}

/**
 * The conditions of monitoring/alerts.yml's model rules, on one version's figures: drift on the
 * week window, AUC and the held-out comparisons (`floors`, by metric: see quality.ts
 * `qualityFloor`) on the week, demand on 30 days.
 */
export function alertConditions(model: string, version: string, byWindow: Record<QualityWindow, { metrics: LiveMetric[]; drift: FeatureDrift[] }>, floors: Record<string, number>): ActiveAlert[] {
  const alerts: ActiveAlert[] = [];
  const week = byWindow.week;
  const drifted = week.drift.filter((d) => d.drifted);
  for (const d of drifted.filter((d) => d.feature !== SCORE_REFERENCE)) alerts.push({ name: 'ModelFeatureDrift', severity: 'warning', summary: `${model} ${version}: feature ${d.feature} has drifted (${d.test} ${d.statistic.toFixed(3)})` });
  if (drifted.some((d) => d.feature === SCORE_REFERENCE)) alerts.push({ name: 'ModelScoreDrift', severity: 'warning', summary: `${model} ${version}: its scores have drifted` });
  const labelled = (window: QualityWindow, name: string) => byWindow[window].metrics.find((m) => m.name === name && !m.estimated);
  const auc = labelled('week', 'auc');
  if (auc && Number.isFinite(auc.value) && auc.value < 0.6) alerts.push({ name: 'ModelAucBelowFloor', severity: 'critical', summary: `${model} ${version}: live AUC ${auc.value.toFixed(3)} is below 0.6` });
  for (const metric of QUALITY_METRICS) {
    const live = labelled('week', metric);
    const floor = floors[metric];
    if (live && floor !== undefined && Number.isFinite(live.high) && live.high < floor) {
      alerts.push({ name: 'ModelQualityBelowOffline', severity: 'warning', summary: `${model} ${version}: live ${metric} is below its offline figure (upper 95% bound ${live.high.toFixed(3)} < ${floor.toFixed(3)}, the held-out weeks' floor)` });
    }
  }
  const outcomes = labelled('week', 'outcome_ratio');
  if (outcomes && (outcomes.low > OUTCOME_RATIO_BOUNDS.above || outcomes.high < OUTCOME_RATIO_BOUNDS.below)) {
    const way = outcomes.low > OUTCOME_RATIO_BOUNDS.above ? 'more' : 'less';
    alerts.push({ name: 'ModelOutcomeRateShift', severity: 'warning', summary: `${model} ${version}: outcomes are ${outcomes.value.toFixed(2)} times as frequent as its probabilities expect (${way} than the 95% interval allows)` });
  }
  const ratio = labelled('30d', 'mae_ratio');
  if (ratio && Number.isFinite(ratio.low) && ratio.low > 1) alerts.push({ name: 'DemandWorseThanSeasonalNaive', severity: 'warning', summary: `${model} ${version}: forecasts are worse than last year's loans (MAE ratio ≥ ${ratio.low.toFixed(2)})` });
  return alerts;
}

/** The entries of a monitor's snapshot for `model` and `window`, newest version first. */
export function healthIn(snapshot: Iterable<ModelHealth>, model: string, window: QualityWindow): ModelHealth[] {
  return [...snapshot].filter((h) => h.model === model && h.window === window).sort((a, b) => (a.version < b.version ? 1 : -1));
}

export class LiveMonitor {
  private readonly cursors = new Map<string, number>();
  private readonly versions = new Map<string, VersionState>();
  private readonly metadataCache = new Map<string, VersionMetadata>();
  /** Per model: subject → the latest prediction waiting for its outcome. */
  private readonly pending = new Map<string, Map<string, PredictionRecord>>();
  /** Per model: subjects already judged, with the day they became known. */
  private readonly resolved = new Map<string, Map<string, string>>();
  /** Per day: the `model@version:subject`s already in that day's drift window (each subject once a day). */
  private readonly admitted = new Map<string, Set<string>>();
  /** Overdue's loans (`loan:ID`) the log holds a checkout-day prediction of, until their outcome is known. */
  private readonly seenAtCheckout = new Set<string>();
  /** Per recommendations version: the days it served lists on whose borrowers are not yet in its drift window. */
  private readonly listDays = new Map<string, Set<string>>();
  /** Runs so far, and per model the run its pending predictions were last judged in. */
  private runs = 0;
  private readonly pendingJudgedIn = new Map<string, number>();
  /** Per member: segments served, by day, ascending (for segment stability and slicing). */
  private readonly segments = new Map<string, { day: string; segment: string }>();
  private readonly segmentHistory = new SegmentHistory();
  private snapshot = new Map<string, ModelHealth>();
  private snapshotClock = '';
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly random = new Random(1);
  private readonly readBatch: number;
  private readonly driftSample: number;
  private readonly featureSample: number;
  private readonly persist: boolean;

  constructor(private readonly deps: MonitorDeps, { readBatch = 50_000, driftSample = 2_000, featureSample = 500, persist = true }: MonitorOptions = {}) {
    this.persist = persist;
    this.readBatch = readBatch;
    this.driftSample = driftSample;
    this.featureSample = featureSample;
  }

  /**
   * Runs every `intervalMs` in the background (the first run at once); a failed run is logged and
   * retried next time. `afterRun` hears each run that completed (the monitor's thread posts the
   * snapshot and gauges to the serving thread from there).
   */
  start(intervalMs: number, afterRun: () => void = () => undefined): void {
    if (this.timer || intervalMs <= 0) return;
    const tick = () => {
      this.runOnce().then(afterRun, (error: Error) => this.deps.logger.warn({ err: error.message }, 'the live monitor run failed; tried again next interval'));
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
    tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** The last computed health of `model`'s versions for `window`, newest version first; empty before the first run. */
  health(model: string, window: QualityWindow): ModelHealth[] {
    return healthIn(this.snapshot.values(), model, window);
  }

  /** Every entry of the last computed snapshot (each model, version and window), for another thread to read with `healthIn`. */
  snapshotEntries(): ModelHealth[] {
    return [...this.snapshot.values()];
  }

  runOnce(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    const clock = await this.deps.clock();
    this.runs += 1;
    // A long log (the first run after a restart) is taken a slice at a time, so memory holds one slice.
    for (;;) {
      const records = await this.readNewRecords();
      await this.fold(records, clock);
      if (records.length < this.readBatch) break;
    }
    await this.computeSnapshot(clock);
  }

  private async fold(records: readonly PredictionRecord[], clock: string): Promise<void> {
    this.foldSegments(records);
    for (const record of records) this.foldServed(record);
    await this.foldRecomputedPopulations(records);
    await this.foldBorrowers(records, clock);
    for (const day of this.admitted.keys()) if (day <= addDays(clock, -DRIFT_DAYS)) this.admitted.delete(day);
    const rows: PredictionOutcomeTable[] = [];
    for (const model of new Set([...records.map((r) => r.model), ...this.pending.keys()])) {
      if (!isJudgedModel(model)) continue;
      rows.push(...(await this.judge(model, records.filter((r) => r.model === model), clock)));
    }
    if (this.persist) {
      await this.addContext(rows);
      await upsertPredictionOutcomes(this.deps.store.db, rows);
    }
  }

  private get logDb(): Kysely<PredictionLogDatabase> {
    return this.deps.store.db as StoreDb;
  }

  /**
   * About `readBatch` records written since the last read, across processes: whole rows of the
   * log (each one to `MAX_RECORDS_PER_ROW` records), until they hold at least that many.
   */
  private async readNewRecords(): Promise<PredictionRecord[]> {
    const processes = await this.logDb.selectFrom('prediction_log').select('process_id').distinct().execute();
    const records: PredictionRecord[] = [];
    for (const { process_id: processId } of processes) {
      const room = this.readBatch - records.length;
      if (room <= 0) break;
      const after = this.cursors.get(processId) ?? 0;
      const rows = await this.logDb.selectFrom('prediction_log').selectAll().where('process_id', '=', processId).where('sequence', '>', after).orderBy('sequence').limit(room).execute();
      for (const row of rows) {
        for (const record of recordsOf(row)) records.push(record);
        this.cursors.set(processId, Number(row.sequence));
        if (records.length >= this.readBatch) break;
      }
    }
    return records;
  }

  private metadataOf(model: string, version: string): VersionMetadata {
    const key = `${model}@${version}`;
    const cached = this.metadataCache.get(key);
    if (cached) return cached;
    let metadata: VersionMetadata = { threshold: DEFAULT_THRESHOLD, references: null, driftConfig: {}, offline: {}, floors: {}, outcomeSeasons: null };
    try {
      const entry = listModels(this.deps.modelsDir, model).find((v) => v.version === version);
      if (!entry) throw new Error(`${model} ${version} is not in the registry`);
      const read = readMetadata(path.join(this.deps.modelsDir, entry.dir)) as unknown as {
        serving?: { riskThresholds?: { high?: number } };
        driftReferences?: unknown;
        outcomeSeasons?: unknown;
        driftThresholds?: unknown;
        metrics?: { heldOut?: Record<string, number>; heldOutWeeks?: unknown };
      };
      const high = read.serving?.riskThresholds?.high;
      const references = referencesOf(read.driftReferences);
      const stored = driftThresholdsOf(read.driftThresholds);
      if (read.driftThresholds !== undefined && !stored) this.deps.logger.warn({ model, version }, "the version's driftThresholds are malformed; its drift is judged with the default thresholds");
      const offline = Object.fromEntries(Object.entries(read.metrics?.heldOut ?? {}).map(([name, value]) => [snake(name), value]));
      const weeks = Object.fromEntries(Object.entries(heldOutWeeksOf(read.metrics?.heldOutWeeks)).map(([name, value]) => [snake(name), value]));
      metadata = {
        threshold: typeof high === 'number' && high >= 0 && high <= 1 ? high : DEFAULT_THRESHOLD,
        references,
        driftConfig: references ? monitoredDriftConfig(references, stored) : {},
        offline,
        floors: Object.fromEntries(QUALITY_METRICS.flatMap((m) => (Number.isFinite(offline[m]) ? [[m, qualityFloor(offline[m] ?? NaN, weeks[m])]] : []))),
        outcomeSeasons: outcomeSeasonsOf(read.outcomeSeasons),
      };
    } catch (error) {
      this.deps.logger.warn({ model, version, err: (error as Error).message }, 'no registry metadata for a logged version; monitored without thresholds, references or offline figures');
    }
    this.metadataCache.set(key, metadata);
    for (const [metric, value] of Object.entries(metadata.offline)) if (Number.isFinite(value)) this.deps.metrics.modelOfflineMetric.set({ model, version, metric }, value);
    for (const [metric, value] of Object.entries(metadata.floors)) this.deps.metrics.modelOfflineMetric.set({ model, version, metric: `${metric}_floor` }, value);
    return metadata;
  }

  private state(model: string, version: string): VersionState {
    const key = `${model}@${version}`;
    let state = this.versions.get(key);
    if (!state) {
      state = new VersionState(model, version, this.metadataOf(model, version), this.driftSample, this.random);
      this.versions.set(key, state);
    }
    state.dirty = true;
    return state;
  }

  private isClassifierRecord(record: PredictionRecord): boolean {
    return CLASSIFIERS.has(record.model) && record.score !== null && !answeredByRule(record) && (record.model !== 'overdue' || record.entityKind === 'loan');
  }

  /** True the first time `subject` of `model@version` is offered for `day`'s drift window. */
  private admit(record: PredictionRecord, day: string): boolean {
    const key = `${record.model}@${record.version}:${record.entityKind}:${record.entityId}`;
    let subjects = this.admitted.get(day);
    if (!subjects) {
      subjects = new Set();
      this.admitted.set(day, subjects);
    }
    if (subjects.has(key)) return false;
    subjects.add(key);
    return true;
  }

  /** Served probabilities into the estimate; the logged features of the models whose features are not recomputed into drift, each subject once a day. */
  private foldServed(record: PredictionRecord): void {
    const state = this.state(record.model, record.version);
    const day = predictionDay(record);
    if (this.isClassifierRecord(record) && record.score !== null) state.estimated.add(day, Math.min(1, Math.max(0, record.score)));
    if (isRecomputed(record.model) || record.model === 'recommendations' || !this.admit(record, day)) return;
    state.addFeatures(day, { ...(record.features ?? {}) });
  }

  /**
   * The drift populations of the models whose features are recomputed (the contract's rules)
   * from a pass's records: each admitted record's score (the segment given, for segmentation),
   * and for a random sample of them, the features recomputed point in time by the reference's
   * own feature code (segmentation logs its RFM figures under other names than its features').
   * Marks overdue's loans seen on their checkout day.
   */
  private async foldRecomputedPopulations(records: readonly PredictionRecord[]): Promise<void> {
    const loans = records.filter((r) => r.model === 'overdue' && this.isClassifierRecord(r));
    const checkedOut = await checkoutDays(this.deps.store, loans.map((r) => Number(r.entityId)));
    const atCheckout = loans.filter((r) => checkedOut.get(Number(r.entityId)) === predictionDay(r));
    for (const r of atCheckout) this.seenAtCheckout.add(`loan:${r.entityId}`);
    const candidates: Record<RecomputedModel, PredictionRecord[]> = {
      overdue: atCheckout,
      churn: records.filter((r) => r.model === 'churn' && this.isClassifierRecord(r)),
      segmentation: records.filter((r) => r.model === 'segmentation' && r.entityKind === 'member' && r.label !== null && r.label !== undefined),
    };
    for (const model of RECOMPUTED) {
      const population = candidates[model].filter((r) => this.admit(r, predictionDay(r)));
      for (const r of population) this.state(r.model, r.version).addFeatures(predictionDay(r), { [SCORE_REFERENCE]: model === 'segmentation' ? (r.label ?? null) : r.score });
      // A random sample, not the last ones read: a batch served in member or loan order would leave the newest members' rows only.
      const wanted = this.featureSampleOf(population);
      const rows = await this.featureRows(model, wanted);
      for (const r of wanted) {
        const row = rows.get(`${Number(r.entityId)}@${predictionDay(r)}`);
        if (row) this.state(r.model, r.version).addFeatures(predictionDay(r), row);
      }
    }
  }

  /**
   * Recommendations' drift population (its reference's and calibration windows'): each day a
   * version served lists on, once that day is over, the genre of every book checked out that
   * day (`borrowed_genre`) and the history length of each member who borrowed (`history_books`,
   * as of the day; a random sample of at most `featureSample`). Lists carry no features or score.
   */
  private async foldBorrowers(records: readonly PredictionRecord[], clock: string): Promise<void> {
    for (const r of records) {
      if (r.model !== 'recommendations' || r.entityKind !== 'member' || !r.items) continue;
      const days = this.listDays.get(r.version) ?? new Set<string>();
      days.add(predictionDay(r));
      this.listDays.set(r.version, days);
    }
    const oldest = addDays(clock, -DRIFT_DAYS);
    for (const [version, days] of this.listDays) {
      for (const day of [...days].sort()) {
        if (day >= clock) continue;
        days.delete(day);
        if (day <= oldest) continue;
        const loans = await this.deps.store.db
          .selectFrom('loans')
          .innerJoin('books', 'books.id', 'loans.book_id')
          .select(['loans.member_id', 'books.genre'])
          .where('loans.checked_out_at', '=', day)
          .execute();
        const state = this.state('recommendations', version);
        for (const loan of loans) state.addFeatures(day, { borrowed_genre: loan.genre ?? 'unknown' });
        const members = [...new Set(loans.map((l) => l.member_id))];
        const wanted = this.featureSampleOf(members);
        for (const history of await borrowingHistories(this.deps.store, wanted, day)) if (history) state.addFeatures(day, { history_books: history.bookIds.length });
      }
    }
  }

  /** At most `featureSample` of `items`, drawn at random (all of them when they are fewer). */
  private featureSampleOf<T>(items: readonly T[]): readonly T[] {
    return items.length <= this.featureSample ? items : Array.from(sampleWithoutReplacement(items.length, this.featureSample, this.random), (i) => items[i]!);
  }

  /** `model`'s features of each record's subject as of the record's day (overdue: its loan's checkout day), by `id@day`. */
  private async featureRows(model: RecomputedModel, records: readonly PredictionRecord[]): Promise<Map<string, Record<string, number>>> {
    const rows = new Map<string, Record<string, number>>();
    if (model === 'overdue') {
      const day = new Map(records.map((r) => [Number(r.entityId), predictionDay(r)]));
      const batch = await overdueCheckoutFeatures(this.deps.store, [...day.keys()].filter(Number.isInteger));
      batch.loanIds.forEach((id, i) => rows.set(`${id}@${day.get(id) ?? ''}`, rowOf(OVERDUE_FEATURE_NAMES, batch.values, i)));
      return rows;
    }
    for (const day of new Set(records.map(predictionDay))) {
      const ids = [...new Set(records.filter((r) => predictionDay(r) === day).map((r) => Number(r.entityId)).filter(Number.isInteger))];
      const batch = model === 'churn' ? await churnFeatures(this.deps.store, ids, day) : await segmentationFeatures(this.deps.store, ids, day);
      const names = model === 'churn' ? CHURN_FEATURE_NAMES : SEGMENTATION_FEATURE_NAMES;
      batch.memberIds.forEach((id, i) => rows.set(`${id}@${day}`, rowOf(names, batch.values, i)));
    }
    return rows;
  }

  private foldSegments(records: readonly PredictionRecord[]): void {
    for (const change of segmentChanges(records, this.segments)) this.state('segmentation', change.version).segments.add(change.day, change.previous, change.segment);
    for (const r of records) {
      if (r.model !== 'segmentation' || !r.label) continue;
      this.segmentHistory.add(r.entityId, predictionDay(r), r.label);
    }
  }

  /** Judges new and pending predictions of one model; returns the rows to write. */
  private async judge(model: string, fresh: readonly PredictionRecord[], clock: string): Promise<PredictionOutcomeTable[]> {
    const pending = this.pending.get(model) ?? new Map<string, PredictionRecord>();
    this.pending.set(model, pending);
    const resolved = this.resolved.get(model) ?? new Map<string, string>();
    this.resolved.set(model, resolved);
    // The pending ones once a run (a later slice's pass has the same clock and circulation), and a
    // recommendation list only once its window is over: its outcome cannot be known before.
    const again = this.pendingJudgedIn.get(model) === this.runs ? [] : [...pending.values()].filter((p) => model !== 'recommendations' || addDays(predictionDay(p), RECOMMENDATION_HIT_DAYS) < clock);
    this.pendingJudgedIn.set(model, this.runs);
    const candidates = new Map<string, PredictionRecord>();
    for (const r of [...again, ...fresh]) candidates.set(`${r.processId}#${r.sequence}#${r.entityKind}:${r.entityId}`, r);
    const judgements = (await judgeOutcomes(this.deps.store, model, [...candidates.values()], clock)).filter((j) => !resolved.has(j.subject));
    const rows: PredictionOutcomeTable[] = [];
    for (const j of liveOutcomes(judgements)) {
      resolved.set(j.subject, j.outcome?.knownOn ?? clock);
      pending.delete(j.subject);
      const fromCheckout = this.seenAtCheckout.delete(j.subject);
      this.foldOutcome(model, j, model !== 'overdue' || fromCheckout);
      rows.push(this.row(model, j));
    }
    for (const j of judgements) {
      if (j.status !== 'pending' || resolved.has(j.subject)) continue;
      const seen = pending.get(j.subject);
      if (seen && !madeLater(j.prediction, seen)) continue;
      pending.set(j.subject, pendingForm(j.prediction));
      rows.push(this.row(model, j));
    }
    // A loan seen on its checkout day and not pending was judged after the fact (back the same day): nothing to wait for.
    if (model === 'overdue') for (const subject of this.seenAtCheckout) if (!pending.has(subject)) this.seenAtCheckout.delete(subject);
    // A subject known before the longest window can change no window if judged again (its day is
    // forgotten there), and its stored row is fixed once known (upsertPredictionOutcomes).
    const forgotten = addDays(clock, -LONGEST_WINDOW_DAYS - 1);
    for (const [subject, knownOn] of resolved) if (knownOn < forgotten) resolved.delete(subject);
    return rows;
  }

  /** `inOutcomeRatio`: the prediction belongs to the outcome ratio's population (see the contract). */
  private foldOutcome(model: string, j: Judgement, inOutcomeRatio: boolean): void {
    const outcome = j.outcome;
    if (!outcome) return;
    const state = this.state(model, j.prediction.version);
    state.knownDays.add(outcome.knownOn, 1);
    switch (model) {
      case 'overdue':
      case 'churn':
        if (j.prediction.score !== null) {
          const probability = Math.min(1, Math.max(0, j.prediction.score));
          state.labelled.add(outcome.knownOn, { probability, label: outcome.value > 0 ? 1 : 0 });
          if (inOutcomeRatio) state.outcomes.add(outcome.settledOn ?? outcome.knownOn, { probability, label: outcome.value > 0 ? 1 : 0 });
          state.calibration.add(outcome.knownOn, { score: probability, outcome: outcome.value });
        }
        break;
      case 'recommendations':
        state.recommendations.add(outcome.knownOn, outcome.ranked ?? [], new Set(outcome.borrowed ?? []));
        break;
      case 'demand':
        state.demand.add(outcome.knownOn, { actual: outcome.value, forecast: outcome.forecast ?? 0, seasonalNaive: outcome.seasonalNaive ?? 0 });
        break;
      default:
        break;
    }
  }

  private row(model: string, j: Judgement): PredictionOutcomeTable {
    const p = j.prediction;
    return {
      model,
      subject: j.subject,
      version: p.version,
      arm: p.arm,
      entity_kind: p.entityKind,
      entity_id: p.entityId,
      process_id: p.processId,
      sequence: p.sequence,
      predicted_on: predictionDay(p),
      score: model === 'demand' ? (j.outcome?.forecast ?? p.items?.find((i) => j.subject.endsWith(`@${i.id}`))?.score ?? null) : p.score,
      branch_id: null,
      segment: null,
      status: j.status === 'known' ? 'known' : 'pending',
      outcome: j.outcome?.value ?? null,
      known_on: j.outcome?.knownOn ?? null,
    };
  }

  /** Branch (the member's home branch, or the loan's) and the member's segment on the prediction's day. */
  private async addContext(rows: PredictionOutcomeTable[]): Promise<void> {
    const db = this.deps.store.db;
    const memberIds = [...new Set(rows.filter((r) => r.entity_kind === 'member').map((r) => Number(r.entity_id)))].filter(Number.isInteger);
    const loanIds = [...new Set(rows.filter((r) => r.entity_kind === 'loan').map((r) => Number(r.entity_id)))].filter(Number.isInteger);
    const memberRows = await inChunks(memberIds, (slice) => db.selectFrom('members').select(['id', 'branch_id']).where('id', 'in', slice).execute());
    const loanRows = await inChunks(loanIds, (slice) => db.selectFrom('loans').select(['id', 'member_id', 'branch_id']).where('id', 'in', slice).execute());
    const members = new Map(memberRows.map((m) => [m.id, m.branch_id]));
    const loans = new Map(loanRows.map((l) => [l.id, { member: l.member_id, branch: l.branch_id }]));
    for (const row of rows) {
      if (row.entity_kind === 'member') {
        row.branch_id = members.get(Number(row.entity_id)) ?? null;
        row.segment = this.segmentHistory.on(row.entity_id, row.predicted_on);
      } else if (row.entity_kind === 'loan') {
        const loan = loans.get(Number(row.entity_id));
        row.branch_id = loan?.branch ?? null;
        row.segment = loan ? this.segmentHistory.on(String(loan.member), row.predicted_on) : null;
      }
    }
  }

  /**
   * Figures of every version whose summaries changed (or all, when the clock moved); the others
   * keep their last ones. Versions are computed one event-loop turn apart, so requests this
   * process serves wait at most for one version's bootstrap intervals.
   */
  private async computeSnapshot(clock: string): Promise<void> {
    const next = new Map<string, ModelHealth>();
    const computedAt = new Date().toISOString();
    const clockMoved = clock !== this.snapshotClock;
    for (const state of this.versions.values()) {
      const { model, version, metadata } = state;
      if (!state.dirty && !clockMoved) {
        for (const window of QUALITY_WINDOWS) {
          const kept = this.snapshot.get(`${model}@${version}@${window}`);
          if (kept) next.set(`${model}@${version}@${window}`, kept);
        }
        continue;
      }
      state.dirty = false;
      await new Promise<void>((resolve) => setImmediate(resolve));
      const byWindow = {} as Record<QualityWindow, { metrics: LiveMetric[]; drift: FeatureDrift[] }>;
      for (const window of QUALITY_WINDOWS) {
        const metrics = this.metricsOf(state, clock, window);
        const drift = metadata.references ? compareWindow(metadata.references, this.driftWindow(state, clock, window), metadata.driftConfig) : [];
        byWindow[window] = { metrics, drift };
        for (const m of metrics) publishLiveQuality(this.deps.metrics, { model, version, window }, { [m.estimated ? `estimated_${m.name}` : m.name]: m });
      }
      publishDrift(this.deps.metrics, model, version, byWindow.week.drift.map((d) => (d.feature === SCORE_REFERENCE ? { ...d, feature: 'score' } : d)));
      const alerts = alertConditions(model, version, byWindow, metadata.floors);
      const pending = [...(this.pending.get(model)?.values() ?? [])].filter((p) => p.version === version).length;
      for (const window of QUALITY_WINDOWS) {
        next.set(`${model}@${version}@${window}`, {
          model,
          version,
          window,
          asOf: clock,
          computedAt,
          metrics: byWindow[window].metrics,
          driftReference: metadata.references !== null,
          drift: byWindow[window].drift,
          alerts,
          knownOutcomes: state.knownDays.window(clock, window).n,
          pendingOutcomes: pending,
          calibration: CLASSIFIERS.has(model) ? binsOf(state.calibration.window(clock, window)) : [],
        });
      }
    }
    this.snapshot = next;
    this.snapshotClock = clock;
  }

  private metricsOf(state: VersionState, clock: string, window: QualityWindow): LiveMetric[] {
    switch (state.model) {
      case 'overdue':
      case 'churn': {
        // figuresOf keeps the Interval fields only: counts and flags stay out.
        const labelled = state.labelled.quality(clock, window);
        const estimate = state.estimated.estimate(clock, window);
        const settled = state.outcomes.quality(clock, window);
        return [
          ...(labelled.rows > 0 ? figures(labelled, labelled.rows, false) : []),
          ...(settled.rows > 0 ? figures(settled, settled.rows, false) : []),
          ...(estimate.rows > 0 ? figures(estimate, estimate.rows, true) : []),
        ];
      }
      case 'recommendations': {
        const quality = state.recommendations.quality(clock, window);
        return quality.members > 0 ? figures(quality, quality.members, false) : [];
      }
      case 'demand': {
        const quality = state.demand.quality(clock, window);
        return quality.seriesWeeks > 0 ? figures(quality, quality.seriesWeeks, false) : [];
      }
      case 'segmentation': {
        const quality = state.segments.quality(clock, window);
        return quality.members > 0 ? figures(quality, quality.members, false) : [];
      }
      default:
        return [];
    }
  }

  /**
   * Each feature's values in the window, sampled down to the size its thresholds were calibrated
   * at (`windowRows`) when larger; the same seed every time, so one window gets one verdict.
   */
  private driftWindow(state: VersionState, clock: string, window: QualityWindow): Record<string, FeatureValue[]> {
    const values: Record<string, FeatureValue[]> = {};
    const rows = state.metadata.driftConfig.windowRows ?? {};
    const random = new Random(1);
    for (const [feature, windows] of state.drift) {
      const all = windows.window(clock, window).values;
      const most = rows[feature];
      values[feature] = most === undefined || all.length <= most ? all : Array.from(sampleWithoutReplacement(all.length, most, random), (i) => all[i]!);
    }
    return values;
  }
}

/** The checkout day of each loan the store holds, by id. */
async function checkoutDays(store: Store, loanIds: readonly number[]): Promise<Map<number, string>> {
  const ids = [...new Set(loanIds)].filter(Number.isInteger);
  const loans = await inChunks(ids, (slice) => store.db.selectFrom('loans').select(['id', 'checked_out_at']).where('id', 'in', slice).execute());
  return new Map(loans.map((loan) => [loan.id, loan.checked_out_at]));
}

function rowOf(names: readonly string[], values: Float32Array, i: number): Record<string, number> {
  const row: Record<string, number> = {};
  names.forEach((name, j) => (row[name] = values[i * names.length + j] ?? NaN));
  return row;
}
