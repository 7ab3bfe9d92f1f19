import { describe, expect, it } from '@jest/globals';
import { auc, expectedCalibrationError, logLoss } from '../../ml/metrics';
import { meanRankingMetrics } from '../../ml/ranking-metrics';
import { addDays } from '../../util/dates';
import { Random } from '../../util/random';
import {
  ClassifierQualityWindows,
  DemandQualityWindows,
  EstimatedQualityWindows,
  figuresOf,
  heldOutWeeklyAuc,
  heldOutWeeksOf,
  histogramAuc,
  liveMetricSamples,
  OUTCOME_RATIO_BOUNDS,
  outcomeRatio,
  OutcomeRatioWindows,
  QUALITY_TOLERANCE,
  qualityFloor,
  RecommendationQualityWindows,
  SegmentStabilityWindows,
} from '../quality';

const START = '2026-11-01';

/** Calibrated predictions: p from a Beta, the label drawn with probability p. */
function calibratedRows(random: Random, n: number): Array<{ day: string; probability: number; label: 0 | 1 }> {
  return Array.from({ length: n }, (_, i) => {
    const probability = random.beta(2, 5);
    return { day: addDays(START, i % 20), probability, label: random.bernoulli(probability) ? 1 : 0 };
  });
}

describe('ClassifierQualityWindows', () => {
  const random = new Random(7);
  const rows = calibratedRows(random, 6_000);
  const threshold = 0.35;
  const windows = new ClassifierQualityWindows(threshold);
  for (const row of rows) windows.add(row.day, row);
  const asOf = addDays(START, 19);

  it('matches the offline metrics on the same rows, AUC within its stated bin error', () => {
    const quality = windows.quality(asOf, '30d');
    const probs = rows.map((r) => r.probability);
    const labels = rows.map((r) => r.label);
    expect(quality.rows).toBe(6_000);
    expect(Math.abs(quality.auc.value - auc(probs, labels))).toBeLessThanOrEqual(quality.aucBinError + 1e-12);
    expect(quality.aucBinError).toBeLessThan(0.001);
    expect(quality.logLoss.value).toBeCloseTo(logLoss(probs, labels), 10);
    expect(quality.calibrationError.value).toBeCloseTo(expectedCalibrationError(probs, labels), 10);
    const called = rows.filter((r) => r.probability >= threshold);
    const truePositives = called.filter((r) => r.label === 1).length;
    expect(quality.precision.value).toBeCloseTo(truePositives / called.length, 12);
    expect(quality.recall.value).toBeCloseTo(truePositives / rows.filter((r) => r.label === 1).length, 12);
  });

  it('gives 95% intervals around each figure, narrower with more rows', () => {
    const month = windows.quality(asOf, '30d');
    const week = windows.quality(asOf, 'week');
    for (const figure of [month.auc, month.logLoss, month.calibrationError, month.precision, month.recall]) {
      expect(figure.low).toBeLessThanOrEqual(figure.value);
      expect(figure.high).toBeGreaterThanOrEqual(figure.value);
      expect(figure.high - figure.low).toBeGreaterThan(0);
    }
    expect(week.rows).toBe(rows.filter((r) => r.day > addDays(asOf, -7)).length);
    expect(week.auc.high - week.auc.low).toBeGreaterThan(month.auc.high - month.auc.low);
    // DeLong's standard error for ~6,000 rows and AUC ≈ 0.7 is about 0.007.
    expect(month.auc.high - month.auc.low).toBeGreaterThan(0.015);
    expect(month.auc.high - month.auc.low).toBeLessThan(0.04);
  });

  it('gives the outcome ratio, observed positives over Σ p by the day settled: inside its bounds when calibrated, above them when outcomes became likelier', () => {
    const byDay = new OutcomeRatioWindows();
    for (const row of rows) byDay.add(row.day, row);
    const week = byDay.quality(asOf, 'week');
    const inWeek = rows.filter((r) => r.day > addDays(asOf, -7));
    expect(week.rows).toBe(inWeek.length);
    expect(week.outcomeRatio.value).toBeCloseTo(inWeek.filter((r) => r.label === 1).length / inWeek.reduce((sum, r) => sum + r.probability, 0), 6);
    expect(week.outcomeRatio.low).toBeLessThan(1);
    expect(week.outcomeRatio.high).toBeGreaterThan(1);

    // A week of overdue-like outcomes (p ≈ 0.09), then the same with late log-odds 0.9 higher, as when reliability falls by a fifth.
    const shifted = new OutcomeRatioWindows();
    const calibrated = new OutcomeRatioWindows();
    const draw = new Random(11);
    for (let i = 0; i < 600; i++) {
      const probability = draw.beta(1, 10);
      const truth = 1 / (1 + Math.exp(-(Math.log(probability / (1 - probability)) + 0.9)));
      calibrated.add(START, { probability, label: draw.bernoulli(probability) ? 1 : 0 });
      shifted.add(START, { probability, label: draw.bernoulli(truth) ? 1 : 0 });
    }
    const steady = calibrated.quality(START, 'week').outcomeRatio;
    expect(steady.low).toBeLessThanOrEqual(OUTCOME_RATIO_BOUNDS.above);
    expect(steady.high).toBeGreaterThanOrEqual(OUTCOME_RATIO_BOUNDS.below);
    expect(shifted.quality(START, 'week').outcomeRatio.low).toBeGreaterThan(OUTCOME_RATIO_BOUNDS.above);
    expect(Number.isNaN(outcomeRatio(0, 0, 0).value)).toBe(true);
  });

  it('holds an outcome known before it is settled until the clock reaches that day', () => {
    const windows = new OutcomeRatioWindows();
    windows.add('2026-11-20', { probability: 0.2, label: 0 });
    windows.add('2026-11-10', { probability: 0.5, label: 1 });
    expect(windows.quality('2026-11-10', 'week').rows).toBe(1);
    expect(windows.quality('2026-11-20', 'week').rows).toBe(1);
    expect(windows.quality('2026-11-20', '30d')).toMatchObject({ rows: 2, outcomeRatio: { value: 1 / 0.7 } });
  });

  it('answers a single day and forgets days older than the longest window', () => {
    const local = new ClassifierQualityWindows(0.5);
    local.add('2026-10-01', { probability: 0.9, label: 1 });
    local.add('2026-10-01', { probability: 0.2, label: 0 });
    expect(local.quality('2026-10-01', 'day')).toMatchObject({ rows: 2, positives: 1, auc: { value: 1 } });
    local.add('2026-11-15', { probability: 0.6, label: 0 });
    expect(local.quality('2026-10-01', 'day').rows).toBe(0);
    expect(Number.isNaN(local.quality('2026-11-15', '30d').auc.value)).toBe(true);
    expect(() => local.add('1 Nov', { probability: 0.5, label: 1 })).toThrow('day must be YYYY-MM-DD, got "1 Nov"');
    expect(() => local.add('2026-11-15', { probability: 1.5, label: 1 })).toThrow('a probability must lie in [0, 1], got 1.5');
  });
});

describe('histogramAuc', () => {
  it('counts a shared bin as a tie and reports that as its possible error', () => {
    expect(histogramAuc([0, 1], [1, 0])).toMatchObject({ auc: 1, tieError: 0 });
    expect(histogramAuc([1, 1], [1, 1])).toMatchObject({ auc: 0.5, tieError: 0.25 });
  });
});

describe("ModelQualityBelowOffline's floor from held-out weeks", () => {
  /** Rows of `weeks` weeks of `perWeek` outcomes each, settled from START on; `spread` flattens the probabilities the labels are drawn with (0: calibrated). */
  function weekRows(random: Random, weeks: number, perWeek: number, spread = 0): Array<{ settledOn: string; probability: number; label: 0 | 1 }> {
    return Array.from({ length: weeks * perWeek }, (_, i) => {
      const probability = random.beta(2, 5);
      const truth = (1 - spread) * probability + spread * (2 / 7);
      return { settledOn: addDays(START, 7 * Math.floor(i / perWeek) + (i % 7)), probability, label: random.bernoulli(truth) ? 1 : 0 };
    });
  }
  const random = new Random(11);
  const heldOut = weekRows(random, 17, 700);
  // A held-out window's edge: a few rows settled in the week after, left out.
  heldOut.push(...weekRows(random, 1, 30).map((r) => ({ ...r, settledOn: addDays(r.settledOn, 7 * 17) })));
  const weeks = heldOutWeeklyAuc(
    heldOut.map((r) => r.probability),
    heldOut.map((r) => r.label),
    (i) => heldOut[i]!.settledOn,
  );
  const pooled = auc(
    heldOut.map((r) => r.probability),
    heldOut.map((r) => r.label),
  );

  it('has each full week of the held-out rows, the spread of their AUCs and the part sampling gives', () => {
    expect(weeks).not.toBeNull();
    expect(weeks!.weeks).toBe(17);
    expect(Math.abs(weeks!.mean - pooled)).toBeLessThan(0.01);
    // Every week is drawn alike: the weeks differ by sampling alone.
    expect(weeks!.sd / weeks!.samplingSd).toBeGreaterThan(0.6);
    expect(weeks!.sd / weeks!.samplingSd).toBeLessThan(1.5);
    expect(heldOutWeeksOf({ auc: weeks, recall: { weeks: 1, mean: 0.5, sd: 0, samplingSd: 0 }, ndcg: 'x' })).toEqual({ auc: weeks });
  });

  it('is the pooled figure less the tolerance without held-out weeks, and lower when weeks differ by more than sampling', () => {
    expect(qualityFloor(0.75)).toBeCloseTo(0.75 - QUALITY_TOLERANCE, 12);
    const calm = qualityFloor(0.75, { weeks: 17, mean: 0.74, sd: 0.02, samplingSd: 0.03 });
    expect(calm).toBeLessThan(0.74 - QUALITY_TOLERANCE);
    expect(qualityFloor(0.75, { weeks: 17, mean: 0.74, sd: 0.05, samplingSd: 0.03 })).toBeLessThan(calm);
  });

  it("holds calm weeks' upper bounds above it, and a week whose ranking has fallen below it", () => {
    const floor = qualityFloor(pooled, weeks!);
    const liveWeek = (spread: number, seed: number) => {
      const windows = new ClassifierQualityWindows(0.35);
      for (const r of weekRows(new Random(seed), 1, 700, spread)) windows.add(r.settledOn, r);
      return windows.quality(addDays(START, 6), 'week').auc;
    };
    const calm = Array.from({ length: 40 }, (_, i) => liveWeek(0, 100 + i));
    expect(calm.filter((a) => a.high < floor)).toEqual([]);
    // A week ranking about 0.1 worse (labels drawn from flattened probabilities), far from chance.
    const fallen = liveWeek(0.7, 7);
    expect(pooled - fallen.value).toBeLessThan(0.15);
    expect(fallen.value).toBeGreaterThan(0.55);
    expect(fallen.high).toBeLessThan(floor);
  });
});

describe('EstimatedQualityWindows (CBPE)', () => {
  it('estimates AUC, precision and recall of calibrated probabilities before labels, close to what labels later show', () => {
    const random = new Random(21);
    const rows = calibratedRows(random, 20_000);
    const estimated = new EstimatedQualityWindows(0.35);
    const realised = new ClassifierQualityWindows(0.35);
    for (const row of rows) {
      estimated.add(row.day, row.probability);
      realised.add(row.day, row);
    }
    const asOf = addDays(START, 19);
    const estimate = estimated.estimate(asOf, '30d');
    const actual = realised.quality(asOf, '30d');
    expect(estimate.estimated).toBe(true);
    expect(estimate.rows).toBe(20_000);
    expect(Math.abs(estimate.auc.value - actual.auc.value)).toBeLessThan(0.015);
    expect(Math.abs(estimate.precision.value - actual.precision.value)).toBeLessThan(0.015);
    expect(Math.abs(estimate.recall.value - actual.recall.value)).toBeLessThan(0.015);
    expect(estimate.auc.low).toBeLessThan(estimate.auc.value);
    expect(estimate.auc.high).toBeGreaterThan(estimate.auc.value);
  });
});

describe('RecommendationQualityWindows', () => {
  it('averages hit rate and NDCG at k as the offline ranking metrics do, leaving out members who borrowed nothing', () => {
    const windows = new RecommendationQualityWindows(3);
    const cases = [
      { ranked: ['a', 'b', 'c'], relevant: new Set(['b']) },
      { ranked: ['d', 'e', 'f'], relevant: new Set(['x']) },
      { ranked: ['g', 'h', 'i'], relevant: new Set(['g', 'i']) },
      { ranked: ['j'], relevant: new Set<string>() },
    ];
    for (const c of cases) windows.add('2026-11-20', c.ranked, c.relevant);
    const quality = windows.quality('2026-11-20', 'week');
    const offline = meanRankingMetrics(cases, 3);
    expect(quality.members).toBe(offline.members);
    expect(quality.hitRate.value).toBeCloseTo(offline.hitRate, 12);
    expect(quality.ndcg.value).toBeCloseTo(offline.ndcg, 12);
    expect(quality.hitRate.low).toBeLessThan(quality.hitRate.value);
  });
});

describe('DemandQualityWindows', () => {
  it('compares forecast error with seasonal naive, with an interval on the ratio', () => {
    const random = new Random(5);
    const windows = new DemandQualityWindows();
    for (let i = 0; i < 400; i++) {
      const actual = random.poisson(20);
      windows.add(addDays(START, i % 7), { actual, forecast: actual + random.normal(0, 2), seasonalNaive: actual + random.normal(0, 4) });
    }
    const quality = windows.quality(addDays(START, 6), 'week');
    expect(quality.seriesWeeks).toBe(400);
    expect(quality.maeRatio.value).toBeCloseTo(quality.mae.value / quality.seasonalNaiveMae.value, 12);
    expect(quality.maeRatio.value).toBeGreaterThan(0.4);
    expect(quality.maeRatio.value).toBeLessThan(0.6);
    expect(quality.maeRatio.high).toBeLessThan(1);
    expect(quality.maeRatio.low).toBeGreaterThan(0.3);
  });
});

describe('SegmentStabilityWindows', () => {
  it('gives the share of members whose segment stayed the same', () => {
    const windows = new SegmentStabilityWindows();
    windows.add('2026-11-20', 'Loyal', 'Loyal');
    windows.add('2026-11-20', 'Loyal', 'At Risk');
    windows.add('2026-11-21', 'New', 'New');
    windows.add('2026-11-21', 'Champions', 'Champions');
    expect(windows.quality('2026-11-21', 'week')).toMatchObject({ members: 4, unchanged: { value: 0.75 } });
    expect(windows.quality('2026-11-21', 'day')).toMatchObject({ members: 2, unchanged: { value: 1 } });
  });
});

describe('liveMetricSamples', () => {
  it('names each figure and its interval for model_live_metric, estimates prefixed', () => {
    const samples = liveMetricSamples({ logLoss: { value: 0.5, low: 0.4, high: NaN } });
    expect(samples).toEqual([
      { metric: 'log_loss', value: 0.5 },
      { metric: 'log_loss_low', value: 0.4 },
    ]);
    const estimate = new EstimatedQualityWindows(0.5);
    estimate.add('2026-11-20', 0.7);
    estimate.add('2026-11-20', 0.2);
    const figures = figuresOf(estimate.estimate('2026-11-20', 'day'));
    expect(Object.keys(figures)).toEqual(['auc', 'precision', 'recall']);
    expect(liveMetricSamples(figures, true).map((s) => s.metric)).toContain('estimated_auc');
  });
});
