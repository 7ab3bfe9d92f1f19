import { describe, expect, it } from '@jest/globals';
import { Random } from '../../util/random';
import {
  buildReference,
  buildReferences,
  calibrateThresholds,
  compareFeature,
  compareWindow,
  driftGaugeSamples,
  falseAlarmRate,
  OTHER,
  type DriftWindow,
  type FeatureValue,
} from '../drift';
import { chiSquaredSurvival, ksPValue, normalQuantile, wilsonInterval } from '../statistics';

const GENRES = ['Fantasy', 'Crime', 'Romance', 'Children', 'History'];

/**
 * A library's members as a feature table on day `day`: loans in the last 30 days (a member's
 * own rate times a yearly season, summer peak and December dip), the share of loans returned
 * late (member reliability), and the genre of the last loan (children's books rise in summer).
 * `lateShift` raises lateness, as falling reliability would.
 */
function memberRows(random: Random, day: number, members: number, lateShift = 0): Array<Record<string, FeatureValue>> {
  const season = 1 + 0.3 * Math.sin((2 * Math.PI * (day - 80)) / 365);
  const summer = Math.max(0, season - 1);
  return Array.from({ length: members }, () => {
    const rate = random.gamma(3) * 1.5;
    const genreWeights = GENRES.map((g) => (g === 'Children' ? 1 + 2 * summer : 1));
    let total = 0;
    const cumulative = genreWeights.map((w) => (total += w));
    return {
      loans_last_30d: random.poisson(rate * season),
      late_share: Math.min(1, random.beta(2, 12) + lateShift),
      last_genre: GENRES[random.pickCumulative(cumulative)] ?? 'Fantasy',
    };
  });
}

function windowOf(rows: Array<Record<string, FeatureValue>>): DriftWindow {
  const window: Record<string, FeatureValue[]> = {};
  for (const row of rows) for (const [name, value] of Object.entries(row)) (window[name] ??= []).push(value);
  return window;
}

/** One window per week of a year starting at `firstDay`. */
function weeklyWindows(random: Random, firstDay: number, members: number, lateShift = 0): DriftWindow[] {
  return Array.from({ length: 52 }, (_, week) => windowOf(memberRows(random, firstDay + 7 * week, members, lateShift)));
}

describe('statistics', () => {
  it('agrees with tabulated values', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(chiSquaredSurvival(3.841459, 1)).toBeCloseTo(0.05, 5);
    expect(chiSquaredSurvival(18.307, 10)).toBeCloseTo(0.05, 4);
    // Kolmogorov: P(K > 1.358) ≈ 0.05.
    expect(ksPValue(1.358e-6, 2e12, 2e12)).toBeCloseTo(0.05, 3);
    expect(ksPValue(0.1, 100, 100)).toBeCloseTo(0.677, 2);
    const w = wilsonInterval(8, 10);
    expect(w.low).toBeCloseTo(0.4902, 3);
    expect(w.high).toBeCloseTo(0.9433, 3);
  });
});

describe('references', () => {
  it('keeps one bin per value for small integers and treats up to 5 distinct numbers as categories', () => {
    const few = buildReference([0, 1, 1, 2, 2, 2, 3, 4]);
    expect(few).toEqual({ kind: 'categorical', count: 8, categories: { '2': 3, '1': 2, '0': 1, '3': 1, '4': 1 } });
    const counts = buildReference(Array.from({ length: 1000 }, (_, i) => i % 10), { maxBins: 50 });
    expect(counts.kind).toBe('numeric');
    if (counts.kind !== 'numeric') return;
    expect(counts.cuts).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(counts.counts).toEqual(new Array(10).fill(100));
    expect(counts).toMatchObject({ min: 0, max: 9, mean: 4.5 });
  });

  it('fits a training set of 20,000 rows into a few kilobytes of metadata', () => {
    const random = new Random(3);
    const rows = Array.from({ length: 40 }, (_, week) => memberRows(random, 7 * week, 500)).flat();
    const references = buildReferences(rows);
    expect(Object.keys(references.features)).toEqual(['loans_last_30d', 'late_share', 'last_genre']);
    expect(JSON.stringify(references).length).toBeLessThan(4_000);
    expect(references.features.late_share?.kind).toBe('numeric');
  });

  it('merges categories past the limit and refuses an empty feature', () => {
    expect(buildReference(['a', 'a', 'b', 'c'], { maxCategories: 1 })).toEqual({ kind: 'categorical', count: 4, categories: { a: 2, [OTHER]: 2 } });
    expect(() => buildReference([null, null])).toThrow('a reference needs at least one value that is not null');
    expect(() => buildReferences([{ a: 1, b: null }])).toThrow('feature b: a reference needs at least one value that is not null');
  });
});

describe('compareFeature', () => {
  const random = new Random(11);
  const training = Array.from({ length: 20_000 }, () => random.normal(50, 10));
  const reference = buildReference(training);
  const sample = (n: number, mean: number) => Array.from({ length: n }, () => random.normal(mean, 10));

  it('uses KS on small windows and normalised Wasserstein on large ones', () => {
    const small = compareFeature('x', reference, sample(300, 50));
    expect(small).toMatchObject({ test: 'ks', drifted: false, psiDrifted: false, count: 300 });
    const shiftedSmall = compareFeature('x', reference, sample(300, 54));
    expect(shiftedSmall).toMatchObject({ test: 'ks', drifted: true });
    expect(shiftedSmall.pValue).toBeLessThan(0.05);
    const large = compareFeature('x', reference, sample(5_000, 50));
    expect(large).toMatchObject({ test: 'wasserstein', drifted: false });
    const shiftedLarge = compareFeature('x', reference, sample(5_000, 53));
    expect(shiftedLarge.test).toBe('wasserstein');
    // Shifting a normal by 0.3 sd moves it by a Wasserstein distance of 0.3 sd.
    expect(shiftedLarge.statistic).toBeGreaterThan(0.25);
    expect(shiftedLarge.statistic).toBeLessThan(0.35);
    expect(shiftedLarge.drifted).toBe(true);
  });

  it('counts live values beyond the reference range by their distance from it', () => {
    const far = compareFeature('x', reference, new Array(2_000).fill(reference.kind === 'numeric' ? reference.max + 100 : 0));
    expect(far.statistic).toBeGreaterThan(100 / 10);
    expect(far.psiDrifted).toBe(true);
  });

  it('uses chi-squared on small categorical windows and Jensen-Shannon on large ones, unseen values as other', () => {
    const categories = buildReference(Array.from({ length: 10_000 }, (_, i) => GENRES[i % 5] ?? 'x'));
    const even = (n: number) => Array.from({ length: n }, (_, i) => GENRES[i % 5] ?? 'x');
    expect(compareFeature('g', categories, even(500))).toMatchObject({ test: 'chi_squared', drifted: false });
    const surge = (n: number) => Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 'Fantasy' : (GENRES[i % 5] ?? 'x')));
    expect(compareFeature('g', categories, surge(500))).toMatchObject({ test: 'chi_squared', drifted: true });
    expect(compareFeature('g', categories, even(5_000))).toMatchObject({ test: 'jensen_shannon', drifted: false });
    expect(compareFeature('g', categories, surge(5_000))).toMatchObject({ test: 'jensen_shannon', drifted: true });
    const unseen = compareFeature('g', categories, Array.from({ length: 500 }, (_, i) => (i % 4 === 0 ? 'Manga' : (GENRES[i % 5] ?? 'x'))));
    expect(unseen.drifted).toBe(true);
  });

  it('refuses a window without values and text in a numeric feature', () => {
    expect(() => compareFeature('x', reference, [null])).toThrow('the live window of x has no values to compare');
    expect(() => compareFeature('x', reference, ['a'])).toThrow('x is numeric in the reference but its live window holds text');
  });

  it('exports the statistic, its p-value, PSI and the verdicts as gauge samples', () => {
    const verdict = compareFeature('x', reference, sample(300, 54));
    expect(driftGaugeSamples(verdict).map((s) => s.statistic).sort()).toEqual(['drifted', 'ks', 'ks_p_value', 'psi', 'psi_drifted']);
  });
});

describe('thresholds against the library seasons', () => {
  const random = new Random(2026);
  const members = 300;
  const trainingYear = weeklyWindows(random, 0, members);
  const references = buildReferences(trainingYear.flatMap((w) => {
    const rows: Array<Record<string, FeatureValue>> = [];
    const n = w.loans_last_30d?.length ?? 0;
    for (let i = 0; i < n; i++) rows.push({ loans_last_30d: w.loans_last_30d?.[i] ?? null, late_share: w.late_share?.[i] ?? null, last_genre: w.last_genre?.[i] ?? null });
    return rows;
  }));
  const nextYear = weeklyWindows(random, 365, members);

  it("fires on unshifted seasonal weeks with Evidently's defaults", () => {
    const alarms = falseAlarmRate(references, nextYear);
    expect(alarms.windows).toBe(52);
    expect(alarms.rate).toBeGreaterThan(0.2);
    expect(alarms.byFeature.loans_last_30d?.alarms).toBeGreaterThan(10);
  });

  it('raises no alarm on a year of unshifted weeks once calibrated on the training year, and still finds a real shift', () => {
    const calibrated = calibrateThresholds(references, trainingYear);
    expect(calibrated.features?.loans_last_30d?.ksPValue).toBeLessThan(0.05);
    const alarms = falseAlarmRate(references, nextYear, calibrated);
    expect(alarms).toMatchObject({ windows: 52, alarms: 0, rate: 0 });
    const shifted = weeklyWindows(random, 365, members, 0.08);
    const found = shifted.map((window) => compareWindow(references, window, calibrated).filter((v) => v.drifted).map((v) => v.feature));
    expect(found.every((features) => features.length === 1 && features[0] === 'late_share')).toBe(true);
  });

  it('records, per feature, the largest window it calibrated on', () => {
    const calibrated = calibrateThresholds(references, [...trainingYear.slice(0, 3), { loans_last_30d: [1, 2, 3], late_share: [0.1, null] }]);
    const present = (values: readonly FeatureValue[] | undefined) => (values ?? []).filter((v) => v !== null).length;
    expect(calibrated.windowRows?.loans_last_30d).toBe(Math.max(...trainingYear.slice(0, 3).map((w) => present(w.loans_last_30d)), 3));
    expect(calibrated.windowRows?.last_genre).toBe(Math.max(...trainingYear.slice(0, 3).map((w) => present(w.last_genre))));
    expect(Object.keys(calibrated.windowRows ?? {}).sort()).toEqual(['last_genre', 'late_share', 'loans_last_30d']);
  });

  it("divides Evidently's α among the tests one alarm stands for, leaving seasonal thresholds that are already lower, and still finds the shift", () => {
    const familyTests = 3 * 365;
    const perTest = calibrateThresholds(references, trainingYear);
    const family = calibrateThresholds(references, trainingYear, { familyTests });
    for (const feature of ['loans_last_30d', 'late_share', 'last_genre']) {
      const own = perTest.features?.[feature] ?? {};
      const corrected = family.features?.[feature] ?? {};
      const key = own.ksPValue === undefined ? 'chiSquaredPValue' : 'ksPValue';
      expect(corrected[key]).toBe(Math.min(own[key] ?? NaN, 0.05 / familyTests));
    }
    // The seasonal feature's threshold was below the corrected α already; a steady one was not.
    expect(family.features?.loans_last_30d?.ksPValue).toBe(perTest.features?.loans_last_30d?.ksPValue);
    expect(Object.values(perTest.features ?? {}).some((t) => (t.ksPValue ?? t.chiSquaredPValue ?? 0) > 0.05 / familyTests)).toBe(true);
    const shifted = weeklyWindows(random, 365, members, 0.08);
    expect(shifted.every((window) => compareWindow(references, window, family).some((v) => v.drifted && v.feature === 'late_share'))).toBe(true);
    expect(() => calibrateThresholds(references, trainingYear, { familyTests: 0 })).toThrow('familyTests must be a number of at least 1, got 0');
  });

  it('does the same for large windows, where Wasserstein and Jensen-Shannon decide', () => {
    const months = (firstDay: number, lateShift = 0) => Array.from({ length: 12 }, (_, month) => windowOf(memberRows(random, firstDay + 30 * month, 1_500, lateShift)));
    const calibrated = calibrateThresholds(references, months(0));
    const unshifted = months(365);
    expect(compareWindow(references, unshifted[0] ?? {}, calibrated).map((v) => v.test)).toEqual(['wasserstein', 'wasserstein', 'jensen_shannon']);
    expect(falseAlarmRate(references, unshifted, calibrated)).toMatchObject({ windows: 12, alarms: 0 });
    const found = months(365, 0.05).map((window) => compareWindow(references, window, calibrated).filter((v) => v.drifted).map((v) => v.feature));
    expect(found).toEqual(new Array(12).fill(['late_share']));
  });
});
