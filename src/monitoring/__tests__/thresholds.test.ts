/**
 * The thresholds the live monitor judges drift with: a version's stored `driftThresholds` when
 * it has them, else the defaults, with the p-value tests' α divided among its features × 365
 * days either way. Run on the committed overdue version's references (its metadata copied to a
 * temporary registry) and a store holding one day's checkouts, logged on their checkout day,
 * by members whose tenure is stretched (the monitor recomputes overdue's features of each loan
 * as of its checkout): the stretch is chosen by the test's own compareWindow calls, so no
 * p-value is written down here.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../logging';
import { createProcessMetrics } from '../../metrics';
import { listModels, readMetadata } from '../../registry';
import { migrateStore, openStore, type Store } from '../../store';
import { chunks } from '../../store/in-chunks';
import { addDays } from '../../util/dates';
import { compareWindow, EVIDENTLY_THRESHOLDS, type DriftConfig, type DriftReferences, type NumericReference } from '../drift';
import { LiveMonitor } from '../monitor';
import type { PredictionRecord } from '../prediction-log';
import { createStorePredictionSink } from '../prediction-log-store';
import { driftThresholdsOf, FAMILY_DAYS, familyTestsOf, monitoredDriftConfig } from '../thresholds';

const REPO_MODELS = path.join(__dirname, '..', '..', '..', 'models');
const FEATURE = 'member_tenure_days';
const DAY = '2025-01-08';
const CLOCK = '2025-01-09';
const ROWS = 400;

const entry = listModels(REPO_MODELS, 'overdue').find((v) => v.stage === 'production')!;
const references = readMetadata(path.join(REPO_MODELS, entry.dir)).driftReferences as DriftReferences;
const reference = references.features[FEATURE] as NumericReference;

/** ROWS values spread as the reference's bins are (each bin's rows at its cut points), times `stretch`. */
function tenureWindow(stretch: number): number[] {
  const edges = [reference.min, ...reference.cuts, reference.max];
  return Array.from({ length: ROWS }, (_, i) => {
    const position = ((i + 0.5) / ROWS) * (edges.length - 1);
    const low = Math.floor(position);
    const value = (edges[low] ?? 0) + ((edges[low + 1] ?? edges[low] ?? 0) - (edges[low] ?? 0)) * (position - low);
    return Math.round(value * stretch);
  });
}

function pValueOf(values: number[]): number {
  return compareWindow({ features: { [FEATURE]: reference } }, { [FEATURE]: values }).find((v) => v.feature === FEATURE)?.pValue ?? NaN;
}

describe('monitoredDriftConfig', () => {
  const family = familyTestsOf(references);

  it("divides the default α among the version's features × 365 days", () => {
    expect(family).toBe(Object.keys(references.features).length * FAMILY_DAYS);
    const config = monitoredDriftConfig(references, null);
    expect(config.features?.[FEATURE]?.ksPValue).toBeCloseTo(EVIDENTLY_THRESHOLDS.ksPValue / family, 15);
    expect(config.features?.[FEATURE]?.wasserstein).toBe(EVIDENTLY_THRESHOLDS.wasserstein);
  });

  it('keeps a stored threshold stricter than the cap, and caps a looser one', () => {
    const stored: DriftConfig = { features: { [FEATURE]: { ksPValue: 1e-30, wasserstein: 0.4 }, renewals: { chiSquaredPValue: 0.01 } }, smallWindow: 5000 };
    const config = monitoredDriftConfig(references, stored);
    expect(config.features?.[FEATURE]).toMatchObject({ ksPValue: 1e-30, wasserstein: 0.4 });
    expect(config.features?.renewals?.chiSquaredPValue).toBeCloseTo(EVIDENTLY_THRESHOLDS.chiSquaredPValue / family, 15);
    expect(config.smallWindow).toBe(5000);
  });

  it("reads the committed version's calibrated thresholds", () => {
    const stored = driftThresholdsOf(readMetadata(path.join(REPO_MODELS, entry.dir)).driftThresholds);
    expect(Object.keys(stored?.features ?? {}).sort()).toEqual(Object.keys(references.features).sort());
  });

  it('reads only well-formed stored thresholds', () => {
    expect(driftThresholdsOf({ features: { a: { ksPValue: 1e-9 } }, smallWindow: 5000 })).toEqual({ features: { a: { ksPValue: 1e-9 } }, smallWindow: 5000 });
    expect(driftThresholdsOf({ features: { a: { ksPValue: 0 } } })).toEqual({ features: { a: { ksPValue: 0 } } });
    expect(driftThresholdsOf({ features: { a: { ksPValue: -1 } } })).toBeNull();
    expect(driftThresholdsOf({ features: { a: { psi: 'high' } } })).toBeNull();
    expect(driftThresholdsOf({ smallWindow: 0 })).toBeNull();
    expect(driftThresholdsOf({ windowRows: { a: 700 } })).toEqual({ windowRows: { a: 700 } });
    expect(driftThresholdsOf({ windowRows: { a: 0 } })).toBeNull();
    expect(driftThresholdsOf({ windowRows: { a: 7.5 } })).toBeNull();
    expect(monitoredDriftConfig(references, { windowRows: { [FEATURE]: 700 } }).windowRows).toEqual({ [FEATURE]: 700 });
    expect(driftThresholdsOf(undefined)).toBeNull();
  });
});

describe('the live monitor judges drift with the thresholds of the version', () => {
  let dir: string;
  let store: Store;
  const cap = EVIDENTLY_THRESHOLDS.ksPValue / familyTestsOf(references);
  // A stretch whose KS p-value lies well under the cap (drift under the defaults), and one between the cap and 0.05.
  const stretches = Array.from({ length: 200 }, (_, i) => 1 + i / 100);
  const strong = stretches.find((s) => pValueOf(tenureWindow(s)) < cap / 1e3 && pValueOf(tenureWindow(s)) > 1e-250)!;
  const mild = stretches.find((s) => pValueOf(tenureWindow(s)) < EVIDENTLY_THRESHOLDS.ksPValue / 10 && pValueOf(tenureWindow(s)) > cap * 10);

  /** A registry holding the committed overdue version's metadata only, with `driftThresholds` only when given. */
  function modelsDir(name: string, driftThresholds?: DriftConfig): string {
    const models = path.join(dir, name);
    mkdirSync(path.join(models, entry.dir), { recursive: true });
    cpSync(path.join(REPO_MODELS, 'metadata'), path.join(models, 'metadata'), { recursive: true });
    const committed = JSON.parse(readFileSync(path.join(REPO_MODELS, entry.dir, 'metadata.json'), 'utf8')) as Record<string, unknown>;
    const metadata = Object.fromEntries(Object.entries(committed).filter(([key]) => key !== 'driftThresholds'));
    writeFileSync(path.join(models, entry.dir, 'metadata.json'), JSON.stringify({ ...metadata, ...(driftThresholds ? { driftThresholds } : {}) }));
    return models;
  }

  /**
   * Loans 1,000,000 + i, each checked out on DAY by a member of its own who joined `values[i]`
   * days before: overdue's drift window is each loan on its checkout day, its features recomputed
   * from the store, so the store must hold the loans whose tenure the window is to show.
   */
  async function libraryOf(values: number[]): Promise<void> {
    for (const table of ['loans', 'members', 'books'] as const) await store.db.deleteFrom(table).execute();
    await store.db.insertInto('books').values({ id: 1, title: 'Book', authors: JSON.stringify(['Author']), genre: 'Mystery', collection: 'Adult Fiction', publication_year: 2000, isbn: null, average_rating: 4, ratings_count: 1000 }).execute();
    for (const slice of chunks(values.map((value, i) => i), 200)) {
      await store.db.insertInto('members').values(slice.map((i) => ({ id: i + 1, name: `Member ${i + 1}`, email: `m${i + 1}@example.org`, joined_at: addDays(DAY, -values[i]!), branch_id: 1 }))).execute();
      await store.db.insertInto('loans').values(slice.map((i) => ({ id: 1_000_000 + i, member_id: i + 1, book_id: 1, branch_id: 1, checked_out_at: DAY, due_at: addDays(DAY, 21), returned_at: null, renewals: 0 }))).execute();
    }
  }

  /** Whether FEATURE drifted on the week window, by a monitor reading the registry at `models`. */
  async function flagged(models: string, values: number[]): Promise<boolean | undefined> {
    await store.db.deleteFrom('prediction_log' as never).execute();
    await libraryOf(values);
    const records: PredictionRecord[] = values.map((value, i) => ({
      processId: 'thresholds-test', sequence: i + 1, acceptedThrough: i + 1, requestId: `r${i}`, at: `${DAY}T12:00:00.000Z`, asOf: DAY,
      model: 'overdue', version: entry.version, arm: null, entityKind: 'loan', entityId: String(1_000_000 + i), score: 0.1, items: null, label: null, factors: [], features: { [FEATURE]: value }, featureRef: null,
    }));
    await createStorePredictionSink(store.db).write(records);
    const monitor = new LiveMonitor({ store, modelsDir: models, metrics: createProcessMetrics('thresholds-test'), logger: createLogger('thresholds-test', 'error'), clock: async () => CLOCK }, { persist: false, featureSample: ROWS });
    await monitor.runOnce();
    return monitor.health('overdue', 'week').find((h) => h.version === entry.version)?.drift.find((d) => d.feature === FEATURE)?.drifted;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-thresholds-'));
    store = openStore(`sqlite:${path.join(dir, 'library.db')}`);
    await migrateStore(store);
    await store.db.insertInto('branches').values({ id: 1, name: 'Central', size: 1 }).execute();
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('flags a window under the capped default, and not when the version stores a stricter threshold', async () => {
    expect(strong).toBeDefined();
    const p = pValueOf(tenureWindow(strong));
    expect(await flagged(modelsDir('defaults'), tenureWindow(strong))).toBe(true);
    expect(await flagged(modelsDir('stored'), tenureWindow(1))).toBe(false);
    expect(await flagged(modelsDir('stricter', { features: { [FEATURE]: { ksPValue: p / 100 } } }), tenureWindow(strong))).toBe(false);
  });

  it('samples a window larger than the size the thresholds were calibrated at down to that size', async () => {
    const stretched = tenureWindow(strong);
    const rows = 30;
    // The strong stretch on 30 of its rows is no longer past the cap: the verdict must come from the sample, not from all 400 rows.
    expect(pValueOf(stretched.filter((_, i) => i % (ROWS / rows) === 0))).toBeGreaterThan(cap);
    expect(await flagged(modelsDir('calibrated-size', { windowRows: { [FEATURE]: rows } }), stretched)).toBe(false);
    expect(await flagged(modelsDir('calibrated-size-large', { windowRows: { [FEATURE]: ROWS } }), stretched)).toBe(true);
  });

  it('does not flag a window with p under 0.05 but over the family-wise cap', async () => {
    expect(mild).toBeDefined();
    expect(await flagged(modelsDir('mild'), tenureWindow(mild!))).toBe(false);
    expect(compareWindow({ features: { [FEATURE]: reference } }, { [FEATURE]: tenureWindow(mild!) })[0]?.drifted).toBe(true);
  });
});
