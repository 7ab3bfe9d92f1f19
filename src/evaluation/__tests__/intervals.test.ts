import { describe, expect, it } from '@jest/globals';
import { auc, logLoss } from '../../ml/metrics';
import { Random } from '../../util/random';
import { delongAuc, delongTest, normalCdf, normalQuantile } from '../delong';
import { bootstrapFigures, bootstrapInterval, intervalsBySlice, meanOf, pairedBootstrap, quantileOfSorted, rowMetric } from '../intervals';

/** Labels with a base rate of ½ and scores that separate them by `signal` standard deviations. */
function scoredRows(n: number, signal: number, seed: number): { scores: number[]; labels: number[] } {
  const random = new Random(seed);
  const labels = Array.from({ length: n }, () => (random.bernoulli(0.5) ? 1 : 0));
  const scores = labels.map((y) => random.normal(y * signal, 1));
  return { scores, labels };
}

const mean = (rows: ArrayLike<number>, values: number[]): number => meanOf(values)(rows);

describe('bootstrapInterval', () => {
  it('covers the mean with an interval about ±1.96 standard errors wide', () => {
    const random = new Random(7);
    const values = Array.from({ length: 400 }, () => random.normal(10, 2));
    const interval = bootstrapInterval(values.length, (rows) => mean(rows, values), { resamples: 2000, seed: 3 });
    const standardError = 2 / Math.sqrt(400);
    expect(interval.value).toBeCloseTo(mean(Uint32Array.from(values.keys()), values), 12);
    expect(interval.low).toBeLessThan(interval.value);
    expect(interval.high).toBeGreaterThan(interval.value);
    expect((interval.high - interval.low) / (2 * 1.96 * standardError)).toBeGreaterThan(0.85);
    expect((interval.high - interval.low) / (2 * 1.96 * standardError)).toBeLessThan(1.15);
    expect(interval.undefinedResamples).toBe(0);
  });

  it('gives the same interval for the same seed', () => {
    const { scores, labels } = scoredRows(200, 1, 1);
    const metric = rowMetric(auc, scores, labels);
    expect(bootstrapInterval(200, metric, { seed: 9, resamples: 200 })).toEqual(bootstrapInterval(200, metric, { seed: 9, resamples: 200 }));
  });

  it('widens when rows come in clusters that move together', () => {
    // 40 members with 10 identical rows each: 40 units of evidence, not 400.
    const random = new Random(2);
    const perMember = Array.from({ length: 40 }, () => random.normal(0, 1));
    const values = perMember.flatMap((v) => new Array<number>(10).fill(v));
    const clusters = perMember.flatMap((_, member) => new Array<number>(10).fill(member));
    const metric = (rows: ArrayLike<number>) => mean(rows, values);
    const rowwise = bootstrapInterval(values.length, metric, { resamples: 500 });
    const clustered = bootstrapInterval(values.length, metric, { resamples: 500, clusters });
    expect((clustered.high - clustered.low) / (rowwise.high - rowwise.low)).toBeGreaterThan(2.5);
  });

  it('leaves out resamples where the metric is undefined, and refuses when most are', () => {
    const labels = [1, ...new Array<number>(29).fill(0)];
    const scores = labels.map((y, i) => y + i / 100);
    const interval = bootstrapInterval(30, rowMetric(auc, scores, labels), { resamples: 200 });
    expect(interval.undefinedResamples).toBeGreaterThan(0);
    expect(interval.resamples + interval.undefinedResamples).toBe(200);
    // Defined only when rows 0 and 1 are both drawn: about 40% of resamples.
    const needsBoth = (rows: ArrayLike<number>) => (Array.from(rows).includes(0) && Array.from(rows).includes(1) ? 1 : NaN);
    expect(() => bootstrapInterval(200, needsBoth, { resamples: 100 })).toThrow(
      /the metric is undefined on \d+ of 100 resamples/,
    );
  });

  it('rejects bad options with what it expected', () => {
    expect(() => bootstrapInterval(0, () => 0)).toThrow('a bootstrap needs at least one row, got 0');
    expect(() => bootstrapInterval(5, () => 0, { resamples: 3 })).toThrow('resamples must be an integer of at least 10, got 3');
    expect(() => bootstrapInterval(5, () => 0, { confidence: 95 })).toThrow('confidence must lie in (0, 1), got 95');
    expect(() => bootstrapInterval(5, () => 0, { clusters: [1, 2] })).toThrow('clusters has 2 ids but there are 5 rows');
    expect(() => rowMetric(auc, [1, 2], [1])).toThrow('scores has 2 values but labels has 1');
  });
});

describe('meanOf', () => {
  it('averages the figures of the rows drawn, repeats counted', () => {
    expect(meanOf([1, 2, 6])([0, 2, 2])).toBeCloseTo(13 / 3, 12);
    expect(meanOf([1])([])).toBeNaN();
  });
});

describe('quantileOfSorted', () => {
  it('interpolates between order statistics', () => {
    expect(quantileOfSorted([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantileOfSorted([1, 2, 3, 4, 5], 0.125)).toBe(1.5);
    expect(quantileOfSorted([1, 2], 1)).toBe(2);
  });
});

describe('pairedBootstrap', () => {
  it('finds a real difference between a strong and a weak model on the same rows', () => {
    const { labels } = scoredRows(600, 0, 4);
    const random = new Random(5);
    const strong = labels.map((y) => random.normal(1.5 * y, 1));
    const weak = labels.map((y) => random.normal(0.5 * y, 1));
    const result = pairedBootstrap(600, rowMetric(auc, strong, labels), rowMetric(auc, weak, labels), { resamples: 500 });
    expect(result.difference.value).toBeCloseTo(auc(strong, labels) - auc(weak, labels), 12);
    expect(result.difference.low).toBeGreaterThan(0);
    expect(result.pValue).toBeLessThan(0.01);
  });

  it('finds none between a model and itself, and pairs the resamples', () => {
    const { scores, labels } = scoredRows(300, 1, 6);
    const probs = scores.map((s) => 1 / (1 + Math.exp(-s)));
    const result = pairedBootstrap(300, rowMetric(logLoss, probs, labels), rowMetric(logLoss, probs, labels), { resamples: 200 });
    expect(result.difference).toMatchObject({ value: 0, low: 0, high: 0 });
    expect(result.pValue).toBe(1);
    expect(result.a.high - result.a.low).toBeGreaterThan(0);
  });
});

describe('normal distribution', () => {
  it('matches tabulated values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 6);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 6);
    expect(normalQuantile(0.01)).toBeCloseTo(-2.326348, 6);
    expect(() => normalQuantile(1)).toThrow('a normal quantile needs p in (0, 1), got 1');
  });
});

/** DeLong's variance by its definition, pair by pair: the O(m·n) reference for the fast form. */
function bruteForceVariance(scores: number[], labels: number[]): number {
  const pos = scores.filter((_, i) => labels[i] === 1);
  const neg = scores.filter((_, i) => labels[i] === 0);
  const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0);
  const v10 = pos.map((x) => neg.reduce((s, y) => s + psi(x, y), 0) / neg.length);
  const v01 = neg.map((y) => pos.reduce((s, x) => s + psi(x, y), 0) / pos.length);
  const variance = (v: number[]) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1);
  };
  return variance(v10) / pos.length + variance(v01) / neg.length;
}

describe('DeLong', () => {
  it('agrees with auc and with the pairwise definition of the variance, ties included', () => {
    const { scores, labels } = scoredRows(120, 1, 8);
    const rounded = scores.map((s) => Math.round(s * 4) / 4);
    const result = delongAuc(rounded, labels);
    expect(result.value).toBeCloseTo(auc(rounded, labels), 12);
    expect(result.variance).toBeCloseTo(bruteForceVariance(rounded, labels), 12);
    expect(result.low).toBeCloseTo(result.value - 1.959964 * Math.sqrt(result.variance), 5);
  });

  it('is close to the bootstrap on the same rows', () => {
    const { scores, labels } = scoredRows(500, 1, 10);
    const delong = delongAuc(scores, labels);
    const boot = bootstrapInterval(500, rowMetric(auc, scores, labels), { resamples: 1000 });
    expect((boot.high - boot.low) / (delong.high - delong.low)).toBeGreaterThan(0.85);
    expect((boot.high - boot.low) / (delong.high - delong.low)).toBeLessThan(1.15);
  });

  it('tests two models on the same rows', () => {
    const { labels } = scoredRows(800, 0, 11);
    const random = new Random(12);
    const strong = labels.map((y) => random.normal(1.2 * y, 1));
    const weak = labels.map((y, i) => strong[i]! + random.normal(0, 1.5));
    const result = delongTest(strong, weak, labels);
    expect(result.difference.value).toBeCloseTo(auc(strong, labels) - auc(weak, labels), 12);
    expect(result.difference.low).toBeGreaterThan(0);
    expect(result.pValue).toBeLessThan(0.001);
    const same = delongTest(strong, strong, labels);
    expect(same).toMatchObject({ variance: 0, pValue: 1, z: 0 });
    expect(() => delongTest([1, 2], [1], [0, 1])).toThrow('scoresA has 2 values but scoresB has 1');
  });
});

describe('intervalsBySlice', () => {
  it('gives each slice its own metric and interval', () => {
    const { scores, labels } = scoredRows(600, 1, 13);
    // The second half scores at random: its AUC is near ½, the first half's well above.
    const noisy = scores.map((s, i) => (i < 300 ? s : (i * 7919) % 101));
    const slices = labels.map((_, i) => (i < 300 ? 'active' : 'lapsed'));
    const result = intervalsBySlice(slices, rowMetric(auc, noisy, labels), { resamples: 200 });
    expect(Object.keys(result)).toEqual(['active', 'lapsed']);
    expect(result.active!.rows).toBe(300);
    expect(result.active!.value).toBeCloseTo(auc(noisy.slice(0, 300), labels.slice(0, 300)), 12);
    expect(result.active!.low).toBeGreaterThan(result.lapsed!.high);
  });

  it('names the slice a metric cannot be computed on', () => {
    expect(() => intervalsBySlice(['a', 'b', 'b'], rowMetric(auc, [0.1, 0.2, 0.3], [1, 0, 1]), { resamples: 20 })).toThrow(/^slice "a" \(1 rows\)/);
  });
});

describe('bootstrapFigures', () => {
  it('takes every figure from the same resamples', () => {
    const random = new Random(14);
    const values = Array.from({ length: 100 }, () => random.normal(0, 1));
    const result = bootstrapFigures(100, (rows) => ({ mean: meanOf(values)(rows), twice: 2 * meanOf(values)(rows) }), { resamples: 100 });
    expect(result.twice.low).toBeCloseTo(2 * result.mean.low, 12);
    expect(result.twice.high).toBeCloseTo(2 * result.mean.high, 12);
    expect(result.mean).toEqual(bootstrapInterval(100, meanOf(values), { resamples: 100 }));
  });
});
