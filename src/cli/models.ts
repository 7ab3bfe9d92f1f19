/**
 * `npm run models -- <command>`: the model registry's lifecycle from the command line.
 *
 * Exit codes: 0 done, 1 refused or failed (validation failed, unknown version, registry busy),
 * 2 the command line itself is wrong. Errors are one line on stderr, without a stack trace.
 */
import 'reflect-metadata';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config';
import { CARD_FILE, renderModelCard, type LiveCardSection } from '../model-cards';
import { readClock } from '../circulation';
import { createLogger } from '../logging';
import { createProcessMetrics } from '../metrics';
import { LiveMonitor } from '../monitoring/monitor';
import { QUALITY_WINDOWS } from '../monitoring/windows';
import { checkServingCanLoad } from '../models/slots';
import type { ChartData } from '../model-cards';
import {
  archiveVersion,
  CHARTS_FILE,
  currentUser,
  DEFAULT_REGRESSION_TOLERANCE,
  listModels,
  promoteVersion,
  readMetadata,
  RegistryError,
  rollback,
  setDriftReferences,
  validateVersion,
} from '../registry';
import { referencesFromRows } from '../monitoring/references';
import { versionReferenceRows } from '../training/references';
import { CALIBRATED_MODELS, calibratedDriftConfig, calibrationWindows, RECENT_REFERENCE_COLUMNS, isCalibratedModel, recentReferences } from '../training/calibration-windows';
import type { DriftConfig } from '../monitoring/drift';
import type { RegisteredVersion, Rescore, ValidationReport } from '../registry';
import { rescoreOnEvidence } from '../evaluation/promotion-gate';
import { openStore } from '../store';
import { isVersion } from '../registry/semver';
import { readFlags, UsageError } from './flags';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export const USAGE = `Usage: npm run models -- <command> [options]

Commands:
  list [model]                           every registered version: stage, headline metric vs baseline, created
  validate <model> <version>             run the promotion checks and print them
  promote <model> <version>              validate, then make the version production (the old one is archived)
  rollback <model>                       restore the previous production version
  archive <model> <version>              move a version to archived/
  card <model> <version>                 where the version's model card (HTML) is; with --out, write it anew there
                                         (with --live, adding live quality, calibration and drift from the prediction log)
  reference <model> <version>            add drift references to the version's metadata.json: its training rows
                                         (as of its training date, from --db) through the serving feature path,
                                         scored by its own model.onnx; for overdue also its outcome seasons (the
                                         trainer's outcome ratio per week of the year, from the same rows and scores),
                                         so a version trained before them is backfilled; model.onnx and the artefacts
                                         stay as they are

Options:
  --reason <text>     why, kept in the stage history (needed with --force)
  --force             promote (or archive a production version, or roll back across a feature-spec change) although checks fail; needs --reason
  --who <name>        who is acting, for the history (default: the OS user)
  --tolerance <x>     allowed relative regression of the headline metric (default ${DEFAULT_REGRESSION_TOLERANCE})
  --db <path|url>     reference: the library the version was trained on (default: DATABASE_URL, else data/shelfmark.db).
                      validate/promote: re-score production and the candidate on this library's holdout and
                      refuse a candidate worse on the same rows (overdue, churn: AUC, DeLong's paired test;
                      demand: book-week RMSE; recommendations: NDCG@10; segmentation: lapse AUC of the
                      segments; paired bootstrap); without it, the stored headline metrics are compared
  --calibrate-weeks <n>
                      reference (overdue, churn, segmentation, recommendations): also calibrate the version's
                      drift thresholds on n weekly 7-day windows of --db up to its training date, as the drift
                      bench does (n from 2 to 520; 104, two years, is the bench's), and store them as
                      driftThresholds, which the live monitor then judges the version's drift with; the
                      references of the features that grow with the clock (a member's tenure) are then
                      taken from the newest 13 of those weeks, not from the whole training period
  --out <file>        \`card\` writes the card to <file> (relative to the current directory); without
                      it, \`card\` prints the path of the card registered in the version's folder
  --live              \`card --out\`: add the live section, computed from the prediction log and circulation of
                      the library at --db (default DATABASE_URL) as of its clock; the store is only read
  -h, --help          this help

Models are read from MODELS_DIR (default ./models).
Exit codes: 0 done, 1 refused or failed, 2 wrong usage.`;

export interface ModelsCommandContext {
  modelsDir: string;
  /** The library `reference` and `card --live` read when no --db is given. */
  databaseUrl?: string;
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Where relative --out paths resolve. */
  cwd?: string;
}

interface ParsedArgs {
  positional: string[];
  force: boolean;
  help: boolean;
  reason?: string;
  who?: string;
  tolerance?: number;
  out?: string;
  db?: string;
  live: boolean;
  calibrateWeeks?: number;
}

function readModelsFlags(argv: string[]): ParsedArgs {
  const { flags, positionals, help } = readFlags(argv, { force: 'boolean', live: 'boolean', reason: 'string', who: 'string', tolerance: 'string', out: 'string', db: 'string', 'calibrate-weeks': 'string' });
  const parsed: ParsedArgs = { positional: positionals, force: flags.force === true, help, live: flags.live === true };
  if (flags.reason !== undefined) {
    if (!flags.reason.trim()) throw new UsageError('--reason must not be empty');
    parsed.reason = flags.reason;
  }
  if (flags.tolerance !== undefined) {
    const tolerance = Number(flags.tolerance);
    if (!Number.isFinite(tolerance) || tolerance < 0) throw new UsageError(`--tolerance must be a non-negative number such as 0.02, got "${flags.tolerance}"`);
    parsed.tolerance = tolerance;
  }
  const weeks = flags['calibrate-weeks'];
  if (weeks !== undefined) {
    const n = Number(weeks);
    if (!Number.isInteger(n) || n < 2 || n > 520) throw new UsageError(`--calibrate-weeks must be a whole number of weeks from 2 to 520, got "${weeks}"`);
    parsed.calibrateWeeks = n;
  }
  if (flags.who !== undefined) parsed.who = flags.who;
  if (flags.out !== undefined) parsed.out = flags.out;
  if (flags.db !== undefined) parsed.db = flags.db;
  return parsed;
}

function storeUrl(db: string): string {
  const url = db.includes('://') || db.startsWith('sqlite:') ? db : `sqlite:${db}`;
  if (url.startsWith('sqlite:') && !existsSync(url.slice('sqlite:'.length))) throw new UsageError(`--db ${db}: no such file`);
  return url;
}

/** Runs `work` with a re-scoring gate on the library at `db` (when given and the model can be re-scored), closing the store after. */
async function withEvidence<T>(db: string | undefined, model: string, work: (rescore: Rescore | undefined) => Promise<T>): Promise<T> {
  if (db === undefined) return work(undefined);
  const url = storeUrl(db);
  const store = openStore(url, { readonly: url.startsWith('sqlite:') });
  try {
    return await work(rescoreOnEvidence(store, model));
  } finally {
    await store.close();
  }
}

/** The live section of a card: one monitor run over the whole prediction log, writing nothing. */
async function liveSection(db: string, modelsDir: string, model: string, version: string): Promise<LiveCardSection> {
  const url = db.includes('://') || db.startsWith('sqlite:') ? db : `sqlite:${db}`;
  if (url.startsWith('sqlite:') && !existsSync(url.slice('sqlite:'.length))) throw new UsageError(`--db ${db}: no such file`);
  const store = openStore(url, { readonly: url.startsWith('sqlite:') });
  try {
    const monitor = new LiveMonitor(
      { store, modelsDir, metrics: createProcessMetrics('models-card'), logger: createLogger('models-card', 'warn'), clock: () => readClock(store) },
      { persist: false },
    );
    await monitor.runOnce();
    return { windows: QUALITY_WINDOWS.flatMap((window) => monitor.health(model, window).filter((h) => h.version === version)) };
  } finally {
    await store.close();
  }
}

function expectArgs(command: string, args: string[], names: string[], optional = 0): void {
  const min = names.length - optional;
  if (args.length < min || args.length > names.length) {
    throw new UsageError(`${command} takes ${names.map((n, i) => (i >= min ? `[${n}]` : `<${n}>`)).join(' ')}`);
  }
  const versionIndex = names.indexOf('version');
  if (versionIndex >= 0 && args[versionIndex] !== undefined && !isVersion(args[versionIndex])) {
    throw new UsageError(`expected a version as MAJOR.MINOR.PATCH (e.g. 1.2.0), got "${args[versionIndex]}"`);
  }
}

function formatMetric(value: number | null): string {
  if (value === null) return '—';
  return Number.isInteger(value) ? String(value) : value.toPrecision(3);
}

export function formatTable(versions: RegisteredVersion[]): string[] {
  const header = ['MODEL', 'VERSION', 'STAGE', 'HEADLINE', 'BASELINE', 'CREATED'];
  const rows = versions.map((v) => [
    v.name,
    v.version,
    v.stage,
    `${v.headlineMetric.name} ${formatMetric(v.headlineMetric.value)}`,
    `${formatMetric(v.baselineValue)} (${v.baselineName})`,
    v.created.slice(0, 10),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
}

function formatReport(report: ValidationReport): string[] {
  const width = Math.max(...report.checks.map((c) => c.name.length));
  return [
    `${report.name} ${report.version} (${report.stage})`,
    ...report.checks.map((check) => `  ${check.passed ? 'ok  ' : 'FAIL'}  ${check.name.padEnd(width)}  ${check.detail}`),
    report.passed ? 'all checks passed' : `${report.checks.filter((c) => !c.passed).length} check(s) failed`,
  ];
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

export async function runModelsCommand(argv: string[], context: ModelsCommandContext): Promise<number> {
  const out = context.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { modelsDir } = context;
  try {
    const args = readModelsFlags(argv);
    const [command, ...rest] = args.positional;
    if (args.help || command === 'help') {
      out(USAGE);
      return EXIT_OK;
    }
    if (command === undefined) throw new UsageError('no command given');
    if (args.force && !args.reason) throw new UsageError('--force needs --reason "why the checks may be overridden"');
    const who = args.who ?? currentUser();

    switch (command) {
      case 'list': {
        expectArgs(command, rest, ['model'], 1);
        const versions = listModels(modelsDir, rest[0]);
        if (versions.length === 0) out(rest[0] ? `no versions of ${rest[0]} are registered in ${modelsDir}` : `no model versions are registered in ${modelsDir}`);
        else formatTable(versions).forEach((line) => out(line));
        return EXIT_OK;
      }
      case 'validate': {
        expectArgs(command, rest, ['model', 'version']);
        const report = await withEvidence(args.db, rest[0]!, (rescore) => validateVersion(modelsDir, rest[0]!, rest[1]!, { regressionTolerance: args.tolerance, rescore }));
        formatReport(report).forEach((line) => out(line));
        return report.passed ? EXIT_OK : EXIT_FAILED;
      }
      case 'promote': {
        expectArgs(command, rest, ['model', 'version']);
        const [name, version] = [rest[0]!, rest[1]!];
        const result = await withEvidence(args.db, name, (rescore) =>
          promoteVersion(modelsDir, name, version, {
            who,
            reason: args.reason,
            force: args.force ? { reason: args.reason! } : undefined,
            regressionTolerance: args.tolerance,
            rescore,
          }),
        );
        if (result.forced) {
          const failed = result.report.checks.filter((c) => !c.passed).map((c) => c.name);
          err(`warning: promoted despite failed checks (${failed.join(', ')}); recorded with reason "${args.reason}"`);
        }
        out(`promoted ${name} ${version} to production${result.previous ? ` (${result.previous} archived)` : ''}`);
        return EXIT_OK;
      }
      case 'rollback': {
        expectArgs(command, rest, ['model']);
        const result = await rollback(modelsDir, rest[0]!, {
          who,
          reason: args.reason,
          force: args.force ? { reason: args.reason! } : undefined,
          canServe: (version, dir) => checkServingCanLoad(rest[0]!, version, dir),
        });
        const withdrawn = result.withdrawn ? `; ${result.withdrawn.version} back in ${result.withdrawn.to}` : '';
        out(`rolled back ${rest[0]}: ${result.restored} is in production again${withdrawn}`);
        return EXIT_OK;
      }
      case 'archive': {
        expectArgs(command, rest, ['model', 'version']);
        await archiveVersion(modelsDir, rest[0]!, rest[1]!, { who, reason: args.reason, force: args.force ? { reason: args.reason! } : undefined });
        out(`archived ${rest[0]} ${rest[1]}`);
        return EXIT_OK;
      }
      case 'card': {
        expectArgs(command, rest, ['model', 'version']);
        const [name, version] = [rest[0]!, rest[1]!];
        const entry = listModels(modelsDir, name).find((v) => v.version === version);
        if (!entry) throw new RegistryError('not-found', `${name} has no registered version ${version}`);
        const dir = path.join(modelsDir, entry.dir);
        const chartsFile = path.join(dir, CHARTS_FILE);
        const charts = existsSync(chartsFile) ? (JSON.parse(readFileSync(chartsFile, 'utf8')) as ChartData[]) : [];
        if (args.out === undefined) {
          // The card registered with the version is one of its checksummed files: shown, never rewritten.
          const registered = path.join(dir, CARD_FILE);
          if (!existsSync(registered)) throw new UsageError(`${name} ${version} has no registered model card: write one with --out <file>`);
          out(`${name} ${version}'s model card, written when it was registered: ${registered}`);
          return EXIT_OK;
        }
        if (args.live && !context.databaseUrl && args.db === undefined) throw new UsageError('--live needs a library: --db <path|url> or DATABASE_URL');
        const live = args.live ? await liveSection(args.db ?? context.databaseUrl ?? '', modelsDir, name, version) : undefined;
        const target = path.resolve(context.cwd ?? process.cwd(), args.out);
        writeFileSync(target, renderModelCard(readMetadata(dir), charts, live));
        out(`wrote ${name} ${version}'s model card to ${target}`);
        return EXIT_OK;
      }
      case 'reference': {
        expectArgs(command, rest, ['model', 'version']);
        const db = args.db ?? context.databaseUrl;
        if (db === undefined) throw new UsageError('reference needs --db <path|url>: the library the version was trained on');
        const url = storeUrl(db);
        const store = openStore(url, { readonly: url.startsWith('sqlite:') });
        try {
          const [name, version] = [rest[0]!, rest[1]!];
          const weeks = args.calibrateWeeks;
          if (weeks !== undefined && !isCalibratedModel(name)) throw new UsageError(`--calibrate-weeks: drift thresholds are calibrated for ${CALIBRATED_MODELS.join(', ')}, not ${name}`);
          let seasons = false;
          const metadata = await setDriftReferences(modelsDir, name, version, async (dir, current) => {
            const rows = await versionReferenceRows(store, current, dir);
            seasons = rows.outcomeSeasons !== undefined;
            let driftReferences = referencesFromRows(rows);
            let driftThresholds: DriftConfig | undefined;
            if (weeks !== undefined && isCalibratedModel(name)) {
              const windows = await calibrationWindows(store, { [name]: { dir, metadata: current } }, { weeks, asOf: current.trainingData.asOf });
              // The clock features' and the classifiers' scores' references are their newest weeks (RECENT_REFERENCE_COLUMNS), and the thresholds are calibrated against those.
              driftReferences = recentReferences(driftReferences, windows[name] ?? [], RECENT_REFERENCE_COLUMNS[name]);
              driftThresholds = calibratedDriftConfig(driftReferences, windows[name] ?? []);
            }
            return { driftReferences, outcomeSeasons: rows.outcomeSeasons, driftThresholds, heldOutWeeks: rows.heldOutWeeks };
          });
          const features = Object.keys(metadata.driftReferences?.features ?? {});
          out(`${rest[0]} ${rest[1]}: drift references for ${features.length} columns (${features.join(', ')}) as of ${metadata.trainingData.asOf}`);
          if (seasons && metadata.outcomeSeasons) {
            const rows = metadata.outcomeSeasons.rows.reduce((a, b) => a + b, 0);
            out(`${rest[0]} ${rest[1]}: outcome seasons for ${metadata.outcomeSeasons.factors.length} weeks from ${rows} training rows settled by ${metadata.outcomeSeasons.settledBy}`);
          }
          if (weeks !== undefined && metadata.driftThresholds) {
            out(`${name} ${version}: drift thresholds for ${Object.keys(metadata.driftThresholds.features ?? {}).length} columns calibrated on ${weeks} weekly windows up to ${metadata.trainingData.asOf}`);
          }
        } finally {
          await store.close();
        }
        return EXIT_OK;
      }
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      err(`models: ${error.message} (see --help)`);
      return EXIT_USAGE;
    }
    err(`models: ${oneLine(error instanceof Error ? error.message : String(error))}`);
    return EXIT_FAILED;
  }
}

if (require.main === module) {
  let modelsDir: string;
  let databaseUrl: string;
  try {
    ({ modelsDir, databaseUrl } = loadConfig());
  } catch (error) {
    process.stderr.write(`models: ${oneLine((error as Error).message)}\n`);
    process.exit(EXIT_FAILED);
  }
  void runModelsCommand(process.argv.slice(2), { modelsDir, databaseUrl }).then((code) => {
    process.exitCode = code;
  });
}
