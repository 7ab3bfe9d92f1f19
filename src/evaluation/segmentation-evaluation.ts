/**
 * Scores registered segmentation versions by what a library uses segments for, against the
 * RFM grids on the same members, for `npm run evaluate -- --model segmentation`.
 *
 * Contract (no look-ahead; `end` is the last day of the window, default the library clock):
 * - Two cut-offs: `fitCutoff` = end − 180 days and `scoreCutoff` = end − 90 days. Every scorer
 *   puts each member in a segment at both, from the serving feature code
 *   (src/features/segmentation.ts) on that day; a version through its model.onnx.
 * - Segment-level lapse rates and mean loans are fitted on the members at `fitCutoff` with their
 *   next 90 days (which end on `scoreCutoff`), and scored on the members at `scoreCutoff` with
 *   their next 90 days: lapse (no checkout) AUC, log loss and Brier score; loans MAE and RMSE.
 * - Stability: the share of members present at both cut-offs who kept their segment.
 * - Baselines, fitted at `fitCutoff` only: the quintile RFM grid (src/evaluation/segmentation-use.ts,
 *   125 cells), the trainer's tercile RFM grid with segment names, and no segments at all.
 * - Every figure has a 95% bootstrap interval over members, all scorers on the same resamples;
 *   the best baseline is the one with the highest lapse AUC, and each version is compared with
 *   it by a paired bootstrap of the lapse AUC on the same members.
 * A version trained on data after `fitCutoff` has seen these members' futures: on its own
 * library, the figures of such a version are not held out (the report says so).
 */
import path from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { churnLabels, CHURN_WINDOW_DAYS } from '../features/churn';
import { featureRows, SEGMENTATION_FEATURE_NAMES, segmentationFeaturesInChunks } from '../features/segmentation';
import { SEGMENTATION_OUTPUTS } from '../ml/kmeans';
import { auc, brierScore, logLoss } from '../ml/metrics';
import { openServingSession } from '../ml/onnx/session';
import type { ServingMetadata } from '../model-runtime/model-slot';
import { parseSegmentationServing } from '../models/segmentation';
import { readAsOf, type Store } from '../store';
import { addDays } from '../util/dates';
import { bootstrapFigures, pairedBootstrap, plainInterval, type BootstrapOptions, type Interval } from './intervals';
import { applyRfmRule, fitRfmGrid, fitRfmRule, fitSegmentOutcomes, rfmSegment, type RfmMeasures } from './segmentation-use';

const column = (name: string): number => {
  const at = SEGMENTATION_FEATURE_NAMES.indexOf(name);
  if (at < 0) throw new Error(`the segmentation features have no "${name}"`);
  return at;
};
const RECENCY = column('recency_days');
const FREQUENCY = column('frequency_365d');
const MONETARY = column('monetary_loan_days_365d');

/** Members at one cut-off: their feature rows and their next 90 days. */
interface CutoffMembers {
  cutoff: string;
  memberIds: number[];
  rows: Float32Array[];
  values: Float32Array;
  lapsed: Uint8Array;
  loans: Float64Array;
}

export interface SegmentationHoldout {
  end: string;
  description: string;
  fit: CutoffMembers;
  score: CutoffMembers;
}

async function loansAfter(store: Store, memberIds: readonly number[], cutoff: string): Promise<Float64Array> {
  const rows = await store.db
    .selectFrom('loans')
    .select((eb) => ['member_id', eb.fn.countAll<number>().as('loans')])
    .where('checked_out_at', '>', cutoff)
    .where('checked_out_at', '<=', addDays(cutoff, CHURN_WINDOW_DAYS))
    .groupBy('member_id')
    .execute();
  const count = new Map(rows.map((r) => [r.member_id, Number(r.loans)]));
  return Float64Array.from(memberIds, (id) => count.get(id) ?? 0);
}

async function membersAt(store: Store, allIds: readonly number[], cutoff: string): Promise<CutoffMembers> {
  const batch = await segmentationFeaturesInChunks(store, allIds, cutoff);
  return {
    cutoff,
    memberIds: batch.memberIds,
    rows: featureRows(batch.values),
    values: batch.values,
    lapsed: await churnLabels(store, batch.memberIds, cutoff),
    loans: await loansAfter(store, batch.memberIds, cutoff),
  };
}

export async function segmentationHoldout(store: Store, { end }: { end?: string } = {}): Promise<SegmentationHoldout> {
  const last = end ?? (await readAsOf(store));
  const scoreCutoff = addDays(last, -CHURN_WINDOW_DAYS);
  const fitCutoff = addDays(scoreCutoff, -CHURN_WINDOW_DAYS);
  const allIds = (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
  const fit = await membersAt(store, allIds, fitCutoff);
  const score = await membersAt(store, allIds, scoreCutoff);
  if (fit.memberIds.length === 0 || score.memberIds.length === 0) throw new Error(`no members had joined by ${fitCutoff}: the library is too young for a window ending ${last}`);
  return {
    end: last,
    description: `segments fitted on members at ${fitCutoff} with their next ${CHURN_WINDOW_DAYS} days, scored on members at ${scoreCutoff} with theirs (to ${last})`,
    fit,
    score,
  };
}

/** A scorer's segment for every member at both cut-offs. */
export interface Segmentation {
  fit: string[];
  score: string[];
}

export interface SegmentationVersion {
  version: string;
  dir: string;
  metadata: ServingMetadata;
}

async function versionSegments(version: SegmentationVersion, members: CutoffMembers): Promise<string[]> {
  const serving = parseSegmentationServing(version.metadata);
  const input = version.metadata.inputs[0]?.name;
  if (!input) throw new Error(`segmentation ${version.version}: metadata names no input tensor`);
  const session = await openServingSession(path.join(version.dir, 'model.onnx'));
  try {
    const d = SEGMENTATION_FEATURE_NAMES.length;
    const result = await session.run({ [input]: new Tensor('float32', members.values, [members.memberIds.length, d]) });
    const ids = result[SEGMENTATION_OUTPUTS.segment]?.data as BigInt64Array | undefined;
    if (!ids || ids.length !== members.memberIds.length) throw new Error(`segmentation ${version.version}: the graph answered ${ids?.length ?? 0} segments for ${members.memberIds.length} members`);
    return Array.from(ids, (id) => serving.segments[Number(id)]?.name ?? `segment ${id}`);
  } finally {
    await session.release();
  }
}

export async function segmentVersion(version: SegmentationVersion, holdout: SegmentationHoldout): Promise<Segmentation> {
  return { fit: await versionSegments(version, holdout.fit), score: await versionSegments(version, holdout.score) };
}

const measures = (row: Float32Array): RfmMeasures => ({ recencyDays: row[RECENCY]!, frequency: row[FREQUENCY]!, monetary: row[MONETARY]! });

/** The baselines' segments, every one fitted on the members at the fit cut-off only. */
export function baselineSegmentations(holdout: SegmentationHoldout): Record<string, Segmentation> {
  const grid = fitRfmGrid(holdout.fit.rows.map(measures));
  const rule = fitRfmRule(holdout.fit.rows);
  return {
    rfmQuintileGrid: { fit: holdout.fit.rows.map((r) => rfmSegment(grid, measures(r))), score: holdout.score.rows.map((r) => rfmSegment(grid, measures(r))) },
    rfmTercileNamed: { fit: applyRfmRule(rule, holdout.fit.rows), score: applyRfmRule(rule, holdout.score.rows) },
    noSegments: { fit: holdout.fit.rows.map(() => 'everyone'), score: holdout.score.rows.map(() => 'everyone') },
  };
}

export const SEGMENTATION_BASELINE_LABELS: Record<string, string> = {
  rfmQuintileGrid: 'RFM quintile grid (125 cells)',
  rfmTercileNamed: 'RFM tercile grid with names (the trainer’s)',
  noSegments: 'no segments (overall rates)',
};

/** Per member at the score cut-off: what the segment predicts, what happened, and whether they kept their segment. */
export interface Predictions {
  lapse: Float64Array;
  loans: Float64Array;
  /** 1 kept, 0 moved, -1 not a member at the fit cut-off. */
  kept: Int8Array;
  segments: number;
}

/** What each scored member's segment predicts: the segment's outcomes at the fit cut-off, read at the score cut-off. */
export function predictions(holdout: SegmentationHoldout, segmentation: Segmentation): Predictions {
  const { fit, score } = holdout;
  const fitted = fitSegmentOutcomes(fit.memberIds.map((_, i) => ({ segment: segmentation.fit[i]!, lapsed: fit.lapsed[i] as 0 | 1, loans: fit.loans[i]! })));
  const before = new Map(fit.memberIds.map((id, i) => [id, segmentation.fit[i]!]));
  const n = score.memberIds.length;
  const out: Predictions = { lapse: new Float64Array(n), loans: new Float64Array(n), kept: new Int8Array(n), segments: fitted.segments.size };
  score.memberIds.forEach((id, i) => {
    const segment = segmentation.score[i]!;
    const rates = fitted.segments.get(segment) ?? fitted.overall;
    out.lapse[i] = rates.lapseRate;
    out.loans[i] = rates.meanLoans;
    const earlier = before.get(id);
    out.kept[i] = earlier === undefined ? -1 : earlier === segment ? 1 : 0;
  });
  return out;
}

function gather(values: ArrayLike<number>, rows: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: rows.length }, (_, r) => values[rows[r]!]!);
}

function figures(holdout: SegmentationHoldout, p: Predictions) {
  const { lapsed, loans } = holdout.score;
  return (rows: ArrayLike<number>): Record<string, number> => {
    const s = gather(p.lapse, rows);
    const y = gather(lapsed, rows);
    let absolute = 0;
    let squared = 0;
    let both = 0;
    let kept = 0;
    for (let r = 0; r < rows.length; r++) {
      const i = rows[r]!;
      const e = loans[i]! - p.loans[i]!;
      absolute += Math.abs(e);
      squared += e * e;
      if (p.kept[i]! >= 0) {
        both++;
        kept += p.kept[i]!;
      }
    }
    return {
      lapseAuc: auc(s, y),
      lapseLogLoss: logLoss(s, y),
      lapseBrier: brierScore(s, y),
      loansMae: absolute / rows.length,
      loansRmse: Math.sqrt(squared / rows.length),
      stability: both > 0 ? kept / both : NaN,
    };
  };
}

function figuresOf(holdout: SegmentationHoldout, p: Predictions, options: BootstrapOptions): Record<string, Interval> {
  const intervals = bootstrapFigures(holdout.score.memberIds.length, figures(holdout, p), options);
  return Object.fromEntries(Object.entries(intervals).map(([k, v]) => [k, plainInterval(v)]));
}

export interface SegmentationComparison {
  against: string;
  metric: 'lapseAuc';
  /** Lapse AUC of this version and of the other on those members. */
  value: number;
  otherValue: number;
  /** AUC(version) − AUC(other) on the same members: above 0 is better. */
  difference: Interval;
  pValue: number;
  verdict: 'better' | 'worse' | 'not distinguishable';
}

export interface SegmentationReport {
  model: 'segmentation';
  version: string;
  rows: number;
  window: string;
  /** Segments the version used at the fit cut-off. */
  segments: number;
  /** Set when the version was trained on data after the fit cut-off: then these members' futures were seen. */
  lookAhead: string | null;
  metrics: Record<string, Interval>;
  baselines: Record<string, Record<string, Interval>>;
  bestBaseline: string;
  oracle: null;
  thresholds: [];
  comparisons: SegmentationComparison[];
}

/** Lapse AUC of predictions `a` minus that of `b` on the members at the score cut-off, by a paired bootstrap. */
export function compareLapseAuc(holdout: SegmentationHoldout, a: Predictions, b: Predictions, against: string, options: BootstrapOptions): SegmentationComparison {
  const y = holdout.score.lapsed;
  const metric = (p: Predictions) => (rows: ArrayLike<number>) => auc(gather(p.lapse, rows), gather(y, rows));
  const test = pairedBootstrap(holdout.score.memberIds.length, metric(a), metric(b), options);
  const d = test.difference;
  return {
    against,
    metric: 'lapseAuc',
    value: test.a.value,
    otherValue: test.b.value,
    difference: plainInterval(d),
    pValue: test.pValue,
    verdict: d.low > 0 ? 'better' : d.high < 0 ? 'worse' : 'not distinguishable',
  };
}

export async function evaluateSegmentationVersions(
  holdout: SegmentationHoldout,
  versions: readonly SegmentationVersion[],
  options: BootstrapOptions,
  progress: (message: string) => void = () => {},
): Promise<SegmentationReport[]> {
  progress('baselines: RFM quintile grid, RFM tercile grid with names, no segments');
  const baselinePredictions = Object.fromEntries(Object.entries(baselineSegmentations(holdout)).map(([name, s]) => [name, predictions(holdout, s)]));
  const baselines = Object.fromEntries(Object.entries(baselinePredictions).map(([name, p]) => [name, figuresOf(holdout, p, options)]));
  const best = Object.keys(baselines).reduce((a, b) => ((baselines[b]!.lapseAuc?.value ?? -Infinity) > (baselines[a]!.lapseAuc?.value ?? -Infinity) ? b : a));
  const scored: { version: SegmentationVersion; p: Predictions }[] = [];
  for (const version of versions) {
    progress(`version ${version.version}`);
    scored.push({ version, p: predictions(holdout, await segmentVersion(version, holdout)) });
  }
  return scored.map(({ version, p }) => {
    const trainedTo = (version.metadata as { trainingData?: { asOf?: string } }).trainingData?.asOf;
    return {
      model: 'segmentation',
      version: version.version,
      rows: holdout.score.memberIds.length,
      window: holdout.description,
      segments: p.segments,
      lookAhead: trainedTo && trainedTo > holdout.fit.cutoff ? `trained on data to ${trainedTo}, after the fit cut-off ${holdout.fit.cutoff}: on the library it was trained on, it has seen these members' futures` : null,
      metrics: figuresOf(holdout, p, options),
      baselines,
      bestBaseline: best,
      oracle: null,
      thresholds: [],
      comparisons: [
        compareLapseAuc(holdout, p, baselinePredictions[best]!, `best baseline (${best})`, options),
        ...scored.filter((o) => o.version !== version).map((o) => compareLapseAuc(holdout, p, o.p, `version ${o.version.version}`, options)),
      ],
    };
  });
}
