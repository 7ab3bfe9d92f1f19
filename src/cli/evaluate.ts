/**
 * `npm run evaluate -- --model M [--version V ...] [--db PATH] [--seed N] [--resamples N] [--json]`:
 * scores registered versions, the baselines and the oracle on the same held-out rows of a library.
 */
import 'reflect-metadata';
import path from 'node:path';
import { loadConfig } from '../config';
import { CLASSIFIER_HOLDOUTS } from '../evaluation/classifier-holdout';
import { compareAuc, evaluateClassifierVersions, type ClassifierVersion, type EvaluationReport } from '../evaluation/classifier-evaluation';
import type { Interval } from '../evaluation/intervals';
import { readMetadata } from '../registry';
import { readRegistry } from '../registry/registry-file';
import { openStore } from '../store';
import { checkWindow, MODEL_EVALUATIONS } from './evaluate-models';
import { parseFlags, UsageError } from './flags';

const HOLDOUTS = CLASSIFIER_HOLDOUTS;

const USAGE = `usage: npm run evaluate -- --model M [--version V ...] [--db PATH] [--window DAY] [--seed N] [--resamples N] [--json]
  Scores registered versions of a model, its baselines and (on simulated data) the oracle on the same
  held-out rows of a library, through each version's ONNX files and the serving feature code, with 95%
  bootstrap intervals and paired comparisons between versions and with the best baseline.
    overdue, churn: AUC, log loss, Brier score; at the version's served MEDIUM/HIGH thresholds
      precision, recall, share flagged, lift and the confusion matrix, next to flagging the same share
      at random; for churn, AUC by slice (new, declining, steady members) against the oracle's;
      DeLong's paired test between versions.
    demand: book-week and collection-month RMSE, MAE, MASE, RMSSE and bias against seasonal naive,
      the 52-week mean, mean x season, SES/Theta on the deseasonalised series, Croston and TSB.
    recommendations: NDCG, hit rate and recall at 10, catalogue coverage and novelty of members'
      new books in the last 90 days, against popularity, item-kNN and EASE.
    segmentation: lapse AUC/log loss/Brier and loans MAE/RMSE of the next 90 days from segment
      membership fitted a cut-off earlier, and stability, against the RFM grids.
  --model      ${[...Object.keys(HOLDOUTS), ...Object.keys(MODEL_EVALUATIONS)].join(', ')}
  --window     last day of the held-out window, YYYY-MM-DD (default: the library clock); not for overdue, churn
  --weeks      demand: held-out weeks of books (default 13, as the trainer holds out)
  --months     demand: held-out months of collections (default 6, as the trainer holds out)
  --version    a registered version (repeat for several; default: production, plus any staging version)
  --db         sqlite path or postgres:// URL (default: DATABASE_URL or data/shelfmark.db)
  --seed       seed of the bootstrap resamples (default 1): same seed, same output
  --resamples  bootstrap resamples (default 1000)
  --json       one JSON object per version: {"model","version","rows","metrics","baselines","oracle","thresholds"[,"slices"]}`;

function chosenVersions(modelsDir: string, model: string, requested: readonly string[]): ClassifierVersion[] {
  const record = readRegistry(modelsDir).models[model];
  if (!record) throw new UsageError(`--model ${model}: no versions registered in ${modelsDir}`);
  const entries = Object.values(record.versions);
  const chosen =
    requested.length > 0
      ? requested.map((version) => {
          const entry = record.versions[version];
          if (!entry) throw new UsageError(`--version ${version}: ${model} has ${Object.keys(record.versions).join(', ')}`);
          return entry;
        })
      : [...entries.filter((e) => e.stage === 'production'), ...entries.filter((e) => e.stage === 'staging')];
  if (chosen.length === 0) throw new UsageError(`${model} has no production or staging version; name one with --version`);
  return chosen.map((entry) => {
    const dir = path.join(modelsDir, entry.dir);
    return { version: entry.version, dir, metadata: readMetadata(dir) };
  });
}

const fixed = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : 'n/a');
const withInterval = (i: Interval | undefined): string => (i ? `${fixed(i.value)} [${fixed(i.low)}, ${fixed(i.high)}]` : 'n/a');

function textReport(report: EvaluationReport, description: string): string[] {
  const lines = [`${report.model} ${report.version}: ${report.rows} rows (${description}), 95% bootstrap intervals`];
  const names = Object.keys(report.metrics);
  lines.push(`  ${'scorer'.padEnd(36)}${names.map((n) => n.padEnd(26)).join('')}`);
  const row = (name: string, figures: Record<string, Interval>) => `  ${name.padEnd(36)}${names.map((n) => withInterval(figures[n]).padEnd(26)).join('')}`;
  lines.push(row(`version ${report.version}`, report.metrics));
  const bestAuc = Math.max(...Object.values(report.baselines).map((b) => b.auc?.value ?? -Infinity));
  for (const [name, figures] of Object.entries(report.baselines)) {
    lines.push(row(`${figures.auc?.value === bestAuc ? '*' : ' '}${name}`, figures));
    if (figures.precision) lines.push(`  ${''.padEnd(37)}precision ${withInterval(figures.precision)}, recall ${withInterval(figures.recall)}`);
  }
  if (report.oracle) lines.push(row('oracle (simulator truth)', report.oracle));
  lines.push('  (* the best baseline by AUC)');
  for (const t of report.thresholds) {
    const c = t.confusion;
    lines.push(
      `  at ${t.level} (p >= ${fixed(t.value)}): precision ${withInterval(t.precision)}, recall ${withInterval(t.recall)}, ` +
        `share flagged ${withInterval(t.share)}, lift ${withInterval(t.lift)}`,
      `    confusion: ${c.truePositives} true positives, ${c.falsePositives} false positives, ${c.falseNegatives} false negatives, ${c.trueNegatives} true negatives; ` +
        `flagging the same share at random: precision ${fixed(t.randomAtSameShare.precision)} (the base rate), recall ${fixed(t.randomAtSameShare.recall)}`,
    );
  }
  for (const slice of report.slices ?? []) {
    lines.push(
      `  slice ${slice.name}: ${slice.rows} rows, positive rate ${fixed(slice.positiveRate)}, AUC ${withInterval(slice.auc)}` +
        (slice.oracleAuc ? `, oracle ${withInterval(slice.oracleAuc)}, ratio to the oracle ${withInterval(slice.ofOracle ?? undefined)}` : ''),
    );
  }
  return lines;
}

/** JSON has no NaN: an undefined figure (precision with nothing flagged) is null. */
function json(report: EvaluationReport): string {
  return JSON.stringify(report, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value));
}

async function main(): Promise<void> {
  const { flags } = parseFlags(
    process.argv.slice(2),
    { model: 'string', version: 'strings', db: 'string', window: 'string', weeks: 'number', months: 'number', seed: 'number', resamples: 'number', json: 'boolean' },
    USAGE,
  );
  if (!flags.model) throw new UsageError(`--model is required\n${USAGE}`);
  const holdoutOf = HOLDOUTS[flags.model];
  const otherModel = MODEL_EVALUATIONS[flags.model];
  if (!holdoutOf && !otherModel) throw new UsageError(`--model ${flags.model}: evaluate scores ${[...Object.keys(HOLDOUTS), ...Object.keys(MODEL_EVALUATIONS)].join(', ')}\n${USAGE}`);
  checkWindow(flags.window);
  if (holdoutOf && (flags.window !== undefined || flags.weeks !== undefined || flags.months !== undefined)) {
    throw new UsageError(`--window, --weeks and --months apply to ${Object.keys(MODEL_EVALUATIONS).join(', ')}; ${flags.model} is scored on its trainer's holdout`);
  }
  const resamples = flags.resamples ?? 1000;
  if (!Number.isInteger(resamples) || resamples < 100 || resamples > 100_000) throw new UsageError(`--resamples must be an integer from 100 to 100000, got ${resamples}`);
  const seed = flags.seed ?? 1;
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got ${seed}`);

  const config = loadConfig();
  const versions = chosenVersions(config.modelsDir, flags.model, flags.version ?? []);
  const url = flags.db ? (flags.db.includes('://') || flags.db.startsWith('sqlite:') ? flags.db : `sqlite:${flags.db}`) : config.databaseUrl;
  const store = openStore(url, { readonly: url.startsWith('sqlite:') });
  try {
    process.stderr.write(`evaluate: ${flags.model} held-out rows from ${url}\n`);
    if (otherModel) {
      const progress = (message: string) => process.stderr.write(`evaluate: ${message}\n`);
      const run = { store, versions, window: flags.window, weeks: flags.weeks, months: flags.months, seed, resamples, json: flags.json ?? false, progress };
      await otherModel({ ...run, write: (text) => process.stdout.write(text) });
      return;
    }
    if (!holdoutOf) return;
    const holdout = await holdoutOf(store);
    process.stderr.write(`evaluate: ${holdout.rows} rows (${holdout.description}); scoring ${versions.map((v) => v.version).join(', ')} with ${resamples} resamples\n`);
    const { reports, scored } = await evaluateClassifierVersions(holdout, versions, { seed, resamples }, (message) =>
      process.stderr.write(`evaluate: ${message}\n`),
    );
    if (flags.json) {
      for (const report of reports) process.stdout.write(`${json(report)}\n`);
      return;
    }
    process.stdout.write(`${reports.flatMap((r) => [...textReport(r, holdout.description), '']).join('\n')}`);
    const [first, ...others] = scored;
    for (const other of first ? others : []) {
      const test = compareAuc(holdout, other, first!);
      const verdict = test.difference.low > 0 ? 'better' : test.difference.high < 0 ? 'worse' : 'not distinguishable';
      process.stdout.write(`AUC ${other.version} − ${first!.version} (DeLong, same rows): ${withInterval(test.difference)}, p = ${test.pValue.toPrecision(3)}: ${verdict}\n`);
    }
  } finally {
    await store.close();
  }
}

main().catch((error: Error) => {
  process.stderr.write(`evaluate: ${error.message}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
