/**
 * `npm run evaluate` for the models that are not classifiers: one entry per model, each reading
 * its holdout, scoring the versions and baselines, and printing a table (or one JSON object per
 * version). evaluate.ts dispatches here by --model.
 */
import type { Interval } from '../evaluation/intervals';
import { DEMAND_METHOD_LABELS, demandHoldout, evaluateDemandVersions, type DemandReport } from '../evaluation/demand-evaluation';
import type { ServingMetadata } from '../model-runtime/model-slot';
import type { Store } from '../store';
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

/** JSON has no NaN: an undefined figure is null. */
export function jsonLine(report: object): string {
  return `${JSON.stringify(report, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value))}\n`;
}

/** A table: one row per scorer, one column per figure, each figure with its interval. */
export function table(names: readonly string[], rows: readonly [string, Record<string, Interval>][]): string[] {
  const width = Math.max(36, ...rows.map(([label]) => label.length + 2));
  return [`  ${'scorer'.padEnd(width)}${names.map((n) => n.padEnd(28)).join('')}`, ...rows.map(([label, figures]) => `  ${label.padEnd(width)}${names.map((n) => withInterval(figures[n]).padEnd(28)).join('')}`)];
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
    '  (* the best baseline by book RMSSE; no oracle: the simulator records no true demand rate)',
    ...report.comparisons.map((c) => `  book-week RMSE, ${report.version} − ${c.against} (paired bootstrap, same books): ${withInterval(c.difference)}, p = ${c.pValue.toPrecision(3)}: ${c.verdict}`),
    '',
  ].join('\n');
}

async function evaluateDemand(run: EvaluationRun): Promise<void> {
  const holdout = await demandHoldout(run.store, { end: run.window, weeks: run.weeks, months: run.months });
  run.progress(`held out to ${holdout.end}: ${holdout.description}`);
  const reports = await evaluateDemandVersions(holdout, run.versions, { seed: run.seed, resamples: run.resamples }, run.progress);
  for (const report of reports) run.write(run.json ? jsonLine(report) : demandText(report));
}

/** Per model: how `npm run evaluate -- --model M` scores it. */
export const MODEL_EVALUATIONS: Record<string, (run: EvaluationRun) => Promise<void>> = {
  demand: evaluateDemand,
};

export function checkWindow(window: string | undefined): void {
  if (window !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(window)) throw new UsageError(`--window must be a day as YYYY-MM-DD (the last day of the held-out window), got "${window}"`);
}
