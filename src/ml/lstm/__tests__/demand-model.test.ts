import { describe, expect, it } from '@jest/globals';
import { onnx } from 'onnx-proto';
import { seasonalNaive, trendScaledSeasonalNaive } from '../../forecasting/baselines';
import { summedAbsoluteError } from '../../forecasting/metrics';
import { syntheticDemand } from '../../forecasting/synthetic';
import { encodeModel, node, valueInfo } from '../../onnx/builder';
import { DEMAND_TENSORS, DemandForecaster, encodeDemandModel, forecastWithTrainer, strategyFor, trainDemandModel } from '..';
import type { DemandModelOptions } from '..';

/** Small and quick: enough to learn a trend, fast enough for a unit test. */
const QUICK: Omit<DemandModelOptions, 'seasonLength'> = { hiddenSize: 8, epochs: 40, learningRate: 0.01 };

describe('trainDemandModel and DemandForecaster', () => {
  it('forecasts through ONNX what the trainer computes, to float32 precision, for every period ahead', async () => {
    const series = syntheticDemand({ series: 12, periods: 30, seed: 2 });
    const model = await trainDemandModel(series, { seasonLength: 12, ...QUICK, epochs: 5 });
    const forecaster = await DemandForecaster.create(encodeDemandModel(model));
    const viaOnnx = await forecaster.forecast(series, 6);
    const viaTrainer = await forecastWithTrainer(model, series, 6);
    viaOnnx.forEach((f, i) => {
      expect(f.method).toBe('lstm');
      f.values.forEach((v, h) => expect(Math.abs(v - viaTrainer[i]!.values[h]!)).toBeLessThan(1e-5 * Math.max(1, v)));
    });
  });

  it('beats seasonal naive on growing series, where seasonal naive is biased low by a year of growth', async () => {
    const horizon = 12;
    const all = syntheticDemand({ series: 30, periods: 36 + horizon, seed: 9, growthPerSeason: [0.15, 0.35], meanLoans: [200, 2000] });
    const history = all.map((s) => ({ values: Array.from(s.values).slice(0, 36), firstPhase: s.firstPhase }));
    const actual = all.map((s) => Array.from(s.values).slice(36));
    const model = await trainDemandModel(history, { seasonLength: 12, ...QUICK, seed: 3 });
    const forecasts = await (await DemandForecaster.create(encodeDemandModel(model))).forecast(history, horizon);
    const lstmError = summedAbsoluteError(actual, forecasts.map((f) => f.values));
    const naiveForecasts = history.map((s) => seasonalNaive(s.values, 12, horizon));
    const naiveError = summedAbsoluteError(actual, naiveForecasts);
    // Seasonal naive's bias: it forecasts fewer loans than happen, overall.
    expect(naiveForecasts.flat().reduce((a, b) => a + b, 0)).toBeLessThan(actual.flat().reduce((a, b) => a + b, 0) * 0.85);
    expect(lstmError).toBeLessThan(naiveError * 0.6);
  });

  it('is deterministic for a seed', async () => {
    const series = syntheticDemand({ series: 6, periods: 24, seed: 4 });
    const a = await trainDemandModel(series, { seasonLength: 12, ...QUICK, epochs: 3, seed: 7 });
    const b = await trainDemandModel(series, { seasonLength: 12, ...QUICK, epochs: 3, seed: 7 });
    expect(Array.from(a.params.W)).toEqual(Array.from(b.params.W));
    expect(encodeDemandModel(a)).toEqual(encodeDemandModel(b));
  });

  it('falls back to seasonal naive, or the last value under a season, for series too short for the LSTM', async () => {
    const series = syntheticDemand({ series: 4, periods: 24, seed: 5 });
    const model = await trainDemandModel(series, { seasonLength: 12, ...QUICK, epochs: 2 });
    expect(model.description.minHistory).toBe(15);
    const forecaster = await DemandForecaster.create(encodeDemandModel(model));
    const short = { values: [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18], firstPhase: 0 };
    const tiny = { values: [4, 9], firstPhase: 3 };
    const [lstm, naive, last] = await forecaster.forecast([series[0]!, short, tiny], 3);
    expect(lstm!.method).toBe('lstm');
    expect(naive).toEqual({ method: 'seasonal-naive', values: [7, 8, 9] });
    expect(last).toEqual({ method: 'last-value', values: [9, 9, 9] });
  });

  it('gives intervals from held-out errors that bracket the forecast', async () => {
    const series = syntheticDemand({ series: 16, periods: 30, seed: 6 });
    const model = await trainDemandModel(series, { seasonLength: 12, ...QUICK, epochs: 10, validationPeriods: 3 });
    expect(model.description.intervals?.low).toHaveLength(3);
    const [f] = await (await DemandForecaster.create(encodeDemandModel(model))).forecast(series.slice(0, 1), 5, { intervals: true });
    f!.values.forEach((v, h) => {
      expect(f!.low![h]!).toBeLessThanOrEqual(v);
      expect(f!.high![h]!).toBeGreaterThanOrEqual(v);
    });
  });

  it('trains a direct model that forecasts up to its outputs in one run, and refuses further', async () => {
    const series = syntheticDemand({ series: 10, periods: 30, seed: 8 });
    const model = await trainDemandModel(series, { seasonLength: 12, ...QUICK, epochs: 3, strategy: 'direct', outputs: 4 });
    const forecaster = await DemandForecaster.create(encodeDemandModel(model));
    const [f] = await forecaster.forecast(series.slice(0, 1), 4);
    expect(f!.values).toHaveLength(4);
    await expect(forecaster.forecast(series, 5)).rejects.toThrow('this direct model forecasts at most 4 periods ahead, asked for 5');
  });

  it('chooses direct only when the history covers the farthest horizon at every season position', () => {
    expect(strategyFor(18, 12, { seasonLength: 12 })).toEqual({ strategy: 'recursive' });
    expect(strategyFor(48, 12, { seasonLength: 12 })).toEqual({ strategy: 'direct', outputs: 12 });
    expect(strategyFor(48, 13, { seasonLength: 12 })).toEqual({ strategy: 'recursive' });
  });

  it('serves weekly series with a 52-week season (the shape of Book.demandForecast)', async () => {
    const weekly = syntheticDemand({ series: 8, periods: 80, seasonLength: 52, seed: 3, meanLoans: [2, 20] });
    const model = await trainDemandModel(weekly, { seasonLength: 52, ...QUICK, epochs: 3, validationPeriods: 4 });
    expect(model.options.window).toBe(13);
    const [f] = await (await DemandForecaster.create(encodeDemandModel(model))).forecast(weekly.slice(0, 1), 8, { intervals: true });
    expect(f!.values).toHaveLength(8);
    expect(f!.low).toHaveLength(8);
    f!.values.forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
  });

  it('refuses a model that is not a Shelfmark demand model', async () => {
    const other = encodeModel({
      graph: { name: 'other', inputs: [valueInfo('x', 'float', [1])], outputs: [valueInfo('y', 'float', [1])], nodes: [node('Identity', ['x'], ['y'])] },
    });
    await expect(DemandForecaster.create(other)).rejects.toThrow('not a Shelfmark demand model');
  });

  it('documents its tensors in the exported graph', async () => {
    const model = await trainDemandModel(syntheticDemand({ series: 3, periods: 20, seed: 1 }), { seasonLength: 12, ...QUICK, epochs: 1 });
    const graph = onnx.ModelProto.decode(encodeDemandModel(model)).graph!;
    expect(graph.input!.map((i) => i.name)).toEqual([DEMAND_TENSORS.features, DEMAND_TENSORS.sequenceLens, DEMAND_TENSORS.seasonalAnchor]);
    expect(graph.output!.map((o) => o.name)).toEqual([DEMAND_TENSORS.logRatio, DEMAND_TENSORS.forecast]);
    expect(graph.node!.filter((n) => n.opType === 'LSTM')).toHaveLength(1);
  });
});

describe('baselines on the synthetic trend', () => {
  it('trend-scaled seasonal naive removes most of seasonal naive bias on steady growth', () => {
    const all = syntheticDemand({ series: 10, periods: 36, seed: 9, growthPerSeason: [0.2, 0.3], meanLoans: [500, 1000] });
    const history = all.map((s) => Array.from(s.values).slice(0, 24));
    const actual = all.map((s) => Array.from(s.values).slice(24));
    const naive = summedAbsoluteError(actual, history.map((v) => seasonalNaive(v, 12, 12)));
    const trend = summedAbsoluteError(actual, history.map((v) => trendScaledSeasonalNaive(v, 12, 12)));
    expect(trend).toBeLessThan(naive * 0.6);
  });
});
