/**
 * Drift detection, measured on a small simulated library. Generates a library, trains the
 * monitored models on it (their drift references come from the training hook), calibrates
 * each model's thresholds on weekly windows of the two years before the library's last
 * generated day (the history the versions were trained and evaluated on: every season twice), then lets
 * the library live on through the write path: 90 unshifted days, and one run per simulator
 * shift. Every simulated day, each model's window of the last `--window` days is compared
 * with its version's references, as the monitoring job would set `model_feature_drift`;
 * a verdict `drifted` fires ModelFeatureDrift (a feature) or ModelScoreDrift (`__score__`).
 * Overdue's outcomes are judged over the same windows: the loans whose final due date fell in
 * the window (so each is settled: back by then, or late), each with the score of its last
 * prediction before the outcome (the loan as it stands after its last renewal), give the
 * outcome ratio (late loans over the Σ p the scores expected, each p times the factor of the
 * week of the year it is settled in: the version's `outcomeSeasons`, from its training rows,
 * as the live monitor uses them); its 95% interval outside OUTCOME_RATIO_BOUNDS fires
 * ModelOutcomeRateShift (`overdue/outcome_ratio`).
 * Thresholds: calibrateThresholds on the calibration weeks, with the p-value tests'
 * α Bonferroni-divided among a version's features × 365 days (src/monitoring/thresholds.ts: one alarm per version
 * stands for a year of daily verdicts on every feature), fixed before any living day. Windows by due
 * date rather than by the day an outcome became known: on-time outcomes are known when the
 * loan comes back, late ones the day after it falls due, so a week of closed days (Christmas)
 * holds late outcomes and few on-time ones, an outcome ratio far above 1 with nothing shifted.
 *
 * A window holds what serving scores:
 *   overdue          loans checked out in the window, as known at checkout (no renewals yet,
 *                    the loan's first due date), and their scores
 *   churn            the members active on the day (a checkout in the 90 days before it: the
 *                    population churn is trained on and scores), features on the day, and scores
 *   segmentation     the members with a checkout in the window, their features and the segment they are given
 *   recommendations  the same members' history lengths, and the genre of each book borrowed
 *
 * Prints per scenario and rule: alert-days before the shift (false alarms), the first day an
 * expected feature fired after it (the detection delay) and every feature that fired in the
 * 14 days after it, leaving out alerts the unshifted run raised on the same day.
 *
 *   node dist/bench/drift.js [--members N] [--seed S] [--window DAYS] [--days N] [--after N] [--dir DIR] [--calibration-weeks N] [--stored-thresholds] [--only NAME[,NAME...]] [--reuse DIR] [--trace] [--json]
 *
 * --only runs the scenarios whose name contains one of the NAMEs ("unshifted" is one; a shifted
 * run whose process has no unshifted run counts every alert after its shift);
 * --stored-thresholds judges with the `driftThresholds` stored in the versions' metadata (as
 * `models reference --calibrate-weeks` writes them and the live monitor reads them) instead of
 * calibrating again; --after N ends each shifted run N days after its shift; --trace prints, per
 * day, every test whose statistic came within half its threshold (on the −log10 p scale) and
 * the outcome ratio (against the season, and against 1), and every test of every calibration
 * week, to stderr.
 *
 * The libraries and models go to a new folder inside DIR (default: the system's temporary folder).
 * --reuse FOLDER takes the library and the trained production versions of an earlier run's
 * folder instead of generating and training again (--members and --seed then do not apply);
 * the scenarios' libraries still go to a new folder, so the earlier run's files are not changed.
 */
import 'reflect-metadata';
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ModelName } from '../src/config';
import { parseFlags } from '../src/cli/flags';
import { compareWindow, OUTCOME_RATIO_BOUNDS, outcomeRatio, type DriftConfig, type DriftReferences, type DriftWindow, type FeatureDrift } from '../src/monitoring';
import { SCORE_REFERENCE } from '../src/monitoring/references';
import { driftThresholdsOf, monitoredDriftConfig } from '../src/monitoring/thresholds';
import { outcomeSeasonsOf, seasonalFactor, type OutcomeSeasons } from '../src/monitoring/seasons';
import { getProduction, type ProductionModel } from '../src/registry';
import { generateLibrary } from '../src/simulator';
import { liveOn, parseShift } from '../src/simulator/living';
import { openStore, readAsOf } from '../src/store';
import { trainAndRegister } from '../src/training';
import { bookGenres } from '../src/training/references';
import { CALIBRATION_SMALL_WINDOW, CALIBRATION_WEEKS, calibratedDriftConfig, calibrationWindows, RECENT_REFERENCE_COLUMNS, overdueAtCheckout, recentReferences, windowsAt, type OverdueRows, type WindowSource } from '../src/training/calibration-windows';
import { addDays } from '../src/util/dates';

const USAGE = `node dist/bench/drift.js [--members N] [--seed S] [--window DAYS] [--days N] [--after N] [--dir DIR] [--calibration-weeks N] [--stored-thresholds] [--only NAME[,NAME...]] [--reuse DIR] [--trace] [--json]
  --members N              members of the generated library (default 2000)
  --seed S                 the library's seed (default 1)
  --window DAYS            days in each compared window (default 7)
  --days N                 days of the unshifted run (default 90; shifted runs have their own)
  --after N                end each shifted run N days after its shift (default: the scenario's own length)
  --dir DIR                where the new run folder goes (default: the temporary folder)
  --calibration-weeks N    weekly windows before the training date the thresholds are calibrated on (default 104)
  --stored-thresholds      the driftThresholds stored in the versions' metadata, not a new calibration
  --only NAME[,NAME...]    the runs whose name contains one of the NAMEs (e.g. unshifted,Fantasy)
  --reuse DIR              the library.db and models/ of an earlier run's folder, instead of generating and training
  --trace                  every calibration test and the near-threshold tests and outcome ratios of each day, to stderr
  --json                   the report as one JSON line on stdout`;
const MONITORED = ['overdue', 'churn', 'segmentation', 'recommendations'] as const satisfies readonly ModelName[];
type Monitored = (typeof MONITORED)[number];
/** Days after a shift within which it must be found. */
const DETECTION_GOAL_DAYS = 14;
/** Loans checked out this long before a live day can still have their outcome become known on it (three renewals of a 21-day loan, and late). */
const OUTCOME_LOOKBACK_DAYS = 150;
const OUTCOME_RATIO = 'overdue/outcome_ratio';

interface Scenario {
  name: string;
  shift?: string;
  days: number;
  /** model/feature pairs the shift should move. */
  expected: string[];
}

const RELIABILITY_FEATURES = ['overdue/member_late_share', `overdue/${SCORE_REFERENCE}`, 'churn/late_share', `churn/${SCORE_REFERENCE}`, OUTCOME_RATIO];

function scenarios(days: number): Scenario[] {
  return [
    { name: 'unshifted', days, expected: [] },
    { name: 'reliability falls by 20%', shift: 'reliability=0.2@30', days: 90, expected: RELIABILITY_FEATURES },
    { name: 'reliability falls by 50%', shift: 'reliability=0.5@30', days: 60, expected: RELIABILITY_FEATURES },
    { name: 'Fantasy 3x as popular', shift: 'genre=Fantasy*3@10', days: 40, expected: ['recommendations/borrowed_genre'] },
    {
      name: '200 new teen members',
      shift: 'cohort=200:teen@45',
      days: 75,
      expected: [
        'churn/tenure_days', 'segmentation/tenure_days', 'overdue/member_tenure_days', 'overdue/member_returned_loans', 'overdue/member_late_share',
        'recommendations/history_books', 'recommendations/borrowed_genre', `segmentation/${SCORE_REFERENCE}`,
      ],
    },
  ];
}

/**
 * Overdue's outcome ratio over the loans whose final due date fell in the `width` days before
 * `day` (all settled on `day`): against the version's seasonal expectation (each loan expects
 * p × the factor of the week it is settled in, as the monitor does), and `raw`, against 1.
 */
function outcomeRatioAt(overdue: OverdueRows, day: string, width: number, seasons: OutcomeSeasons | null): { rows: number; ratio: ReturnType<typeof outcomeRatio>; raw: ReturnType<typeof outcomeRatio> } {
  const from = addDays(day, -width - 1);
  const to = addDays(day, -1);
  let rows = 0;
  let late = 0;
  let expected = 0;
  let seasonal = 0;
  overdue.finalDue.forEach((due, i) => {
    if (due <= from || due > to) return;
    rows += 1;
    late += overdue.late[i] ?? 0;
    expected += overdue.settledScores[i] ?? 0;
    seasonal += (overdue.settledScores[i] ?? 0) * seasonalFactor(seasons, addDays(due, 1));
  });
  return { rows, ratio: outcomeRatio(late, rows, seasonal), raw: outcomeRatio(late, rows, expected) };
}

const RULES = ['ModelFeatureDrift', 'ModelScoreDrift', 'ModelOutcomeRateShift'] as const;

interface Alert {
  day: number;
  rule: (typeof RULES)[number];
  /** model/feature */
  feature: string;
}

/** Within half its threshold on the −log10 p scale (or the distance's), for --trace. */
function nearThreshold(v: FeatureDrift): boolean {
  if (v.pValue === null) return v.statistic >= v.threshold / 2;
  return -Math.log10(Math.max(1e-300, v.pValue)) >= -Math.log10(v.threshold) / 2;
}

function alertsOf(model: Monitored, day: number, references: DriftReferences, window: DriftWindow, config: DriftConfig, trace: ((line: string) => void) | null): Alert[] {
  const verdicts = compareWindow(references, window, config);
  for (const v of verdicts.filter(nearThreshold)) {
    trace?.(`day ${day} ${model}/${v.feature}: ${v.test} ${v.statistic.toPrecision(3)}${v.pValue === null ? '' : ` p ${v.pValue.toExponential(2)}`} threshold ${v.threshold.toExponential(2)} n ${v.count}${v.drifted ? ' DRIFTED' : ''}`);
  }
  return verdicts
    .filter((v) => v.drifted)
    .map((v) => ({ day, rule: v.feature === SCORE_REFERENCE ? 'ModelScoreDrift' : 'ModelFeatureDrift', feature: `${model}/${v.feature}` }));
}

interface ScenarioResult {
  scenario: string;
  shift: string | null;
  days: number;
  shiftDay: number | null;
  /** Per rule: days with at least one alert before the shift (all days when unshifted), and alert count. */
  falseAlarms: Record<Alert['rule'], { days: number; alerts: number; features: string[] }>;
  /** Days from the shift to the first alert on an expected feature; null when none fired in the run. */
  detectionDelayDays: number | null;
  detectedWithinGoal: boolean | null;
  /** Every feature that fired in the DETECTION_GOAL_DAYS days from the shift, expected ones marked. */
  namedAfterShift: { feature: string; firstDay: number; expected: boolean }[];
  windowSizes: Record<Monitored, { min: number; max: number }>;
  /** Every day each model/feature fired on. */
  alertDays: Record<string, number[]>;
}

const alertKey = (a: Alert): string => `${a.day} ${a.feature}`;

/**
 * `unshifted`: the alerts of the unshifted run. The runs share their days up to the shift, and
 * an alert the unshifted run raises on the same day and feature is not the shift's doing: it
 * counts as neither a detection nor a name found.
 */
function summarise(scenario: Scenario, alerts: Alert[], sizes: Record<Monitored, number[]>, unshifted: ReadonlySet<string>): ScenarioResult {
  const shiftDay = scenario.shift ? parseShift(scenario.shift).day : null;
  const before = alerts.filter((a) => shiftDay === null || a.day < shiftDay);
  const falseAlarms = Object.fromEntries(
    RULES.map((rule) => {
      const mine = before.filter((a) => a.rule === rule);
      return [rule, { days: new Set(mine.map((a) => a.day)).size, alerts: mine.length, features: [...new Set(mine.map((a) => a.feature))].sort() }];
    }),
  ) as ScenarioResult['falseAlarms'];
  const after = shiftDay === null ? [] : alerts.filter((a) => a.day >= shiftDay && !unshifted.has(alertKey(a)));
  const firstExpected = after.find((a) => scenario.expected.includes(a.feature));
  const named = new Map<string, number>();
  for (const a of after) if (a.day < (shiftDay ?? 0) + DETECTION_GOAL_DAYS && !named.has(a.feature)) named.set(a.feature, a.day);
  const delay = firstExpected && shiftDay !== null ? firstExpected.day - shiftDay : null;
  return {
    scenario: scenario.name,
    shift: scenario.shift ?? null,
    days: scenario.days,
    shiftDay,
    falseAlarms,
    detectionDelayDays: delay,
    detectedWithinGoal: shiftDay === null ? null : delay !== null && delay < DETECTION_GOAL_DAYS,
    namedAfterShift: [...named].map(([feature, firstDay]) => ({ feature, firstDay, expected: scenario.expected.includes(feature) })),
    alertDays: alerts.reduce<Record<string, number[]>>((days, a) => ({ ...days, [a.feature]: [...(days[a.feature] ?? []), a.day] }), {}),
    windowSizes: Object.fromEntries(MONITORED.map((m) => [m, { min: Math.min(...sizes[m]), max: Math.max(...sizes[m]) }])) as ScenarioResult['windowSizes'],
  };
}

function windowSize(window: DriftWindow): number {
  return Math.max(0, ...Object.values(window).map((values) => values.length));
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { members: 'number', seed: 'number', window: 'number', days: 'number', dir: 'string', 'calibration-weeks': 'number', 'stored-thresholds': 'boolean', after: 'number', only: 'string', reuse: 'string', trace: 'boolean', json: 'boolean' }, USAGE);
  const members = flags.members ?? 2000;
  const seed = flags.seed ?? 1;
  const width = flags.window ?? 7;
  const days = flags.days ?? 90;
  const calibrationWeeks = flags['calibration-weeks'] ?? CALIBRATION_WEEKS;
  const reuse = flags.reuse === undefined ? null : path.resolve(flags.reuse);
  if (reuse && !existsSync(path.join(reuse, 'library.db'))) throw new Error(`--reuse ${reuse}: no library.db there (give the folder an earlier run printed)`);
  // A fresh folder of its own, so --dir never has anything of the user's removed or overwritten.
  const dir = mkdtempSync(path.join(path.resolve(flags.dir ?? os.tmpdir()), 'shelfmark-drift-'));
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const trace = flags.trace ? say : null;
  const started = Date.now();
  const base = path.join(reuse ?? dir, 'library.db');
  const modelsDir = path.join(reuse ?? dir, 'models');
  const versions = {} as Record<Monitored, ProductionModel>;
  if (reuse) {
    // An earlier run's library and production versions, left as they are (scenarios copy the library).
    for (const model of MONITORED) {
      const production = getProduction(modelsDir, model);
      if (!production?.metadata.driftReferences) throw new Error(`--reuse ${reuse}: ${model} has no production version with drift references in models/`);
      versions[model] = production;
    }
    say(`reusing the library and models of ${reuse}; new files in ${dir}`);
  } else {
    await generateLibrary({ db: base, seed, members });
    say(`generated ${members} members (seed ${seed}) in ${dir}`);
    const store = openStore(`sqlite:${base}`);
    try {
      for (const model of MONITORED) {
        await trainAndRegister(model, store, { seed: 42, progress: () => {}, modelsDir, who: 'bench', promote: true });
        const production = getProduction(modelsDir, model);
        if (!production?.metadata.driftReferences) throw new Error(`${model} was not promoted with drift references`);
        versions[model] = production;
        say(`trained ${model} ${production.version} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      }
    } finally {
      await store.close();
    }
  }
  const references = Object.fromEntries(MONITORED.map((m) => [m, versions[m].metadata.driftReferences!])) as Record<Monitored, DriftReferences>;
  const seasons = outcomeSeasonsOf(versions.overdue.metadata.outcomeSeasons);
  if (seasons) say(`overdue's outcome seasons (week of the year settled: factor): ${seasons.factors.map((f, week) => `${week}:${f.toFixed(2)}`).join(' ')}`);
  else say('overdue was registered without outcome seasons: its outcome ratio is judged against 1');

  // Calibration: weekly windows of the generated years, before anything lives on (the code `models reference --calibrate-weeks` runs).
  const calibrationStore = openStore(`sqlite:${base}`, { readonly: true });
  const asOf = await readAsOf(calibrationStore);
  const configs = {} as Record<Monitored, DriftConfig>;
  try {
    if (flags['stored-thresholds']) {
      for (const model of MONITORED) {
        const stored = driftThresholdsOf(versions[model].metadata.driftThresholds);
        if (!stored) throw new Error(`--stored-thresholds: ${model} ${versions[model].version} stores no well-formed driftThresholds (run models reference --calibrate-weeks first)`);
        configs[model] = monitoredDriftConfig(references[model], stored);
      }
      say('judging with the driftThresholds stored in the versions, as the live monitor does');
    } else {
      const windows = await calibrationWindows(calibrationStore, versions, {
        weeks: calibrationWeeks,
        width,
        asOf,
        onWeek: (day, at) => {
          for (const model of MONITORED) {
            for (const v of trace ? compareWindow(references[model], at[model]!, { smallWindow: CALIBRATION_SMALL_WINDOW }) : []) {
              trace?.(`calibration ${day} ${model}/${v.feature}: ${v.test} ${v.statistic.toPrecision(3)}${v.pValue === null ? '' : ` p ${v.pValue.toExponential(2)}`} n ${v.count}`);
            }
          }
        },
      });
      for (const model of MONITORED) {
        // As `models reference --calibrate-weeks`: the clock features' and the classifiers' scores' references are their newest weeks.
        references[model] = recentReferences(references[model], windows[model] ?? [], RECENT_REFERENCE_COLUMNS[model]);
        configs[model] = calibratedDriftConfig(references[model], windows[model] ?? []);
      }
      say(`calibrated on ${calibrationWeeks} weekly windows up to ${asOf} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    }
  } finally {
    await calibrationStore.close();
  }

  const results: ScenarioResult[] = [];
  const unshiftedAlerts = new Set<string>();
  const only = flags.only?.toLowerCase().split(',').filter((name) => name !== '');
  const chosen = scenarios(days)
    .filter((s) => only === undefined || only.some((name) => s.name.toLowerCase().includes(name)))
    .map((s) => (s.shift && flags.after !== undefined ? { ...s, days: Math.min(s.days, parseShift(s.shift).day + flags.after) } : s));
  for (const scenario of chosen) {
    const db = path.join(dir, `${scenario.name.replace(/[^a-z0-9]+/gi, '-')}.db`);
    for (const ending of ['', '-wal', '-shm']) if (existsSync(`${base}${ending}`)) copyFileSync(`${base}${ending}`, `${db}${ending}`);
    const live = openStore(`sqlite:${db}`);
    try {
      await liveOn(live, { days: scenario.days, shifts: scenario.shift ? [parseShift(scenario.shift)] : [] });
      const overdue = await overdueAtCheckout(live, versions.overdue, addDays(asOf, -OUTCOME_LOOKBACK_DAYS));
      const source: WindowSource = { store: live, versions, overdue, genres: await bookGenres(live) };
      const alerts: Alert[] = [];
      const sizes: Record<Monitored, number[]> = { overdue: [], churn: [], segmentation: [], recommendations: [] };
      for (let day = 1; day <= scenario.days; day++) {
        const at = await windowsAt(source, addDays(asOf, day), width);
        for (const model of MONITORED) {
          sizes[model].push(windowSize(at[model]!));
          alerts.push(...alertsOf(model, day, references[model], at[model]!, configs[model], trace));
        }
        const { rows, ratio, raw } = outcomeRatioAt(overdue, addDays(asOf, day), width, seasons);
        const shifted = ratio.low > OUTCOME_RATIO_BOUNDS.above || ratio.high < OUTCOME_RATIO_BOUNDS.below;
        const rawShifted = raw.low > OUTCOME_RATIO_BOUNDS.above || raw.high < OUTCOME_RATIO_BOUNDS.below;
        trace?.(`day ${day} ${OUTCOME_RATIO}: ${ratio.value.toFixed(3)} [${ratio.low.toFixed(3)}, ${ratio.high.toFixed(3)}] n ${rows}${shifted ? ' SHIFTED' : ''}; against 1: ${raw.value.toFixed(3)} [${raw.low.toFixed(3)}, ${raw.high.toFixed(3)}]${rawShifted ? ' SHIFTED' : ''}`);
        if (shifted) alerts.push({ day, rule: 'ModelOutcomeRateShift', feature: OUTCOME_RATIO });
      }
      if (!scenario.shift) for (const alert of alerts) unshiftedAlerts.add(alertKey(alert));
      const result = summarise(scenario, alerts, sizes, unshiftedAlerts);
      results.push(result);
      say(`${scenario.name}: ${JSON.stringify(result)} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    } finally {
      await live.close();
    }
  }

  const report = { members, seed, windowDays: width, calibrationWeeks, asOf, seconds: (Date.now() - started) / 1000, results };
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }
  for (const r of results) {
    const fa = `false alarms: ${RULES.map((rule) => `${rule} ${r.falseAlarms[rule].days} days (${r.falseAlarms[rule].features.join(', ') || 'none'})`).join(', ')}`;
    const found = r.shift === null ? '' : `; delay ${r.detectionDelayDays ?? 'not found'} days; named within ${DETECTION_GOAL_DAYS} days: ${r.namedAfterShift.map((n) => `${n.feature}${n.expected ? '*' : ''}@${n.firstDay}`).join(', ') || 'none'}`;
    process.stdout.write(`${r.scenario}${r.shift ? ` (${r.shift})` : ''}, ${r.days} days: ${fa}${found}\n`);
  }
  process.stdout.write(`(${members} members, ${width}-day windows, calibrated on ${calibrationWeeks} weekly windows up to ${asOf}; ${report.seconds.toFixed(0)} s)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`drift bench: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 1;
});
