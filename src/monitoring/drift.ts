/**
 * Drift of a model's inputs and score: compact reference distributions taken from a version's
 * training data (stored in its metadata.json), and the comparison of a live window with them.
 *
 * The test follows Evidently's default selection (its data-drift "how it works" rules, release
 * 0.1.50): for small data, two-sample Kolmogorov-Smirnov on numeric features and chi-squared on
 * categorical ones (features with at most 5 distinct values count as categorical, as there),
 * drift when p < 0.05; for data above 1,000 observations, the Wasserstein distance divided by
 * the reference standard deviation (floored at 0.001) on numeric features and the
 * Jensen-Shannon distance (natural log) on categorical ones, drift at ≥ 0.1. Empty bins get a
 * proportion of 1e-4, as Evidently does. Evidently chooses by the reference's size; here the
 * reference is a summary of a whole training set and always large, so what decides is the
 * live window's size — a p-value test has the power to flag trivial differences on large
 * windows, which is exactly why the distances take over there. PSI is computed always, on the
 * same bins, and flags at ≥ 0.25 (the usual "significant shift" reading of PSI).
 *
 * Evidently's thresholds assume the reference and the live data come from the same season.
 * A library's borrowing has a summer peak and a December dip, so a week in July differs from a
 * year-long reference without anything being wrong. Thresholds are therefore configurable per
 * feature, and `calibrateThresholds` raises them above what the statistic does across
 * unshifted windows of the training period, the way NannyML derives alert thresholds from
 * reference chunks (mean + 3 standard deviations by default). `falseAlarmRate` measures how
 * often a configuration fires on unshifted windows.
 *
 * Numeric references are histograms on quantile cut points (right-closed bins, so integer
 * features keep one bin per value), which makes KS a comparison at the cut points only: it
 * sees at most the difference at bin resolution (1/maxBins of the reference's mass) and never
 * overstates D. Wasserstein treats both distributions as linear inside each bin, and counts
 * live values beyond the reference's range by their exact distance from it.
 */
import { chiSquaredSurvival, ksPValue } from './statistics';

export interface NumericReference {
  kind: 'numeric';
  count: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** Interior cut points, ascending; bins are (−∞, c₀], (c₀, c₁], …, (c_last, ∞). */
  cuts: number[];
  /** Reference rows per bin (cuts.length + 1 entries). */
  counts: number[];
}

export interface CategoricalReference {
  kind: 'categorical';
  count: number;
  /** Rows per category; categories past `maxCategories` are merged into OTHER. */
  categories: Record<string, number>;
}

export type FeatureReference = NumericReference | CategoricalReference;

/** What a version's metadata.json stores under `driftReferences`: one reference per feature and one for the score (`__score__`). */
export interface DriftReferences {
  features: Record<string, FeatureReference>;
}

export type FeatureValue = number | string | null;

/** The category that holds everything a reference did not keep by name. */
export const OTHER = '__other__';
/** Evidently's proportion for an empty bin, so logarithms and ratios stay finite. */
const EMPTY_PROPORTION = 1e-4;
/** Above this many live observations the distances replace the p-value tests. */
export const SMALL_WINDOW = 1_000;

export interface ReferenceOptions {
  /** 'numeric' or 'categorical'; by default numbers with more than 5 distinct values are numeric. */
  kind?: FeatureReference['kind'];
  maxBins?: number;
  maxCategories?: number;
}

function present(values: readonly FeatureValue[]): FeatureValue[] {
  return values.filter((v) => v !== null && !(typeof v === 'number' && Number.isNaN(v)));
}

function distinctAtMost(values: readonly FeatureValue[], limit: number): boolean {
  const seen = new Set<FeatureValue>();
  for (const value of values) {
    seen.add(value);
    if (seen.size > limit) return false;
  }
  return true;
}

/** The reference of one feature from its training values (nulls and NaN are left out). */
export function buildReference(values: readonly FeatureValue[], { kind, maxBins = 50, maxCategories = 50 }: ReferenceOptions = {}): FeatureReference {
  const kept = present(values);
  if (kept.length === 0) throw new Error('a reference needs at least one value that is not null');
  const numeric = kept.every((v) => typeof v === 'number');
  const chosen = kind ?? (numeric && !distinctAtMost(kept, 5) ? 'numeric' : 'categorical');
  if (chosen === 'categorical') return categoricalReference(kept, maxCategories);
  if (!numeric) throw new Error(`a numeric reference needs numbers, got ${JSON.stringify(kept.find((v) => typeof v !== 'number'))}`);
  return numericReference(kept, maxBins);
}

function categoricalReference(values: readonly FeatureValue[], maxCategories: number): CategoricalReference {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(String(value), (counts.get(String(value)) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const categories: Record<string, number> = {};
  for (const [name, n] of ranked.slice(0, maxCategories)) categories[name] = n;
  const rest = ranked.slice(maxCategories).reduce((sum, [, n]) => sum + n, 0);
  if (rest > 0) categories[OTHER] = (categories[OTHER] ?? 0) + rest;
  return { kind: 'categorical', count: values.length, categories };
}

function numericReference(values: readonly number[], maxBins: number): NumericReference {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const cuts: number[] = [];
  for (let i = 1; i < maxBins; i++) {
    const cut = sorted[Math.min(n - 1, Math.floor((i * n) / maxBins))] ?? 0;
    if (cuts.length === 0 || cut > (cuts[cuts.length - 1] ?? -Infinity)) cuts.push(cut);
  }
  // A cut at the maximum would leave the last bin empty forever.
  const max = sorted[n - 1] ?? 0;
  while (cuts.length > 0 && (cuts[cuts.length - 1] ?? 0) >= max) cuts.pop();
  let sum = 0;
  for (const v of sorted) sum += v;
  const mean = sum / n;
  let squares = 0;
  for (const v of sorted) squares += (v - mean) ** 2;
  return { kind: 'numeric', count: n, mean, std: Math.sqrt(squares / n), min: sorted[0] ?? 0, max, cuts, counts: binCounts(cuts, sorted) };
}

/** Index of the right-closed bin of `value`: the first cut ≥ value, or the last bin. */
function binOf(cuts: readonly number[], value: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cuts[mid] ?? Infinity) >= value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function binCounts(cuts: readonly number[], values: Iterable<number>): number[] {
  const counts = new Array<number>(cuts.length + 1).fill(0);
  for (const value of values) {
    const bin = binOf(cuts, value);
    counts[bin] = (counts[bin] ?? 0) + 1;
  }
  return counts;
}

/** References for every feature of a training set (rows of name → value). */
export function buildReferences(rows: readonly Record<string, FeatureValue>[], options: Record<string, ReferenceOptions> = {}): DriftReferences {
  const names = new Set<string>();
  for (const row of rows) for (const name of Object.keys(row)) names.add(name);
  const features: Record<string, FeatureReference> = {};
  for (const name of names) {
    try {
      features[name] = buildReference(rows.map((row) => row[name] ?? null), options[name]);
    } catch (error) {
      throw new Error(`feature ${name}: ${(error as Error).message}`);
    }
  }
  return { features };
}

export type DriftTest = 'ks' | 'wasserstein' | 'chi_squared' | 'jensen_shannon';

/** Thresholds; p-value tests flag below theirs, distances at or above theirs. */
export interface DriftThresholds {
  ksPValue: number;
  wasserstein: number;
  chiSquaredPValue: number;
  jensenShannon: number;
  psi: number;
}

export const EVIDENTLY_THRESHOLDS: DriftThresholds = { ksPValue: 0.05, wasserstein: 0.1, chiSquaredPValue: 0.05, jensenShannon: 0.1, psi: 0.25 };

export interface DriftConfig {
  defaults?: DriftThresholds;
  /** Per-feature overrides, e.g. from `calibrateThresholds`. */
  features?: Record<string, Partial<DriftThresholds>>;
  /** Live windows up to this size use the p-value tests. */
  smallWindow?: number;
  /**
   * Per feature, the most observations of the unshifted windows the thresholds were calibrated
   * on. A p-value threshold means what it was calibrated to mean only at that window size (the
   * same difference gives a smaller p on more rows), so the live monitor samples a larger window
   * down to it; a smaller one is compared as it is (a weaker test, never a looser one).
   */
  windowRows?: Record<string, number>;
}

export interface FeatureDrift {
  feature: string;
  kind: FeatureReference['kind'];
  /** Live observations compared (nulls left out). */
  count: number;
  test: DriftTest;
  /** The test's statistic: D, normalised Wasserstein, χ² or Jensen-Shannon distance. */
  statistic: number;
  /** The p-value of KS or χ²; null for the distances. */
  pValue: number | null;
  threshold: number;
  psi: number;
  psiThreshold: number;
  /** The test says drift. */
  drifted: boolean;
  /** PSI is at or above its threshold (reported beside the test, not part of `drifted`). */
  psiDrifted: boolean;
}

function proportions(counts: readonly number[], total: number): number[] {
  return counts.map((n) => Math.max(EMPTY_PROPORTION, total > 0 ? n / total : 0));
}

function psiOf(reference: readonly number[], live: readonly number[]): number {
  let psi = 0;
  reference.forEach((p, i) => {
    const q = live[i] ?? EMPTY_PROPORTION;
    psi += (q - p) * Math.log(q / p);
  });
  return psi;
}

function jensenShannonDistance(p: readonly number[], q: readonly number[]): number {
  const normalise = (xs: readonly number[]) => {
    const total = xs.reduce((a, b) => a + b, 0);
    return xs.map((x) => x / total);
  };
  const a = normalise(p);
  const b = normalise(q);
  let divergence = 0;
  a.forEach((pa, i) => {
    const pb = b[i] ?? 0;
    const m = (pa + pb) / 2;
    if (pa > 0) divergence += 0.5 * pa * Math.log(pa / m);
    if (pb > 0) divergence += 0.5 * pb * Math.log(pb / m);
  });
  return Math.sqrt(Math.max(0, divergence));
}

/** ∫ |a + (b − a)t| over a bin of width w, the difference being linear across it. */
function linearAbsArea(a: number, b: number, width: number): number {
  if (width <= 0) return 0;
  if (a * b >= 0) return (width * (Math.abs(a) + Math.abs(b))) / 2;
  return (width * (a * a + b * b)) / (2 * (Math.abs(a) + Math.abs(b)));
}

function resolveThresholds(config: DriftConfig, feature: string): DriftThresholds {
  return { ...(config.defaults ?? EVIDENTLY_THRESHOLDS), ...(config.features?.[feature] ?? {}) };
}

function compareNumeric(reference: NumericReference, live: readonly number[], thresholds: DriftThresholds, small: boolean): Omit<FeatureDrift, 'feature' | 'kind' | 'count'> {
  const m = live.length;
  const liveCounts = binCounts(reference.cuts, live);
  const psi = psiOf(proportions(reference.counts, reference.count), proportions(liveCounts, m));
  const common = { psi, psiThreshold: thresholds.psi, psiDrifted: psi >= thresholds.psi };
  // Cumulative shares at each cut point (exact for both, since the bins are right-closed).
  const refCdf: number[] = [];
  const liveCdf: number[] = [];
  let refSum = 0;
  let liveSum = 0;
  for (let i = 0; i < reference.cuts.length; i++) {
    refSum += reference.counts[i] ?? 0;
    liveSum += liveCounts[i] ?? 0;
    refCdf.push(refSum / reference.count);
    liveCdf.push(liveSum / m);
  }
  if (small) {
    let d = 0;
    refCdf.forEach((f, i) => (d = Math.max(d, Math.abs(f - (liveCdf[i] ?? 0)))));
    const pValue = ksPValue(d, reference.count, m);
    return { test: 'ks', statistic: d, pValue, threshold: thresholds.ksPValue, drifted: pValue < thresholds.ksPValue, ...common };
  }
  // Knots: the reference's range with the cut points inside it; live values outside the
  // range add their distance to it exactly and are clamped onto it for the binned part.
  let outside = 0;
  for (const v of live) {
    if (v < reference.min) outside += reference.min - v;
    else if (v > reference.max) outside += v - reference.max;
  }
  const knots = [reference.min, ...reference.cuts, reference.max];
  const refAt = [0, ...refCdf, 1];
  const liveAt = [0, ...liveCdf, 1];
  let area = outside / m;
  for (let i = 0; i + 1 < knots.length; i++) {
    const width = (knots[i + 1] ?? 0) - (knots[i] ?? 0);
    area += linearAbsArea((refAt[i] ?? 0) - (liveAt[i] ?? 0), (refAt[i + 1] ?? 0) - (liveAt[i + 1] ?? 0), width);
  }
  const statistic = area / Math.max(0.001, reference.std);
  return { test: 'wasserstein', statistic, pValue: null, threshold: thresholds.wasserstein, drifted: statistic >= thresholds.wasserstein, ...common };
}

function compareCategorical(reference: CategoricalReference, live: readonly FeatureValue[], thresholds: DriftThresholds, small: boolean): Omit<FeatureDrift, 'feature' | 'kind' | 'count'> {
  const names = Object.keys(reference.categories);
  if (!names.includes(OTHER)) names.push(OTHER);
  const index = new Map(names.map((name, i) => [name, i]));
  const liveCounts = new Array<number>(names.length).fill(0);
  const otherIndex = index.get(OTHER) ?? names.length - 1;
  for (const value of live) {
    const i = index.get(String(value)) ?? otherIndex;
    liveCounts[i] = (liveCounts[i] ?? 0) + 1;
  }
  const refCounts = names.map((name) => reference.categories[name] ?? 0);
  const p = proportions(refCounts, reference.count);
  const q = proportions(liveCounts, live.length);
  const psi = psiOf(p, q);
  const common = { psi, psiThreshold: thresholds.psi, psiDrifted: psi >= thresholds.psi };
  if (small) {
    // Cells empty on both sides carry no information and would only add degrees of freedom.
    let chi = 0;
    let cells = 0;
    names.forEach((_, i) => {
      if ((refCounts[i] ?? 0) === 0 && (liveCounts[i] ?? 0) === 0) return;
      cells += 1;
      const expected = (p[i] ?? EMPTY_PROPORTION) * live.length;
      chi += ((liveCounts[i] ?? 0) - expected) ** 2 / expected;
    });
    const pValue = cells > 1 ? chiSquaredSurvival(chi, cells - 1) : 1;
    return { test: 'chi_squared', statistic: chi, pValue, threshold: thresholds.chiSquaredPValue, drifted: pValue < thresholds.chiSquaredPValue, ...common };
  }
  const statistic = jensenShannonDistance(p, q);
  return { test: 'jensen_shannon', statistic, pValue: null, threshold: thresholds.jensenShannon, drifted: statistic >= thresholds.jensenShannon, ...common };
}

/** The verdict on one feature's live window. A window with no values is an error: nothing was compared. */
export function compareFeature(feature: string, reference: FeatureReference, values: readonly FeatureValue[], config: DriftConfig = {}): FeatureDrift {
  const live = present(values);
  if (live.length === 0) throw new Error(`the live window of ${feature} has no values to compare`);
  const thresholds = resolveThresholds(config, feature);
  const small = live.length <= (config.smallWindow ?? SMALL_WINDOW);
  const head = { feature, kind: reference.kind, count: live.length };
  switch (reference.kind) {
    case 'numeric': {
      const numbers = live.filter((v): v is number => typeof v === 'number');
      if (numbers.length !== live.length) throw new Error(`${feature} is numeric in the reference but its live window holds text`);
      return { ...head, ...compareNumeric(reference, numbers, thresholds, small) };
    }
    case 'categorical':
      return { ...head, ...compareCategorical(reference, live, thresholds, small) };
    default: {
      const unknown: never = reference;
      throw new Error(`unknown reference kind ${JSON.stringify(unknown)}`);
    }
  }
}

/** A live window: each feature's values (the score under `__score__`). */
export type DriftWindow = Record<string, readonly FeatureValue[]>;

/** Verdicts for every feature that has both a reference and live values, in reference order. */
export function compareWindow(references: DriftReferences, window: DriftWindow, config: DriftConfig = {}): FeatureDrift[] {
  const verdicts: FeatureDrift[] = [];
  for (const [feature, reference] of Object.entries(references.features)) {
    const values = window[feature];
    if (!values || present(values).length === 0) continue;
    verdicts.push(compareFeature(feature, reference, values, config));
  }
  return verdicts;
}

/** The statistic on the "higher is worse" scale calibration works on: −log10 p for the tests, the distance otherwise. */
function severity(verdict: FeatureDrift): number {
  return verdict.pValue === null ? verdict.statistic : -Math.log10(Math.max(1e-300, verdict.pValue));
}

export interface CalibrationOptions {
  /** Thresholds before calibration; calibration only ever raises them (lowers p-value thresholds). */
  defaults?: DriftThresholds;
  /** Standard deviations above the mean over unshifted windows (NannyML's default multiplier is 3). */
  deviations?: number;
  /** The threshold is also at least this multiple of the worst unshifted window. */
  worstMargin?: number;
  smallWindow?: number;
  /**
   * How many verdicts one alarm stands for, e.g. a version's features × the days of a year it is
   * checked on. The p-value thresholds are then also at most the default's α divided by it
   * (Bonferroni), so that α bounds the chance of any false alarm in that family, not of each test.
   * Default 1: no correction.
   */
  familyTests?: number;
}

function meanAndStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length;
  return { mean, std: Math.sqrt(variance) };
}

/**
 * Per-feature thresholds that sit above what each statistic does across unshifted windows
 * (e.g. each week of the training year), on a "higher is worse" scale (−log10 p for the tests):
 * the larger of mean + `deviations`·std (NannyML's rule) and `worstMargin` times the worst
 * unshifted window, never below the defaults. The second term is there because these
 * statistics are heavy-tailed: mean + 3·std alone leaves a false alarm every few dozen windows
 * per feature, and a training year shows every season once, so a window well beyond the worst
 * week of that year is not the season. Calibrate on windows of the size that will be
 * monitored: the tests' statistics depend on it. A feature that does not move with the seasons
 * (its worst week is still above p 0.05) keeps Evidently's 0.05 per test, which over a year of
 * daily windows fires on some day by chance alone: `familyTests` divides it among the tests
 * one alarm stands for (Bonferroni), decided before any live day is seen.
 */
export function calibrateThresholds(references: DriftReferences, unshifted: readonly DriftWindow[], { defaults = EVIDENTLY_THRESHOLDS, deviations = 3, worstMargin = 1.5, smallWindow = SMALL_WINDOW, familyTests = 1 }: CalibrationOptions = {}): DriftConfig {
  if (unshifted.length < 2) throw new Error(`calibration needs at least 2 unshifted windows, got ${unshifted.length}`);
  if (!(familyTests >= 1) || !Number.isFinite(familyTests)) throw new RangeError(`familyTests must be a number of at least 1, got ${familyTests}`);
  const severities = new Map<string, Map<DriftTest, number[]>>();
  const psis = new Map<string, number[]>();
  const windowRows: Record<string, number> = {};
  for (const window of unshifted) {
    for (const verdict of compareWindow(references, window, { defaults, smallWindow })) {
      windowRows[verdict.feature] = Math.max(windowRows[verdict.feature] ?? 0, verdict.count);
      const byTest = severities.get(verdict.feature) ?? new Map<DriftTest, number[]>();
      severities.set(verdict.feature, byTest);
      byTest.set(verdict.test, [...(byTest.get(verdict.test) ?? []), severity(verdict)]);
      psis.set(verdict.feature, [...(psis.get(verdict.feature) ?? []), verdict.psi]);
    }
  }
  const features: Record<string, Partial<DriftThresholds>> = {};
  const bound = (values: readonly number[]) => {
    const { mean, std } = meanAndStd(values);
    return Math.max(mean + deviations * std, worstMargin * Math.max(...values));
  };
  for (const [feature, byTest] of severities) {
    const own: Partial<DriftThresholds> = { psi: Math.max(defaults.psi, bound(psis.get(feature) ?? [0])) };
    for (const [test, values] of byTest) {
      const limit = bound(values);
      switch (test) {
        case 'ks':
          own.ksPValue = Math.min(defaults.ksPValue / familyTests, 10 ** -limit);
          break;
        case 'chi_squared':
          own.chiSquaredPValue = Math.min(defaults.chiSquaredPValue / familyTests, 10 ** -limit);
          break;
        case 'wasserstein':
          own.wasserstein = Math.max(defaults.wasserstein, limit);
          break;
        case 'jensen_shannon':
          own.jensenShannon = Math.max(defaults.jensenShannon, limit);
          break;
        default: {
          const unknown: never = test;
          throw new Error(`unknown drift test ${String(unknown)}`);
        }
      }
    }
    features[feature] = own;
  }
  return { defaults, features, smallWindow, windowRows };
}

export interface FalseAlarms {
  windows: number;
  /** Windows in which at least one feature's test said drift. */
  alarms: number;
  rate: number;
  /** Per feature: windows in which its test (or, separately, its PSI) said drift. */
  byFeature: Record<string, { alarms: number; psiAlarms: number }>;
}

/** How often `config` raises drift on windows known to be unshifted (a false-alarm rate). */
export function falseAlarmRate(references: DriftReferences, unshifted: readonly DriftWindow[], config: DriftConfig = {}): FalseAlarms {
  const byFeature: Record<string, { alarms: number; psiAlarms: number }> = {};
  let alarms = 0;
  for (const window of unshifted) {
    const verdicts = compareWindow(references, window, config);
    if (verdicts.some((v) => v.drifted)) alarms += 1;
    for (const verdict of verdicts) {
      const entry = (byFeature[verdict.feature] ??= { alarms: 0, psiAlarms: 0 });
      if (verdict.drifted) entry.alarms += 1;
      if (verdict.psiDrifted) entry.psiAlarms += 1;
    }
  }
  return { windows: unshifted.length, alarms, rate: unshifted.length === 0 ? 0 : alarms / unshifted.length, byFeature };
}

/**
 * The gauge samples of one verdict for `model_feature_drift{model,version,feature,statistic}`:
 * the test's statistic under its own name, its p-value when it has one, PSI, and `drifted`
 * (1 or 0) so that one alert rule covers every test.
 */
export function driftGaugeSamples(verdict: FeatureDrift): Array<{ statistic: string; value: number }> {
  const samples = [
    { statistic: verdict.test, value: verdict.statistic },
    { statistic: 'psi', value: verdict.psi },
    { statistic: 'drifted', value: verdict.drifted ? 1 : 0 },
    { statistic: 'psi_drifted', value: verdict.psiDrifted ? 1 : 0 },
  ];
  if (verdict.pValue !== null) samples.push({ statistic: `${verdict.test}_p_value`, value: verdict.pValue });
  return samples;
}
