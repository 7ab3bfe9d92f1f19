/**
 * `npm run evaluate` for the models that are not classifiers: one entry per model, each reading
 * its holdout, scoring the versions and baselines, and printing a table (or one JSON object per
 * version). evaluate.ts dispatches here by --model.
 */
import type { Interval } from '../evaluation/intervals';
import { DEMAND_METHOD_LABELS, demandHoldout, evaluateDemandVersions, type DemandReport } from '../evaluation/demand-evaluation';
import { evaluateSegmentationVersions, SEGMENTATION_BASELINE_LABELS, segmentationHoldout, type SegmentationReport } from '../evaluation/segmentation-evaluation';
import { evaluateRecommendationVersions, RECOMMENDATION_BASELINE_LABELS, recommendationHoldout, type RecommendationReport } from '../evaluation/recommendation-evaluation';
import type { ServingMetadata } from '../model-runtime/model-slot';
import { readAsOf, type Store } from '../store';
import { UsageError } from './flags';

export interface EvaluationRun {
  store: Store;
  versions: { version: string; dir: string; metadata: ServingMetadata }[];
  /** Last day of the held-out window (YYYY-MM-DD); default the library clock. */
  window?: string;
  weeks?: number;
  months?: number;
  seed: number;
  resamples: number;
  json: boolean;
  progress: (message: string) => void;
  write: (text: string) => void;
}

const fixed = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');
export const withInterval = (i: Interval | undefined): string => (i ? `${fixed(i.value)} [${fixed(i.low)}, ${fixed(i.high)}]` : 'n/a');

/** A bootstrap p-value of 0 means no resample fell on the other side: smaller than one in the resamples drawn. */
const pValue = (p: number): string => (p === 0 ? '≈ 0 (no resample on the other side)' : `= ${p.toPrecision(3)}`);

/** JSON has no NaN: an undefined figure is null. */
export function jsonLine(report: object): string {
  return `${JSON.stringify(report, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value))}\n`;
}

/** A table: one row per scorer, one column per figure, each figure with its interval. */
export function table(names: readonly string[], rows: readonly [string, Record<string, Interval>][]): string[] {
  const width = Math.max(36, ...rows.map(([label]) => label.length + 2));
  return [`  ${'scorer'.padEnd(width)}${names.map((n) => ` ${n}`.padEnd(30)).join('')}`, ...rows.map(([label, figures]) => `  ${label.padEnd(width)}${names.map((n) => ` ${withInterval(figures[n])}`.padEnd(30)).join('')}`)];
}

function demandText(report: DemandReport): string {
  const baselineRows = (metric: string) =>
    Object.entries(report.baselines).map(([method, figures]): [string, Record<string, Interval>] => [
      `${method === report.bestBaseline ? '*' : ' '}${DEMAND_METHOD_LABELS[method as keyof typeof DEMAND_METHOD_LABELS] ?? method}`,
      figures,
    ]).filter(([, f]) => f[metric] !== undefined);
  const book = ['rmse', 'mae', 'mase', 'rmsse', 'bias'];
  const collection = ['collectionRmse', 'collectionMase', 'collectionRmsse', 'collectionBias'];
  return [
    `demand ${report.version}: ${report.rows} books (${report.window}), 95% bootstrap intervals over series`,
    '  books, loans per week:',
    ...table(book, [[`version ${report.version}`, report.metrics], ...baselineRows('rmse')]),
    '  collections, loans per month:',
    ...table(collection, [[`version ${report.version}`, report.metrics], ...baselineRows('collectionRmse')]),
    '  (* the best baseline by book-week RMSE; no oracle: the simulator records no true demand rate)',
    ...report.comparisons.map((c) => `  book-week RMSE, ${report.version} − ${c.against} (paired bootstrap, same books): ${withInterval(c.difference)}, p ${pValue(c.pValue)}: ${c.verdict}`),
    '',
  ].join('\n');
}

/** The window's last day: --window, refused when after the library clock (those days have no loans yet). */
async function windowEnd(run: EvaluationRun): Promise<string> {
  const clock = await readAsOf(run.store);
  if (run.window !== undefined && run.window > clock) throw new UsageError(`--window ${run.window} is after the library clock (${clock}): nothing has happened there yet`);
  return run.window ?? clock;
}

function checkLength(flag: string, value: number | undefined, most: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > most)) throw new UsageError(`--${flag} must be an integer from 1 to ${most}, got ${value}`);
}

async function evaluateDemand(run: EvaluationRun): Promise<void> {
  checkLength('weeks', run.weeks, 52);
  checkLength('months', run.months, 12);
  const holdout = await demandHoldout(run.store, { end: await windowEnd(run), weeks: run.weeks, months: run.months });
  run.progress(`held out to ${holdout.end}: ${holdout.description}`);
  const reports = await evaluateDemandVersions(holdout, run.versions, { seed: run.seed, resamples: run.resamples }, run.progress);
  for (const report of reports) run.write(run.json ? jsonLine(report) : demandText(report));
}

function segmentationText(report: SegmentationReport): string {
  const names = ['lapseAuc', 'lapseLogLoss', 'lapseBrier', 'loansMae', 'stability'];
  const rows: [string, Record<string, Interval>][] = [
    [`version ${report.version} (${report.segments} segments)`, report.metrics],
    ...Object.entries(report.baselines).map(([name, figures]): [string, Record<string, Interval>] => [`${name === report.bestBaseline ? '*' : ' '}${SEGMENTATION_BASELINE_LABELS[name] ?? name}`, figures]),
  ];
  return [
    `segmentation ${report.version}: ${report.rows} members (${report.window}), 95% bootstrap intervals over members`,
    ...table(names, rows),
    '  (* the best baseline by lapse AUC; lapse = no checkout in the 90 days after the cut-off; stability = share in the same segment 90 days later)',
    ...(report.lookAhead ? [`  note: ${report.lookAhead}`] : []),
    ...report.comparisons.map((c) => `  lapse AUC, ${report.version} − ${c.against} (paired bootstrap, same members): ${withInterval(c.difference)}, p ${pValue(c.pValue)}: ${c.verdict}`),
    '',
  ].join('\n');
}

async function evaluateSegmentation(run: EvaluationRun): Promise<void> {
  const holdout = await segmentationHoldout(run.store, { end: await windowEnd(run) });
  run.progress(holdout.description);
  const reports = await evaluateSegmentationVersions(holdout, run.versions, { seed: run.seed, resamples: run.resamples }, run.progress);
  for (const report of reports) run.write(run.json ? jsonLine(report) : segmentationText(report));
}

function recommendationText(report: RecommendationReport): string {
  const names = Object.keys(report.metrics);
  const rows: [string, Record<string, Interval>][] = [
    [`version ${report.version}`, report.metrics],
    ...Object.entries(report.baselines).map(([name, figures]): [string, Record<string, Interval>] => [`${name === report.bestBaseline ? '*' : ' '}${RECOMMENDATION_BASELINE_LABELS[name] ?? name}`, figures]),
  ];
  return [
    `recommendations ${report.version}: ${report.window}; 95% bootstrap intervals over members`,
    ...table(names, rows),
    `  (* the best baseline by NDCG; chosen on validation: ${Object.entries(report.baselineSettings).map(([k, v]) => `${k} ${v}`).join(', ')}; the version ranks every member from their history, as a member it does not know)`,
    ...(report.lookAhead ? [`  note: ${report.lookAhead}`] : []),
    ...report.comparisons.map((c) => `  ${c.metric}, ${report.version} − ${c.against} (paired bootstrap, same members): ${withInterval(c.difference)}, p ${pValue(c.pValue)}: ${c.verdict}`),
    '',
  ].join('\n');
}

async function evaluateRecommendations(run: EvaluationRun): Promise<void> {
  const first = run.versions[0];
  if (!first) throw new UsageError('no recommendations version to score');
  const holdout = await recommendationHoldout(run.store, first, { end: await windowEnd(run) });
  run.progress(holdout.description);
  const reports = await evaluateRecommendationVersions(holdout, run.versions, { seed: run.seed, resamples: run.resamples }, run.progress);
  for (const report of reports) run.write(run.json ? jsonLine(report) : recommendationText(report));
}

/** Per model: how `npm run evaluate -- --model M` scores it. */
export const MODEL_EVALUATIONS: Record<string, (run: EvaluationRun) => Promise<void>> = {
  demand: evaluateDemand,
  segmentation: evaluateSegmentation,
  recommendations: evaluateRecommendations,
};

export function checkWindow(window: string | undefined): void {
  if (window !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(window)) throw new UsageError(`--window must be a day as YYYY-MM-DD (the last day of the held-out window), got "${window}"`);
}
