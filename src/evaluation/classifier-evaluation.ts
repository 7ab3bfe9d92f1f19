/**
 * Scores registered classifier versions, their baselines and the oracle on one holdout
 * (src/evaluation/classifier-holdout.ts), through the version's ONNX file, and reports each
 * figure with its 95% bootstrap interval in the shape `npm run evaluate -- --json` prints.
 *
 * Every scorer is resampled with the same seed and the same clusters, so its intervals are
 * drawn over the same resamples of rows; versions are compared pairwise with DeLong's test.
 */
import path from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { auc, brierScore, logLoss } from '../ml/metrics';
import { openServingSession } from '../ml/onnx/session';
import { parseChurnServing } from '../models/churn';
import { parseOverdueServing } from '../models/overdue';
import type { ServingMetadata } from '../model-runtime/model-slot';
import { featureColumns, pickColumns, type RiskThresholds } from '../model-runtime/risk';
import { delongTest, type DeLongComparison } from './delong';
import { bootstrapFigures, gatherRows, type BootstrapOptions, type Interval } from './intervals';
import type { BaselineScores, ClassifierHoldout } from './classifier-holdout';
import { evaluatedThresholds, type EvaluatedThreshold } from './thresholds';

/** One version's report: ARCHITECTURE's `npm run evaluate -- --json` object. */
export interface EvaluationReport {
  model: string;
  version: string;
  rows: number;
  metrics: Record<string, Interval>;
  baselines: Record<string, Record<string, Interval>>;
  oracle: Record<string, Interval> | null;
  thresholds: EvaluatedThreshold[];
  /** AUC on each of the holdout's slices next to the oracle's on the same rows; absent when the holdout has none. */
  slices?: SliceReport[];
}

export interface SliceReport {
  name: string;
  rows: number;
  positiveRate: number;
  auc: Interval;
  oracleAuc: Interval | null;
  /** AUC ÷ the oracle's AUC, its interval over the same resamples. */
  ofOracle: Interval | null;
}

/** A version as the evaluation reads it from the models folder. */
export interface ClassifierVersion {
  version: string;
  /** The version's directory (model.onnx and metadata.json). */
  dir: string;
  metadata: ServingMetadata & { outputs: { name: string }[] };
}

/** Rows per ONNX run: bounds the tensor a large holdout would otherwise put in one call. */
const SCORING_BATCH_ROWS = 8192;

/**
 * Probabilities of row-major `features` (rows x d) from an ONNX graph, given by its bytes or its
 * file, opened as serving opens it. The trainers score their held-out rows this way too, so the
 * figures they store are the ones `npm run evaluate` reproduces.
 */
export async function scoreOnnx(
  model: Uint8Array | string,
  tensors: { input: string; output: string },
  features: Float32Array,
  rows: number,
  d: number,
): Promise<Float64Array> {
  const session = await openServingSession(model);
  try {
    const scores = new Float64Array(rows);
    for (let start = 0; start < rows; start += SCORING_BATCH_ROWS) {
      const end = Math.min(rows, start + SCORING_BATCH_ROWS);
      const batch = features.subarray(start * d, end * d);
      const result = await session.run({ [tensors.input]: new Tensor('float32', batch, [end - start, d]) });
      const data = result[tensors.output]?.data as Float32Array | undefined;
      if (!data || data.length !== end - start) throw new Error(`output "${tensors.output}" has ${data?.length ?? 0} values for ${end - start} rows`);
      scores.set(data, start);
    }
    return scores;
  } finally {
    await session.release();
  }
}

/**
 * The version's probabilities for every holdout row, from its model.onnx, on its own columns of
 * the holdout's (as serving gives them to it: `featureColumns`).
 */
export async function scoreVersion(version: ClassifierVersion, holdout: ClassifierHoldout): Promise<Float64Array> {
  const input = version.metadata.inputs[0]?.name;
  const output = version.metadata.outputs[0]?.name;
  if (!input || !output) throw new Error(`${holdout.model} ${version.version}: metadata names no input or output tensor`);
  try {
    const columns = featureColumns(version.metadata, holdout.featureNames);
    const features = columns ? pickColumns(holdout.features, holdout.featureCount, columns) : holdout.features;
    return await scoreOnnx(path.join(version.dir, 'model.onnx'), { input, output }, features, holdout.rows, columns?.length ?? holdout.featureCount);
  } catch (error) {
    throw new Error(`${holdout.model} ${version.version}: ${(error as Error).message}`);
  }
}

/** The served MEDIUM/HIGH thresholds, read from the version's serving settings as its subgraph reads them. */
export function servedThresholds(model: ClassifierHoldout['model'], metadata: ServingMetadata): RiskThresholds {
  return (model === 'overdue' ? parseOverdueServing(metadata) : parseChurnServing(metadata)).riskThresholds;
}

function plain(interval: Interval): Interval {
  return { value: interval.value, low: interval.low, high: interval.high };
}

/** Precision and recall of 0/1 decisions (a rule that flags a row or not). */
function decisionFigures(s: Float64Array, y: Float64Array): { precision: number; recall: number } {
  let tp = 0;
  let flagged = 0;
  let positives = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i]! >= 1) flagged++;
    if (y[i] === 1) positives++;
    if (s[i]! >= 1 && y[i] === 1) tp++;
  }
  return { precision: flagged > 0 ? tp / flagged : NaN, recall: positives > 0 ? tp / positives : NaN };
}

type Kind = Pick<BaselineScores, 'probabilities' | 'decisions'>;

/** AUC, and log loss and Brier score for probabilities, of one scorer with intervals over the shared resamples. */
export function scoreFigures(scores: ArrayLike<number>, holdout: ClassifierHoldout, kind: Kind, options: BootstrapOptions): Record<string, Interval> {
  const figures = (rows: ArrayLike<number>): Record<string, number> => {
    const { s, y } = gatherRows(scores, holdout.labels, rows);
    return {
      auc: auc(s, y),
      ...(kind.probabilities ? { logLoss: logLoss(s, y), brier: brierScore(s, y) } : {}),
      ...(kind.decisions ? decisionFigures(s, y) : {}),
    };
  };
  const intervals = bootstrapFigures(holdout.rows, figures, { ...options, clusters: holdout.clusters });
  return Object.fromEntries(Object.entries(intervals).map(([name, interval]) => [name, plain(interval)]));
}

export interface BaselineFigures {
  baselines: Record<string, Record<string, Interval>>;
  oracle: Record<string, Interval> | null;
}

/** The baselines and the oracle do not depend on the version: computed once per holdout. */
export function baselineFigures(holdout: ClassifierHoldout, options: BootstrapOptions): BaselineFigures {
  const baselines: Record<string, Record<string, Interval>> = {};
  for (const baseline of holdout.baselines) baselines[baseline.name] = scoreFigures(baseline.scores, holdout, baseline, options);
  return { baselines, oracle: holdout.oracle ? scoreFigures(holdout.oracle, holdout, { probabilities: true }, options) : null };
}

export function evaluateScores(
  holdout: ClassifierHoldout,
  version: string,
  scores: Float64Array,
  thresholds: RiskThresholds,
  reference: BaselineFigures,
  options: BootstrapOptions,
): EvaluationReport {
  const served: EvaluatedThreshold[] = evaluatedThresholds(scores, holdout.labels, { MEDIUM: thresholds.medium, HIGH: thresholds.high }, { ...options, clusters: holdout.clusters });
  return {
    model: holdout.model,
    version,
    rows: holdout.rows,
    metrics: scoreFigures(scores, holdout, { probabilities: true }, options),
    baselines: reference.baselines,
    oracle: reference.oracle,
    thresholds: served.map((t) => ({ ...t, precision: plain(t.precision), recall: plain(t.recall), share: plain(t.share), lift: plain(t.lift) })),
    ...(holdout.slices ? { slices: sliceReports(holdout, scores, options) } : {}),
  };
}

/**
 * AUC of `scores` and of the oracle on `rows` of the holdout (all rows when omitted), and their
 * ratio, each with its interval over one set of resamples. A slice with one class only has no AUC (NaN).
 */
export function sliceReport(holdout: ClassifierHoldout, scores: ArrayLike<number>, name: string, rows: readonly number[], options: BootstrapOptions): SliceReport {
  const y = Float64Array.from(rows, (i) => holdout.labels[i]!);
  const model = Float64Array.from(rows, (i) => scores[i]!);
  const oracle = holdout.oracle ? Float64Array.from(rows, (i) => holdout.oracle![i]!) : undefined;
  const positives = y.reduce((sum, label) => sum + label, 0);
  const positiveRate = rows.length > 0 ? positives / rows.length : NaN;
  const none = (value: number): Interval => ({ value, low: NaN, high: NaN });
  const pointAuc = positives > 0 && positives < rows.length ? auc(model, y) : NaN;
  const pointOracle = oracle && Number.isFinite(pointAuc) ? auc(oracle, y) : NaN;
  let intervals: Record<string, Interval> = {};
  if (Number.isFinite(pointAuc)) {
    try {
      intervals = bootstrapFigures(
        rows.length,
        (resample): Record<string, number> => {
          const g = gatherRows(model, y, resample);
          const value = auc(g.s, g.y);
          if (!oracle) return { auc: value };
          const truth = auc(gatherRows(oracle, y, resample).s, g.y);
          return { auc: value, oracleAuc: truth, ofOracle: value / truth };
        },
        options,
      );
    } catch {
      // Too few rows of one class for an interval (a small slice of a small library): the values stand alone.
    }
  }
  const interval = (name: string, value: number): Interval => (intervals[name] ? plain(intervals[name]) : none(value));
  return {
    name,
    rows: rows.length,
    positiveRate,
    auc: interval('auc', pointAuc),
    oracleAuc: oracle ? interval('oracleAuc', pointOracle) : null,
    ofOracle: oracle ? interval('ofOracle', pointAuc / pointOracle) : null,
  };
}

/** Every row first ("all"), then the holdout's slices. */
export function sliceReports(holdout: ClassifierHoldout, scores: ArrayLike<number>, options: BootstrapOptions): SliceReport[] {
  const all = Array.from({ length: holdout.rows }, (_, i) => i);
  return [
    sliceReport(holdout, scores, 'all', all, options),
    ...(holdout.slices ?? []).map((slice) => sliceReport(holdout, scores, slice.name, slice.rows, options)),
  ];
}

export interface ScoredVersion {
  version: string;
  scores: Float64Array;
}

/** DeLong's paired test of two versions' AUC on the holdout's rows (a − b). */
export function compareAuc(holdout: ClassifierHoldout, a: ScoredVersion, b: ScoredVersion): DeLongComparison {
  return delongTest(a.scores, b.scores, holdout.labels);
}

/** Scores each version and reports it; the versions' scores are returned too, for paired comparisons. */
export async function evaluateClassifierVersions(
  holdout: ClassifierHoldout,
  versions: readonly ClassifierVersion[],
  options: BootstrapOptions,
  progress: (message: string) => void = () => {},
): Promise<{ reports: EvaluationReport[]; scored: ScoredVersion[] }> {
  progress(`baselines${holdout.oracle ? ' and the oracle' : ''}: ${holdout.baselines.map((b) => b.name).join(', ')}`);
  const reference = baselineFigures(holdout, options);
  const reports: EvaluationReport[] = [];
  const scored: ScoredVersion[] = [];
  for (const version of versions) {
    progress(`version ${version.version}`);
    const scores = await scoreVersion(version, holdout);
    scored.push({ version: version.version, scores });
    reports.push(evaluateScores(holdout, version.version, scores, servedThresholds(holdout.model, version.metadata), reference, options));
  }
  return { reports, scored };
}
