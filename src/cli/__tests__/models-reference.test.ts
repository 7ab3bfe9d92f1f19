/**
 * Drift references: every trained version carries them in its metadata, built from its
 * training rows; `models reference` rebuilds the same ones for a registered version from the
 * store, without touching a checksummed file, and writes overdue's outcome seasons back onto a
 * version that has none, equal to its trainer's.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runModelsCommand } from '../models';
import type { NumericReference } from '../../monitoring/drift';
import { referencesFromRows, SCORE_REFERENCE } from '../../monitoring/references';
import { driftThresholdsOf, familyTestsOf } from '../../monitoring/thresholds';
import { churnFeatures } from '../../features/churn';
import { isActiveRow } from '../../models/churn';
import { getProduction, validateVersion, type ModelMetadata } from '../../registry';
import { openStore, readAsOf } from '../../store';
import { calibratedDriftConfig, calibrationWindows } from '../../training/calibration-windows';
import { addDays } from '../../util/dates';
import { smallLibrary, type SmallLibrary } from '../../../test/fixtures/small-library';

let library: SmallLibrary;
let modelsDir: string;

beforeAll(async () => {
  library = await smallLibrary();
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-references-'));
  cpSync(library.modelsDir, modelsDir, { recursive: true });
}, 300_000);
afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));

describe('referencesFromRows', () => {
  it('reads each column of the row-major matrix, the extras and the score', () => {
    // Two columns: a count with three values (categorical) and a spread-out number (numeric).
    const rows = 60;
    const values = Array.from({ length: rows * 2 }, (_, k) => (k % 2 === 0 ? Math.floor(k / 2) % 3 : Math.floor(k / 2) * 1.5));
    const references = referencesFromRows({ names: ['renewals', 'days'], values, rowCount: rows, score: Array.from({ length: rows }, (_, i) => i / rows), extra: { genre: ['Fantasy', 'Crime'] } });
    expect(Object.keys(references.features)).toEqual(['renewals', 'days', 'genre', SCORE_REFERENCE]);
    expect(references.features.renewals).toEqual({ kind: 'categorical', count: rows, categories: { '0': 20, '1': 20, '2': 20 } });
    const days = references.features.days as NumericReference;
    expect(days.kind).toBe('numeric');
    expect([days.min, days.max]).toEqual([0, 59 * 1.5]);
    expect(references.features.genre).toMatchObject({ kind: 'categorical', count: 2 });
    expect(references.features[SCORE_REFERENCE]?.kind).toBe('numeric');
  });

  it('refuses a matrix whose size does not match its rows and names', () => {
    expect(() => referencesFromRows({ names: ['a', 'b'], values: [1, 2, 3], rowCount: 2 })).toThrow('3 values for 2 rows of 2 features');
  });
});

const EXPECTED_EXTRAS: Record<string, string[]> = {
  overdue: [SCORE_REFERENCE],
  churn: [SCORE_REFERENCE],
  segmentation: [SCORE_REFERENCE],
  demand: [SCORE_REFERENCE],
  recommendations: ['borrowed_genre'],
};

describe.each(Object.keys(EXPECTED_EXTRAS))('the %s version trained by the fixture', (name) => {
  it('stores a reference for every feature (and its score) in its metadata', () => {
    const { metadata } = getProduction(library.modelsDir, name)!;
    const keys = Object.keys(metadata.driftReferences?.features ?? {});
    expect(keys).toEqual(expect.arrayContaining(EXPECTED_EXTRAS[name]!));
    if (name === 'overdue' || name === 'churn' || name === 'segmentation') expect(keys).toEqual([...metadata.featureSpec.map((f) => f.name), SCORE_REFERENCE]);
    for (const reference of Object.values(metadata.driftReferences!.features)) expect(reference.count).toBeGreaterThan(0);
  });

  it('gets the same references back from `models reference`, and still validates', async () => {
    const { metadata: trained, version, dir } = getProduction(modelsDir, name)!;
    // A version trained before outcome seasons and held-out weeks existed: `reference` must write them back from the same rows.
    const { outcomeSeasons: trainedSeasons, ...withoutSeasons } = trained;
    const { heldOutWeeks: trainedWeeks, ...metricsWithoutWeeks } = trained.metrics;
    writeFileSync(path.join(dir, 'metadata.json'), JSON.stringify({ ...withoutSeasons, metrics: metricsWithoutWeeks }, null, 2));
    const lines: string[] = [];
    const code = await runModelsCommand(['reference', name, version, '--db', library.dbPath], { modelsDir, out: (l) => lines.push(l), err: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain(`${name} ${version}: drift references for`);
    expect(code).toBe(0);
    const rebuilt = JSON.parse(readFileSync(path.join(dir, 'metadata.json'), 'utf8')) as ModelMetadata;
    const { [SCORE_REFERENCE]: trainedScore, ...trainedFeatures } = trained.driftReferences!.features;
    const { [SCORE_REFERENCE]: rebuiltScore, ...rebuiltFeatures } = rebuilt.driftReferences!.features;
    expect(rebuiltFeatures).toEqual(trainedFeatures);
    // The trainer scores in float64, the version's ONNX graph in float32.
    expect(rebuiltScore?.count).toBe(trainedScore?.count);
    if (trainedScore?.kind === 'numeric' && rebuiltScore?.kind === 'numeric') expect(rebuiltScore.mean).toBeCloseTo(trainedScore.mean, 3);
    else expect(rebuiltScore).toEqual(trainedScore);
    if (name === 'overdue') {
      expect(trainedSeasons).toBeDefined();
      expect(lines.join('\n')).toContain(`overdue ${version}: outcome seasons for 52 weeks`);
      const seasons = rebuilt.outcomeSeasons!;
      // Same rows and labels; the scores differ only by the ONNX graph's float32.
      expect([seasons.rows, seasons.positives, seasons.settledBy]).toEqual([trainedSeasons!.rows, trainedSeasons!.positives, trainedSeasons!.settledBy]);
      seasons.factors.forEach((factor, week) => expect(factor).toBeCloseTo(trainedSeasons!.factors[week]!, 4));
      // The trainer scores its held-out rows through the same ONNX graph.
      expect(trainedWeeks?.auc?.weeks).toBeGreaterThan(1);
      expect(rebuilt.metrics.heldOutWeeks).toEqual(trainedWeeks);
    } else {
      expect(rebuilt.outcomeSeasons).toEqual(trainedSeasons);
      expect(rebuilt.metrics.heldOutWeeks).toBeUndefined();
    }
    const report = await validateVersion(modelsDir, name, version);
    expect(report.checks.filter((c) => !c.passed)).toEqual([]);
  }, 120_000);
});

describe('`models reference --calibrate-weeks`', () => {
  it("stores drift thresholds calibrated on the library's weeks, which the monitor reads, capped by the family", async () => {
    const { version, dir } = getProduction(modelsDir, 'churn')!;
    const lines: string[] = [];
    const code = await runModelsCommand(['reference', 'churn', version, '--db', library.dbPath, '--calibrate-weeks', '4'], { modelsDir, out: (l) => lines.push(l), err: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain(`churn ${version}: drift thresholds for`);
    expect(code).toBe(0);
    const metadata = JSON.parse(readFileSync(path.join(dir, 'metadata.json'), 'utf8')) as ModelMetadata;
    const stored = driftThresholdsOf(metadata.driftThresholds);
    expect(Object.keys(stored?.features ?? {}).sort()).toEqual(Object.keys(metadata.driftReferences!.features).sort());
    const family = familyTestsOf(metadata.driftReferences!);
    for (const own of Object.values(stored!.features!)) expect(own.ksPValue ?? own.chiSquaredPValue).toBeLessThanOrEqual(0.05 / family);
    expect((await validateVersion(modelsDir, 'churn', version)).passed).toBe(true);
  }, 120_000);

  it("windows churn on the members active on the day, the population it is trained on and scores, and records the window's size", async () => {
    const production = getProduction(modelsDir, 'churn')!;
    const store = openStore(`sqlite:${library.dbPath}`, { readonly: true });
    try {
      const asOf = await readAsOf(store);
      const windows = (await calibrationWindows(store, { churn: production }, { weeks: 2, asOf })).churn!;
      const members = (await store.db.selectFrom('members').select('id').execute()).map((m) => m.id);
      const everyone = await churnFeatures(store, members, asOf);
      const active = everyone.memberIds.filter((_, i) => isActiveRow(everyone.values, i)).length;
      const weekBorrowers = new Set((await store.db.selectFrom('loans').select('member_id').where('checked_out_at', '>', addDays(asOf, -7)).where('checked_out_at', '<=', asOf).execute()).map((l) => l.member_id)).size;
      expect(active).toBeGreaterThan(weekBorrowers);
      expect(windows[0]!.loans_90d).toHaveLength(active);
      expect(windows[0]!.loans_90d!.every((v) => typeof v === 'number' && v > 0)).toBe(true);
      const config = calibratedDriftConfig(production.metadata.driftReferences!, windows);
      expect(config.windowRows?.loans_90d).toBe(Math.max(...windows.map((w) => w.loans_90d!.length)));
    } finally {
      await store.close();
    }
  }, 120_000);

  it('refuses a model it cannot calibrate and a bad number of weeks (exit 2)', async () => {
    const errors: string[] = [];
    const err = (l: string) => errors.push(l);
    expect(await runModelsCommand(['reference', 'demand', '1.0.0', '--db', library.dbPath, '--calibrate-weeks', '4'], { modelsDir, out: () => {}, err })).toBe(2);
    expect(await runModelsCommand(['reference', 'churn', '1.0.0', '--db', library.dbPath, '--calibrate-weeks', 'many'], { modelsDir, out: () => {}, err })).toBe(2);
    expect(errors.join('\n')).toMatch(/not demand[\s\S]*from 2 to 520, got "many"/);
  });
});

describe('`models reference` on bad input', () => {
  it('refuses an unknown version with exit code 1 and a missing library with 2', async () => {
    const errors: string[] = [];
    const err = (l: string) => errors.push(l);
    expect(await runModelsCommand(['reference', 'overdue', '9.9.9', '--db', library.dbPath], { modelsDir, out: () => {}, err })).toBe(1);
    expect(await runModelsCommand(['reference', 'overdue', '1.0.0', '--db', '/nonexistent/library.db'], { modelsDir, out: () => {}, err })).toBe(2);
    expect(errors.join('\n')).toMatch(/overdue.*9\.9\.9[\s\S]*no such file/);
  });
});
