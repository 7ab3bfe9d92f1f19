/**
 * Live model health in the graph: `ModelInfo.health(window)` and `Query.predictions`.
 *
 * `health` only reads the live monitor's last snapshot (src/monitoring/monitor, run in the
 * background of this process): the answer path computes nothing. `predictions` pages the judged
 * predictions the monitor wrote (`prediction_outcomes`), each with its outcome once known, and
 * `calibration` groups their labelled rows by segment and branch, so "calibration of churn by
 * segment and branch" is one query. Analysts may read both (no personal data is in them);
 * partners only through operations in the persisted-query manifest (the gateway's rule).
 */
import { DateResolver, DateTimeResolver } from 'graphql-scalars';
import { Arg, Ctx, Field, FieldResolver, Float, ID, Int, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import { MODEL_NAMES } from '../../src/config';
import { badUserInput } from '../../src/errors';
import { calibrationBins, MAX_CALIBRATION_BINS } from '../../src/monitoring/calibration';
import type { ActiveAlert, LiveMetric, ModelHealth as MonitoredHealth } from '../../src/monitoring/monitor';
import { readLabelledScores, readPredictionOutcomes, type PredictionOutcomeFilter, type PredictionOutcomeTable } from '../../src/monitoring/outcome-store';
import type { FeatureDrift as MonitoredDrift } from '../../src/monitoring/drift';
import { WINDOW_DAYS, type QualityWindow } from '../../src/monitoring/windows';
import { addDays } from '../../src/util/dates';
import type { LibraryContext } from './context';
import { ModelInfo } from './models';
import { Book, Branch, Loan, Member, PageInfo } from './types';

export enum HealthWindow {
  DAY = 'day',
  WEEK = 'week',
  THIRTY_DAYS = '30d',
}
registerEnumType(HealthWindow, { name: 'HealthWindow', description: 'A window of library days ending on the clock: DAY (1), WEEK (7), THIRTY_DAYS (30).' });

export enum PredictionSlice {
  SEGMENT = 'SEGMENT',
  BRANCH = 'BRANCH',
}
registerEnumType(PredictionSlice, { name: 'PredictionSlice', description: 'What calibration groups predictions by.' });

export enum OutcomeStatus {
  PENDING = 'pending',
  KNOWN = 'known',
}
registerEnumType(OutcomeStatus, { name: 'OutcomeStatus', description: 'PENDING: circulation has not told yet. KNOWN: the outcome is joined.' });

@ObjectType({ description: 'One live figure of a model version over a window, with its 95% interval (null where undefined, e.g. one row).' })
export class LiveMetricFigure {
  @Field(() => String, { description: 'As in model_live_metric: auc, log_loss, calibration_error, precision, recall, outcome_ratio (observed positives over the sum of the served probabilities), hit_rate, ndcg, mae, seasonal_naive_mae, mae_ratio, unchanged.' })
  name!: string;

  @Field(() => Float, { nullable: true })
  value!: number | null;

  @Field(() => Float, { nullable: true })
  low!: number | null;

  @Field(() => Float, { nullable: true })
  high!: number | null;

  @Field(() => Boolean, { description: 'True for an estimate from the served probabilities (CBPE), made before outcomes are known.' })
  estimated!: boolean;

  @Field(() => Int, { description: 'Outcomes (or, for estimates, served predictions) behind the figure.' })
  rows!: number;
}

@ObjectType({ description: "One feature's live window against the version's training reference." })
export class FeatureDriftFigure {
  @Field(() => String, { description: 'The feature, or "score" for the model output.' })
  feature!: string;

  @Field(() => String, { description: 'ks, wasserstein, chi_squared or jensen_shannon (chosen by the feature type and window size).' })
  test!: string;

  @Field(() => Float)
  statistic!: number;

  @Field(() => Float, { nullable: true, description: 'The p-value of ks and chi_squared; null for the distances.' })
  pValue!: number | null;

  @Field(() => Float)
  threshold!: number;

  @Field(() => Float)
  psi!: number;

  @Field(() => Boolean)
  drifted!: boolean;

  @Field(() => Boolean)
  psiDrifted!: boolean;

  @Field(() => Int, { description: 'Live values compared.' })
  count!: number;
}

@ObjectType({ description: 'An alert condition of monitoring/alerts.yml that holds on the current figures.' })
export class ModelAlert {
  @Field(() => String, { description: 'The rule name in monitoring/alerts.yml.' })
  name!: string;

  @Field(() => String)
  severity!: string;

  @Field(() => String)
  summary!: string;
}

@ObjectType('ModelHealth', { description: "A model version's live quality, drift and alerts over a window, as the background monitor last computed them." })
export class ModelHealthInfo {
  @Field(() => String)
  version!: string;

  @Field(() => HealthWindow)
  window!: HealthWindow;

  @Field(() => DateResolver, { description: 'The library day the window ends on.' })
  asOf!: string;

  @Field(() => DateTimeResolver, { description: 'When the monitor computed these figures.' })
  computedAt!: Date;

  @Field(() => [LiveMetricFigure], { description: 'Figures from known outcomes, and estimates (estimated: true) from served probabilities.' })
  metrics!: LiveMetricFigure[];

  @Field(() => Boolean, { description: 'False when the version carries no drift references: drift is then empty ("no reference").' })
  driftReference!: boolean;

  @Field(() => [FeatureDriftFigure])
  drift!: FeatureDriftFigure[];

  @Field(() => [ModelAlert], { description: 'The model rules of monitoring/alerts.yml evaluated on these figures now (drift and quality on the week, demand on 30 days), without the rules\' `for` durations.' })
  alerts!: ModelAlert[];

  @Field(() => String, { description: 'Where `alerts` come from.' })
  alertSource!: string;

  @Field(() => Int, { description: 'Outcomes that became known in the window.' })
  knownOutcomes!: number;

  @Field(() => Int, { description: 'Predictions of this version still waiting for their outcome.' })
  pendingOutcomes!: number;
}

@ObjectType({ description: 'What happened after a prediction.' })
export class PredictionOutcome {
  @Field(() => Float, { description: '1 or 0 (late, churned, a hit), or the forecast week\'s checkouts.' })
  value!: number;

  @Field(() => DateResolver, { description: 'The library day it became known.' })
  knownOn!: string;
}

@ObjectType({ description: 'A served prediction the monitor judged: the one live for its subject when the outcome became known.' })
export class JudgedPrediction {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  model!: string;

  @Field(() => String)
  version!: string;

  @Field(() => String, { nullable: true })
  arm!: string | null;

  @Field(() => String, { description: 'loan, member or book.' })
  entityKind!: string;

  @Field(() => ID)
  entityId!: string;

  @Field(() => String, { description: 'What the outcome is about: loan:ID, member:ID@day, book:ID@week.' })
  subject!: string;

  @Field(() => DateResolver, { description: 'The library day the prediction was made.' })
  predictedOn!: string;

  @Field(() => Float, { nullable: true, description: 'The probability served (for demand: the forecast for the week).' })
  score!: number | null;

  @Field(() => String, { nullable: true, description: "The member's segment as last served on or before the prediction's day." })
  segment!: string | null;

  @Field(() => OutcomeStatus)
  status!: OutcomeStatus;

  @Field(() => PredictionOutcome, { nullable: true })
  outcome!: PredictionOutcome | null;

  branchId!: number | null;
}

@ObjectType({ description: 'Predictions in one bin of predicted probability, and what happened.' })
export class CalibrationBinInfo {
  @Field(() => Float)
  low!: number;

  @Field(() => Float)
  high!: number;

  @Field(() => Int)
  rows!: number;

  @Field(() => Float)
  meanPredicted!: number;

  @Field(() => Float, { description: 'Share of positive outcomes.' })
  observed!: number;

  @Field(() => Float)
  observedLow!: number;

  @Field(() => Float)
  observedHigh!: number;
}

@ObjectType({ description: 'Calibration of one group of known outcomes.' })
export class CalibrationGroup {
  @Field(() => String, { nullable: true })
  segment!: string | null;

  @Field(() => Branch, { nullable: true })
  branch!: Branch | null;

  @Field(() => Int)
  rows!: number;

  @Field(() => Float)
  meanPredicted!: number;

  @Field(() => Float)
  observed!: number;

  @Field(() => [CalibrationBinInfo])
  bins!: CalibrationBinInfo[];
}

@ObjectType()
export class JudgedPredictionConnection {
  @Field(() => [JudgedPrediction])
  nodes!: JudgedPrediction[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int)
  totalCount!: number;

  filter!: PredictionOutcomeFilter;
}

/** Most labelled rows one `calibration` reads. */
export const MAX_CALIBRATION_ROWS = 100_000;
export const MAX_PREDICTIONS_PAGE = 500;
const ALERT_SOURCE = 'monitoring/alerts.yml model rules, evaluated by the library subgraph on these figures (not read from Prometheus)';

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

function toMetric(m: LiveMetric): LiveMetricFigure {
  return { name: m.name, value: finite(m.value), low: finite(m.low), high: finite(m.high), estimated: m.estimated, rows: m.rows };
}

function toDrift(d: MonitoredDrift): FeatureDriftFigure {
  return { feature: d.feature === '__score__' ? 'score' : d.feature, test: d.test, statistic: d.statistic, pValue: d.pValue, threshold: d.threshold, psi: d.psi, drifted: d.drifted, psiDrifted: d.psiDrifted, count: d.count };
}

export function toHealth(h: MonitoredHealth): ModelHealthInfo {
  return {
    version: h.version,
    window: h.window as HealthWindow,
    asOf: h.asOf,
    computedAt: new Date(h.computedAt),
    metrics: h.metrics.map(toMetric),
    driftReference: h.driftReference,
    drift: h.drift.map(toDrift),
    alerts: h.alerts.map((a: ActiveAlert) => ({ ...a })),
    alertSource: ALERT_SOURCE,
    knownOutcomes: h.knownOutcomes,
    pendingOutcomes: h.pendingOutcomes,
  };
}

function encodeCursor(row: { predicted_on: string; subject: string }): string {
  return Buffer.from(JSON.stringify([row.predicted_on, row.subject])).toString('base64url');
}

function decodeCursor(cursor: string | null | undefined): { predictedOn: string; subject: string } | null {
  if (cursor === null || cursor === undefined) return null;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as unknown;
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && typeof parsed[1] === 'string') return { predictedOn: parsed[0], subject: parsed[1] };
  } catch {
    // Refused below with the argument named.
  }
  throw badUserInput(`after: "${cursor}" is not a cursor this API issued`, { argumentName: 'after' });
}

function toNode(row: PredictionOutcomeTable): JudgedPrediction {
  return {
    id: `${row.model}:${row.subject}`,
    model: row.model,
    version: row.version,
    arm: row.arm,
    entityKind: row.entity_kind,
    entityId: row.entity_id,
    subject: row.subject,
    predictedOn: row.predicted_on,
    score: row.score === null ? null : Number(row.score),
    segment: row.segment,
    status: row.status === 'known' ? OutcomeStatus.KNOWN : OutcomeStatus.PENDING,
    outcome: row.outcome === null || row.known_on === null ? null : { value: Number(row.outcome), knownOn: row.known_on },
    branchId: row.branch_id === null ? null : Number(row.branch_id),
  };
}

@Resolver(() => ModelInfo)
export class ModelHealthResolver {
  @FieldResolver(() => ModelHealthInfo, {
    nullable: true,
    description: 'Live quality with 95% intervals, drift by feature and active alerts of the serving version, from the background monitor; null until it has seen a prediction of that version (or when MONITOR_INTERVAL_MS=0).',
  })
  health(@Root() info: ModelInfo, @Ctx() ctx: LibraryContext, @Arg('window', () => HealthWindow, { nullable: true, defaultValue: HealthWindow.WEEK }) window: HealthWindow | null): ModelHealthInfo | null {
    const version = info.servingVersion ?? info.version;
    const found = ctx.monitor?.health(info.name, (window ?? HealthWindow.WEEK)).find((h) => h.version === version);
    return found ? toHealth(found) : null;
  }
}

@Resolver(() => JudgedPrediction)
export class JudgedPredictionResolver {
  @Query(() => JudgedPredictionConnection, {
    description: `Predictions a model served in a window of library days (ending on \`endingOn\`, by default the clock), newest first, each joined to its outcome once circulation tells it. first: at most ${MAX_PREDICTIONS_PAGE}.`,
  })
  async predictions(
    @Ctx() ctx: LibraryContext,
    @Arg('model', () => String) model: string,
    @Arg('window', () => HealthWindow, { defaultValue: HealthWindow.WEEK }) window: HealthWindow,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
    @Arg('segment', () => String, { nullable: true }) segment?: string,
    @Arg('branch', () => ID, { nullable: true }) branch?: string,
    @Arg('status', () => OutcomeStatus, { nullable: true }) status?: OutcomeStatus,
    @Arg('endingOn', () => DateResolver, { nullable: true }) endingOn?: Date | string,
  ): Promise<JudgedPredictionConnection> {
    if (!(MODEL_NAMES as readonly string[]).includes(model)) throw badUserInput(`model: unknown model "${model}"; known: ${MODEL_NAMES.join(', ')}`, { argumentName: 'model' });
    if (!Number.isInteger(first) || first < 0 || first > MAX_PREDICTIONS_PAGE) throw badUserInput(`predictions: first must be between 0 and ${MAX_PREDICTIONS_PAGE}, got ${first}`, { argumentName: 'first', maximum: MAX_PREDICTIONS_PAGE });
    let branchId: number | null = null;
    if (branch !== undefined && branch !== null) {
      if (!/^\d{1,15}$/.test(branch)) throw badUserInput(`branch: "${branch}" is not a branch id`, { argumentName: 'branch' });
      branchId = Number(branch);
    }
    const through = endingOn ? (endingOn instanceof Date ? endingOn.toISOString().slice(0, 10) : String(endingOn).slice(0, 10)) : await ctx.clock();
    const filter: PredictionOutcomeFilter = { model, from: addDays(through, 1 - WINDOW_DAYS[window as QualityWindow]), through, segment: segment ?? null, branchId, status: status ?? null };
    const { rows, total } = await readPredictionOutcomes(ctx.store.db, filter, { first: first + 1, after: decodeCursor(after) });
    const page = rows.slice(0, first);
    const last = page[page.length - 1];
    return { nodes: page.map(toNode), pageInfo: { hasNextPage: rows.length > first, endCursor: last ? encodeCursor(last) : null }, totalCount: total, filter };
  }

  @FieldResolver(() => Member, { nullable: true, description: 'The member predicted for, or the borrower of the loan.' })
  async member(@Root() node: JudgedPrediction, @Ctx() ctx: LibraryContext): Promise<Member | null> {
    if (node.entityKind === 'member') return ctx.loaders.member.load(node.entityId);
    if (node.entityKind !== 'loan') return null;
    const loan = await ctx.loaders.loan.load(node.entityId);
    return loan ? ctx.loaders.member.load(loan.memberId) : null;
  }

  @FieldResolver(() => Loan, { nullable: true })
  loan(@Root() node: JudgedPrediction, @Ctx() ctx: LibraryContext): Promise<Loan | null> | null {
    return node.entityKind === 'loan' ? ctx.loaders.loan.load(node.entityId) : null;
  }

  @FieldResolver(() => Book, { nullable: true })
  book(@Root() node: JudgedPrediction, @Ctx() ctx: LibraryContext): Promise<Book | null> | null {
    return node.entityKind === 'book' ? ctx.loaders.book.load(node.entityId) : null;
  }

  @FieldResolver(() => Branch, { nullable: true, description: "The member's home branch, or the loan's branch." })
  branch(@Root() node: JudgedPrediction, @Ctx() ctx: LibraryContext): Promise<Branch | null> | null {
    return node.branchId === null ? null : ctx.loaders.branch.load(String(node.branchId));
  }
}

@Resolver(() => JudgedPredictionConnection)
export class CalibrationResolver {
  @FieldResolver(() => [CalibrationGroup], {
    description: `Calibration of every known outcome matching the connection's filters (not only this page; at most ${MAX_CALIBRATION_ROWS} rows), grouped by \`by\`. For the classifiers (overdue, churn).`,
  })
  async calibration(
    @Root() connection: JudgedPredictionConnection,
    @Ctx() ctx: LibraryContext,
    @Arg('by', () => [PredictionSlice], { defaultValue: [] }) by: PredictionSlice[],
    @Arg('bins', () => Int, { defaultValue: 10 }) bins: number,
  ): Promise<CalibrationGroup[]> {
    if (!Number.isInteger(bins) || bins < 1 || bins > MAX_CALIBRATION_BINS) throw badUserInput(`calibration: bins must be between 1 and ${MAX_CALIBRATION_BINS}, got ${bins}`, { argumentName: 'bins', maximum: MAX_CALIBRATION_BINS });
    const rows = await readLabelledScores(ctx.store.db, connection.filter, MAX_CALIBRATION_ROWS);
    const groups = new Map<string, { segment: string | null; branchId: number | null; rows: typeof rows }>();
    for (const row of rows) {
      const segment = by.includes(PredictionSlice.SEGMENT) ? row.segment : null;
      const branchId = by.includes(PredictionSlice.BRANCH) ? row.branch_id : null;
      const key = JSON.stringify([segment, branchId]);
      const group = groups.get(key) ?? { segment, branchId, rows: [] };
      group.rows.push(row);
      groups.set(key, group);
    }
    const result: CalibrationGroup[] = [];
    for (const group of groups.values()) {
      const n = group.rows.length;
      const branch = group.branchId === null ? null : await ctx.loaders.branch.load(String(group.branchId));
      result.push({
        segment: group.segment,
        branch,
        rows: n,
        meanPredicted: group.rows.reduce((sum, r) => sum + r.score, 0) / n,
        observed: group.rows.reduce((sum, r) => sum + (r.outcome > 0 ? 1 : 0), 0) / n,
        bins: calibrationBins(group.rows, bins).map((b) => ({ low: b.low, high: b.high, rows: b.rows, meanPredicted: b.meanPredicted, observed: b.observed.value, observedLow: b.observed.low, observedHigh: b.observed.high })),
      });
    }
    return result.sort((a, b) => (a.segment ?? '').localeCompare(b.segment ?? '') || Number(a.branch?.id ?? 0) - Number(b.branch?.id ?? 0));
  }
}
