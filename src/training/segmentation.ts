/**
 * Trains the segmentation model: k-means over every member's recency, frequency, monetary,
 * engagement and tenure on the system date, with segment names read from the centroids. The
 * features' scaling and the number of segments are chosen by use (lapse AUC) on validation
 * folds that end before `npm run evaluate`'s test window.
 *
 * Segments have no ground truth, so the figures say whether they can be relied on:
 *   stability:   the same members, clustered again with other seeds: adjusted Rand index and
 *                the share of members who keep their segment name (mean and worst retrain);
 *   separation:  silhouette, and the share of the standardised feature variance the segments
 *                explain;
 *   over time:   the members as they were 90 days earlier (rows the model never saw), assigned
 *                with the same model: how many kept their segment, and how much of the next 90
 *                days' lapses (no checkout) the segments account for.
 * The baseline is the classic RFM grid: recency and frequency terciles (plus tenure and trend)
 * mapped to the same names, scored the same way where a score applies to it.
 */
import { CHURN_WINDOW_DAYS, churnLabels } from '../features/churn';
import { SEGMENT_SCALINGS, SEGMENTATION_FEATURES, featureRows, segmentationFeaturesInChunks } from '../features/segmentation';
import type { ChartData } from '../model-cards';
import {
  SEGMENTATION_INPUT,
  SEGMENTATION_OUTPUTS,
  SEGMENT_RULES,
  adjustedRandIndex,
  exportSegmentationOnnx,
  featureWeight,
  segmentProfiles,
  trainSegmentation,
  type SegmentationModel,
  type SegmentProfile,
} from '../ml/kmeans';
import type { SegmentationServing } from '../models/segmentation';
import type { ParityFile } from '../registry';
import { readAsOf, type Store } from '../store';
import { addDays } from '../util/dates';
import { chooseSegmentation, segmentationValidationFolds, type SegmentationCandidate } from '../evaluation/segmentation-folds';
import type { FoldSelection } from '../evaluation/backtest';
import { applyRfmRule, fitRfmRule } from '../evaluation/segmentation-use';
import type { TrainedModel, TrainOptions } from './types';

/** The trainer's RFM baseline lives beside the other segmentation baselines; re-exported for its users here. */
export { applyRfmRule, fitRfmRule, type RfmRule } from '../evaluation/segmentation-use';

/**
 * Seven segments, one per name in SEGMENT_RULES. With fewer, the name assignment has to leave
 * names out, and on the small test library a cluster between two names (Loyal or Occasional)
 * then flipped with the seed; with all seven every cluster gets the name that fits it best.
 */
export const SEGMENTATION_PARAMS = { k: SEGMENT_RULES.length, nInit: 10, maxIter: 300 };

/** The numbers of segments the validation folds choose from, fewest first (a tie goes to fewer). */
export const SEGMENT_COUNT_CANDIDATES = [3, 4, 5, 6, SEGMENT_RULES.length];

/** Every scaling with every number of segments: the settings the folds choose from, plainest first. */
export const SEGMENTATION_CANDIDATES: readonly SegmentationCandidate[] = SEGMENT_SCALINGS.flatMap((s) =>
  SEGMENT_COUNT_CANDIDATES.map((k) => ({ scaling: s.name, features: s.features, k })),
);

/** Rolling-origin folds inside the training window that choose the scaling and the number of segments (src/evaluation/segmentation-folds.ts). */
export const SEGMENTATION_VALIDATION_FOLDS = 3;

/** Retrains with these seeds (offsets from the training seed) measure stability. */
const STABILITY_SEED_OFFSETS = [1, 2, 3, 4].map((i) => i * 7919);

/** How far back the members are assigned again to see who moved between segments. */
export const TRANSITION_DAYS = 90;

/** Share of positions where two labellings agree. */
export function agreement(a: readonly unknown[], b: readonly unknown[]): number {
  if (a.length !== b.length) throw new Error(`agreement: labellings differ in length (${a.length} and ${b.length})`);
  if (a.length === 0) return 1;
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/** Share of the total squared deviation of `points` (n x d, row-major) that lies between the groups. */
export function explainedVariance(points: { rows: number; cols: number; data: ArrayLike<number> }, labels: readonly unknown[]): number {
  const { rows, cols, data } = points;
  const groups = new Map<unknown, { n: number; sums: Float64Array }>();
  const total = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    let g = groups.get(labels[i]);
    if (!g) groups.set(labels[i], (g = { n: 0, sums: new Float64Array(cols) }));
    g.n++;
    for (let j = 0; j < cols; j++) {
      g.sums[j]! += data[i * cols + j]!;
      total[j]! += data[i * cols + j]!;
    }
  }
  let totalSs = 0;
  let withinSs = 0;
  for (let i = 0; i < rows; i++) {
    const g = groups.get(labels[i])!;
    for (let j = 0; j < cols; j++) {
      const v = data[i * cols + j]!;
      totalSs += (v - total[j]! / rows) ** 2;
      withinSs += (v - g.sums[j]! / g.n) ** 2;
    }
  }
  return totalSs > 0 ? 1 - withinSs / totalSs : 0;
}

/** Share of the variance of a 0/1 outcome explained by the group means (eta squared). */
function outcomeVarianceExplained(outcome: Uint8Array, labels: readonly unknown[]): number {
  return explainedVariance({ rows: outcome.length, cols: 1, data: outcome }, labels);
}

/** Up to `perSegment` rows of each segment (in member order), so parity covers every centroid. */
function parityRowIndices(labels: readonly number[], k: number, perSegment: number): number[] {
  const taken = new Array<number>(k).fill(0);
  const picked: number[] = [];
  labels.forEach((label, i) => {
    if (taken[label]! < perSegment) {
      taken[label]! += 1;
      picked.push(i);
    }
  });
  return picked;
}

function parityFile(model: SegmentationModel, values: Float32Array, labels: readonly number[]): ParityFile {
  const d = SEGMENTATION_FEATURES.length;
  const picked = parityRowIndices(labels, model.k, 40);
  const rows = picked.map((i) => values.subarray(i * d, (i + 1) * d));
  const distances = model.distances(rows).flat();
  return {
    inputs: [{ name: SEGMENTATION_INPUT, type: 'float32', dims: [rows.length, d], data: rows.flatMap((r) => Array.from(r)) }],
    expected: [
      { name: SEGMENTATION_OUTPUTS.segment, data: model.assign(rows), match: 'exact' },
      { name: SEGMENTATION_OUTPUTS.distances, data: distances, match: 'tolerance' },
    ],
    // The graph rounds distances to float32 on the way out: allow one float32 step (2^-23
    // relative, twice the rounding error) at the largest distance, which for a heavy borrower
    // runs into the thousands.
    tolerance: Math.max(1e-5, Math.max(...distances) * 2 ** -23),
  };
}

/** Counts of members by (segment 90 days earlier, segment now), by segment id. */
function transitionCounts(k: number, before: readonly number[], after: readonly number[]): number[][] {
  const counts = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  before.forEach((b, i) => (counts[b]![after[i]!]! += 1));
  return counts;
}

const MEASURES = [
  'recency (days since the last loan)',
  'frequency (loans in the last 12 months)',
  'monetary (loan-days in the last 12 months)',
  'engagement (monthly log change of loans)',
  'tenure (days since joining)',
];

function profilesChart(profiles: SegmentProfile[]): ChartData {
  const names = SEGMENTATION_FEATURES.map((f) => f.name);
  return {
    kind: 'segment-profiles',
    measures: MEASURES,
    segments: profiles.map((p) => ({ name: p.name, members: p.size, values: names.map((n) => p.memberMeans?.[n] ?? 0) })),
  };
}

const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * A setting is served only when retrains with other seeds find the same segments on the same
 * members: at worst this adjusted Rand index, and this share keeping their segment's name.
 */
export const SEED_STABILITY_FLOOR = { ari: 0.9, nameAgreement: 0.95 };

/** The fitted model of the best setting on the folds whose segments hold across seeds, and the better ones passed over. */
function fitSeedStable(
  rows: Float32Array[],
  table: FoldSelection<SegmentationCandidate>['table'],
  seed: number,
  progress: TrainOptions['progress'],
) {
  // A stable sort keeps the earlier (plainer) candidate first on a tie, as the selection does.
  const ranked = [...table].sort((a, b) => b.mean - a.mean);
  const passedOver: string[] = [];
  for (const row of ranked) {
    const { scaling, features, k } = row.candidate;
    const params = { ...SEGMENTATION_PARAMS, k };
    progress('segmentation: k-means', { rows: rows.length, scaling, k, seed });
    const model = trainSegmentation(rows, { features, seed, ...params });
    const labels = model.assign(rows);
    const names = labels.map((id) => model.segments[id]!.name);
    progress('segmentation: stability across seeds', { seeds: STABILITY_SEED_OFFSETS.map((o) => seed + o) });
    const retrains = STABILITY_SEED_OFFSETS.map((offset) => trainSegmentation(rows, { features, seed: seed + offset, ...params }));
    const aris = retrains.map((m) => adjustedRandIndex(labels, m.assign(rows)));
    const agreements = retrains.map((m) => agreement(names, m.assignNames(rows)));
    if (Math.min(...aris) >= SEED_STABILITY_FLOOR.ari && Math.min(...agreements) >= SEED_STABILITY_FLOOR.nameAgreement) {
      return { row, model, labels, names, aris, agreements, passedOver };
    }
    passedOver.push(`${scaling}, k = ${k} (ARI ${Math.min(...aris).toFixed(3)}, names kept ${Math.min(...agreements).toFixed(3)} at worst)`);
  }
  throw new Error(`segmentation: no candidate setting keeps its segments across seeds (ARI ≥ ${SEED_STABILITY_FLOOR.ari}, names ≥ ${SEED_STABILITY_FLOOR.nameAgreement}): ${passedOver.join('; ')}`);
}

export async function trainMemberSegmentation(store: Store, options: TrainOptions): Promise<TrainedModel> {
  const { seed, progress } = options;
  const asOf = await readAsOf(store);
  const earlier = addDays(asOf, -TRANSITION_DAYS);
  const allIds = (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
  const d = SEGMENTATION_FEATURES.length;

  progress('segmentation: member features on the system date', { cutoff: asOf });
  const current = await segmentationFeaturesInChunks(store, allIds, asOf);
  const rows = featureRows(current.values, d);

  progress('segmentation: validation folds', { folds: SEGMENTATION_VALIDATION_FOLDS, scalings: SEGMENT_SCALINGS.map((s) => s.name), k: SEGMENT_COUNT_CANDIDATES });
  const folds = await segmentationValidationFolds(store, asOf, SEGMENTATION_VALIDATION_FOLDS);
  const { nInit, maxIter } = SEGMENTATION_PARAMS;
  const selection = chooseSegmentation(folds, SEGMENTATION_CANDIDATES, { nInit, maxIter, seed }, ({ scaling, k }, fold, lapseAuc) =>
    progress('segmentation: validation fold', { fold: fold.index, fitCutoff: fold.origin, scoreCutoff: fold.validationStart, scaling, k, lapseAuc }),
  );
  const { row: chosen, model, labels, names, aris, agreements, passedOver } = fitSeedStable(rows, selection.table, seed, progress);
  const scaling = SEGMENT_SCALINGS.find((s) => s.name === chosen.candidate.scaling);
  if (!scaling) throw new Error(`segmentation: the folds chose the scaling "${chosen.candidate.scaling}", which is not among SEGMENT_SCALINGS`);
  const features = scaling.features;
  const params = { ...SEGMENTATION_PARAMS, k: chosen.candidate.k };

  progress('segmentation: members 90 days earlier', { cutoff: earlier });
  const past = await segmentationFeaturesInChunks(store, allIds, earlier);
  const pastRows = featureRows(past.values, d);
  const pastLabels = model.assign(pastRows);
  const lapsed = await churnLabels(store, past.memberIds, earlier);
  const rowNow = new Map(current.memberIds.map((id, i) => [id, i]));
  const stayed = past.memberIds.map((id) => rowNow.get(id)!);
  const transitions = transitionCounts(model.k, pastLabels, stayed.map((i) => labels[i]!));

  const rule = fitRfmRule(rows);
  const ruleNames = applyRfmRule(rule, rows);
  const rulePastNames = applyRfmRule(rule, pastRows);
  const standardised = model.standardisedRows(rows);

  const heldOut = {
    stabilityAri: mean(aris),
    stabilityAriMin: Math.min(...aris),
    nameAgreement: mean(agreements),
    nameAgreementMin: Math.min(...agreements),
    silhouette: model.training.silhouette,
    explainedVariance: explainedVariance(standardised, labels),
    segmentRetention90d: agreement(pastLabels, stayed.map((i) => labels[i]!)),
    lapseVarianceExplained: outcomeVarianceExplained(lapsed, pastLabels),
  };
  const baselineName = 'RFM tercile grid (recency and frequency terciles, tenure and trend) with the same names';
  const baselineMetrics = {
    explainedVariance: explainedVariance(standardised, ruleNames),
    segmentRetention90d: agreement(rulePastNames, stayed.map((i) => ruleNames[i]!)),
    lapseVarianceExplained: outcomeVarianceExplained(lapsed, rulePastNames),
    ariWithKMeans: adjustedRandIndex(ruleNames, names),
    nameAgreementWithKMeans: agreement(ruleNames, names),
  };

  const profiles = segmentProfiles(model, rows);
  const featureNames = SEGMENTATION_FEATURES.map((f) => f.name);
  const serving: SegmentationServing = {
    featureNames,
    segments: profiles.map((p) => ({ id: p.id, name: p.name, description: p.description, size: p.size, share: p.share, centroid: p.centroid, memberMeans: p.memberMeans })),
  };
  const lapseRates = model.segments.map((s) => {
    let n = 0;
    let l = 0;
    pastLabels.forEach((label, i) => {
      if (label === s.id) {
        n++;
        l += lapsed[i]!;
      }
    });
    return `${s.name} ${n ? Math.round((100 * l) / n) : 0}%`;
  });

  return {
    onnxBytes: exportSegmentationOnnx(model),
    parity: parityFile(model, current.values, labels),
    charts: [profilesChart(profiles)],
    referenceRows: { names: featureNames, values: current.values, rowCount: current.memberIds.length, score: names },
    extraFiles: {
      'transitions.json': `${JSON.stringify({ from: earlier, to: asOf, segments: model.segments.map((s) => s.name), counts: transitions }, null, 2)}\n`,
    },
    metadata: {
      name: 'segmentation',
      task: 'segmentation',
      predicts: 'Which named segment (Champions, Loyal, Promising, New, At Risk, Hibernating, Occasional) a member belongs to, from their borrowing.',
      algorithm: 'k-means (k-means++ seeding, Lloyd, restarts) over standardised, weighted RFM, engagement and tenure; ONNX distance + ArgMin',
      trainingData: {
        window: { from: addDays(earlier, -365), to: asOf },
        rows: { train: current.memberIds.length, test: past.memberIds.length },
        asOf,
        seed,
        source: `simulated library (${allIds.length} members)`,
      },
      featureSpec: SEGMENTATION_FEATURES.map((f) => ({ name: f.name, type: f.type, description: f.description })),
      inputs: [{ name: SEGMENTATION_INPUT, elementType: 'float32', shape: ['batch', d], featureAxis: 1, description: 'raw feature values; the graph applies log1p, standardisation and the weights' }],
      outputs: [
        { name: SEGMENTATION_OUTPUTS.segment, elementType: 'int64', shape: ['batch'], description: 'segment id, an index into metadata.serving.segments' },
        { name: SEGMENTATION_OUTPUTS.distances, elementType: 'float32', shape: ['batch', model.k], description: 'squared distance to each centroid in standardised units' },
      ],
      metrics: { heldOut, baseline: { name: baselineName, metrics: baselineMetrics } },
      // The headline is what a library uses segments for (who lapses next), which the RFM grid
      // reports too; stability across seeds is reported beside it.
      headlineMetric: { name: 'lapseVarianceExplained', value: heldOut.lapseVarianceExplained, higherIsBetter: true },
      hyperparameters: {
        ...params,
        seed,
        scaling: scaling.name,
        validationFolds: SEGMENTATION_VALIDATION_FOLDS,
        validationMeanLapseAuc: chosen.mean,
        validationSdLapseAuc: chosen.sd,
        candidates: JSON.stringify(
          selection.table.map((row) => ({ scaling: row.candidate.scaling, k: row.candidate.k, meanLapseAuc: row.mean, sdLapseAuc: row.sd, folds: row.folds })),
        ),
        stabilitySeeds: STABILITY_SEED_OFFSETS.map((o) => seed + o),
        log1p: features.filter((f) => f.log1p).map((f) => f.name),
        weights: JSON.stringify(Object.fromEntries(features.map((f) => [f.name, featureWeight(f)]))),
      },
      serving: { ...serving },
      notes:
        `The scaling (${scaling.name}: ${scaling.description}) and the number of segments, ${params.k}, were chosen from ` +
        `${SEGMENT_SCALINGS.map((s) => s.name).join(', ')} × k = ${SEGMENT_COUNT_CANDIDATES.join(', ')} by lapse AUC on ${SEGMENTATION_VALIDATION_FOLDS} ` +
        `rolling-origin folds (score cut-offs ${folds.map((f) => f.validationStart).join(', ')}, each clustered and its lapse rates fitted 90 days ` +
        `before; the last fold's outcomes end on ${folds.at(-1)?.validationEnd ?? 'n/a'}): ${chosen.mean.toFixed(4)} ± ${chosen.sd.toFixed(4)} ` +
        `(mean ± sd over folds). Clustered every member on ${asOf}; stability compares retrains with seeds ${STABILITY_SEED_OFFSETS.map((o) => seed + o).join(', ')} on the same members. ` +
        `The members as of ${earlier} (not seen in training) were assigned with this model: segmentRetention90d is the share in the same segment ` +
        `90 days later (transitions.json has the counts), lapseVarianceExplained how much of who then made no checkout in ${CHURN_WINDOW_DAYS} days ` +
        `the segments account for (lapse rate by segment: ${lapseRates.join(', ')}). The RFM grid baseline has no seed, so it is perfectly stable by ` +
        'construction and is not compared on stability; it is compared on explained variance (which k-means optimises, so favours it), on ' +
        'retention and on lapses (which favour neither). ariWithKMeans and nameAgreementWithKMeans say how far the two partitions agree.' +
        (passedOver.length > 0 ? ` Passed over, better on the folds but not the same segments across seeds: ${passedOver.join('; ')}.` : ''),
    },
  };
}
