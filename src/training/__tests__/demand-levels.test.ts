/**
 * The served demand method per level, chosen by backtest: on synthetic monthly series where one
 * kind of method clearly wins, the trainer's choice is that kind, it is the candidate with the
 * lowest mean fold error, the real LSTM was scored on every fold too, and the served forecasts
 * of the choice are the chosen method's.
 */
import { describe, expect, it } from '@jest/globals';
import { forecastDemand, forecastsFromOrigin } from '../../evaluation/demand-baselines';
import type { DemandSeries } from '../../ml/forecasting/series';
import { simpleMethodForecasts } from '../../models/demand';
import { Random } from '../../util/random';
import { DEMAND_COLLECTION_PARAMS, foldLstm } from '../demand';
import { chooseLevelMethod, LEVEL_CANDIDATES, type LevelBacktestOptions } from '../demand-levels';

const MONTHS = 36;

const options: LevelBacktestOptions = {
  level: 'collection',
  name: 'synthetic collections',
  seasonLength: 12,
  folds: 3,
  validationLength: 6,
  step: 3,
  minTrainLength: 16,
  lstm: foldLstm({ ...DEMAND_COLLECTION_PARAMS, epochs: 3, seed: 1 }, 1, (history) => history),
  describePeriods: (from, to) => `months ${from} to ${to - 1}`,
};

/** Shared season, a level per series and heavy month-to-month noise: averaging a year beats repeating one month. */
function noisySeason(random: Random): DemandSeries[] {
  const season = Array.from({ length: 12 }, (_, p) => 1 + 0.5 * Math.sin((2 * Math.PI * p) / 12));
  return Array.from({ length: 20 }, () => {
    const level = 50 + random.int(450);
    return { values: Array.from({ length: MONTHS }, (_, t) => random.poisson(level * season[t % 12]! * Math.exp(random.normal(0, 0.35)))), firstPhase: 0 };
  });
}

/** Each series repeats a year of its own exactly: only the same month last year knows it. */
function ownRepeatingYear(random: Random): DemandSeries[] {
  return Array.from({ length: 20 }, () => {
    const year = Array.from({ length: 12 }, () => random.int(300));
    return { values: Array.from({ length: MONTHS }, (_, t) => year[t % 12]!), firstPhase: 0 };
  });
}

describe('chooseLevelMethod', () => {
  it.each([
    ['a shared season under noise', noisySeason, ['seasonalMeanTimesSeason', 'sesDeseasonalised', 'thetaDeseasonalised']],
    ['a year of its own, repeated', ownRepeatingYear, ['seasonalNaive']],
  ])('on %s, serves the candidate with the lowest mean fold RMSE, of the kind that wins there', async (_, make, winners) => {
    const history = make(new Random(7));
    const { choice, backtest } = await chooseLevelMethod(history, options);
    expect(winners).toContain(choice.method);
    expect(backtest.chosen).toBe(choice.method);
    expect(backtest.candidates.map((c) => c.name)).toEqual([...LEVEL_CANDIDATES]);
    expect(backtest.folds).toEqual(['months 24 to 29', 'months 27 to 32', 'months 30 to 35']);
    const chosen = backtest.candidates.find((c) => c.name === choice.method)!;
    for (const c of backtest.candidates) {
      expect(c.scores).toHaveLength(3);
      expect(c.scores.every(Number.isFinite)).toBe(true);
      expect(c.mean).toBeCloseTo(c.scores.reduce((a, b) => a + b, 0) / 3, 9);
      expect(chosen.mean).toBeLessThanOrEqual(c.mean);
    }
    // The fold score is the RMSE of the method's forecasts of the fold's months from its cut-off.
    const cases = forecastsFromOrigin(history, 'seasonalNaive', { origin: 30, from: 30, to: 36 }, 12);
    const squared = cases.flatMap((c) => Array.from(c.actual, (a, h) => (a - c.forecast[h]!) ** 2));
    const naive = backtest.candidates.find((c) => c.name === 'seasonalNaive')!;
    expect(naive.scores[2]).toBeCloseTo(Math.sqrt(squared.reduce((a, b) => a + b, 0) / squared.length), 9);
    // Served forecasts of the choice are the method's, with the pooled season it carries.
    expect(choice.seasonalIndices).toHaveLength(12);
    const served = simpleMethodForecasts(choice, 'collection', history, 4);
    expect(served[3]).toEqual({ values: forecastDemand(choice.method as 'seasonalNaive', history[3]!, { seasonLength: 12, horizon: 4, seasonalIndices: choice.seasonalIndices }), method: choice.method });
  }, 120_000);

  it('refuses a window too short for one fold after the minimum history, saying what it needs', async () => {
    const short = ownRepeatingYear(new Random(1)).map((s) => ({ values: Array.from(s.values).slice(0, 20), firstPhase: 0 }));
    await expect(chooseLevelMethod(short, options)).rejects.toThrow('need a window of 22; it has 20');
  });
});
