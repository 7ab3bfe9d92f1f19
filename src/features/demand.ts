/**
 * The demand model's inputs and outputs: the engineered feature rows of each series (season,
 * lags, trend: src/ml/forecasting/features.ts) as ONNX tensors, and forecasts back from the
 * model's outputs. The counts they are computed from (weekly loans of books, monthly loans of
 * collections) are read in demand-counts.ts, re-exported here, so the trainer and the subgraph
 * read them alike.
 */
import { Tensor } from 'onnxruntime-node';
import { seasonalNaive } from '../ml/forecasting/baselines';
import { anchorAt, DEMAND_FEATURE_COUNT, DEMAND_FEATURE_NAMES, demandFeatures, logLoans, seriesLevel } from '../ml/forecasting/features';
import type { DemandSeries } from '../ml/forecasting/series';
import { DEMAND_TENSORS } from '../ml/lstm';
import type { DemandModelDescription, SeriesForecast } from '../ml/lstm';

export * from './demand-counts';

/**
 * Inputs of a feature row that describe the period the row predicts (row t describes period
 * t + 1: its place in the season and its value a year before); the others describe the
 * history up to t.
 */
const PREDICTED_PERIOD_INPUTS = (['season_sin', 'season_cos', 'last_year'] as const).map((name) => DEMAND_FEATURE_NAMES.indexOf(name));

/**
 * A demand graph as served: how it reads its inputs, and how many loans one unit of the
 * series it learnt stands for. The model works on log1p(units); a unit of several loans makes
 * that nearly linear at the low counts of a single book (see src/training/demand.ts).
 */
export interface DemandGraphSpec {
  description: DemandModelDescription;
  loansPerUnit: number;
}

/** Series in the units a graph reads: loans / loansPerUnit. */
export function inUnits(series: readonly DemandSeries[], loansPerUnit: number): DemandSeries[] {
  return series.map((s) => ({ values: Array.from(s.values, (v) => v / loansPerUnit), firstPhase: s.firstPhase }));
}

/** The farthest period ahead a model forecasts in one run (see `demandModelInputs`). */
export function maxHorizon(d: DemandModelDescription): number {
  return d.strategy === 'direct' ? d.outputs : d.seasonLength;
}

/** The demand model's input tensors for a batch of series, and which series they hold. */
export interface DemandModelInputs {
  /** Indices of the series the LSTM forecasts (the others fall back to a baseline), in batch order. */
  lstmSeries: number[];
  horizon: number;
  /** Rows of the run: horizon per LSTM series for a one-step model, one per series for a direct one. */
  rows: number;
  /** Outputs per row: 1 for a one-step model, the model's outputs for a direct one. */
  outputs: number;
  steps: number;
  /** [steps, rows, DEMAND_FEATURE_COUNT], the ONNX layout 0. */
  features: Float32Array;
  sequenceLens: Int32Array;
  /** [rows, outputs], log1p loans. */
  anchors: Float32Array;
}

/**
 * What the model reads to forecast `horizon` periods after each series, for ONE inference
 * run whatever the horizon.
 *
 * A direct model reads each series' last window once and answers every period ahead. A
 * one-step (recursive) model answers only the period after its window; rather than run it
 * once per period, feeding each forecast back, each period ahead k gets a row of its own:
 * the same last window, with the inputs that describe the predicted period (season position
 * and same period last year) and the anchor set for period T + k instead of T. So period k
 * is forecast from everything observed, as if it were next; the periods between add no
 * observation, only the model's own guesses, which recursion would feed back. On held-out
 * weeks of the simulated library this matches recursion's error (see src/training/demand.ts)
 * and keeps one run per request. It needs the same period a season earlier in the history,
 * so such a model forecasts at most one season ahead.
 *
 * Series shorter than the model's `minHistory` are not in the run; `demandForecasts` gives
 * them seasonal naive (their last value when shorter than a season), as DemandForecaster does.
 */
export function demandModelInputs({ description: d, loansPerUnit }: DemandGraphSpec, series: readonly DemandSeries[], horizon: number): DemandModelInputs {
  if (!Number.isInteger(horizon) || horizon < 1 || horizon > maxHorizon(d)) {
    throw new RangeError(`horizon must be an integer from 1 to ${maxHorizon(d)}, got ${horizon}`);
  }
  const S = d.seasonLength;
  const W = d.window;
  const F = DEMAND_FEATURE_COUNT;
  const direct = d.strategy === 'direct';
  const lstmSeries = series.flatMap((s, i) => (s.values.length >= d.minHistory ? [i] : []));
  const perSeries = direct ? 1 : horizon;
  const outputs = direct ? d.outputs : 1;
  const rows = lstmSeries.length * perSeries;
  const features = new Float32Array(W * rows * F);
  const anchors = new Float32Array(rows * outputs);
  lstmSeries.forEach((seriesIndex, b) => {
    const s = series[seriesIndex]!;
    const history = logLoans(Array.from(s.values, (v) => v / loansPerUnit));
    const t = history.length - 1;
    const level = seriesLevel(history, S);
    // Rows past the history (filled with 0) only lend their predicted-period inputs, which
    // look back a season and so read observed periods.
    const extended = direct ? history : [...history, ...new Array<number>(horizon).fill(0)];
    const featureRows = demandFeatures(extended, s.firstPhase, S, level, d.seasonInputs);
    for (let k = 0; k < perSeries; k++) {
      const row = b * perSeries + k;
      for (let step = 0; step < W; step++) {
        const source = (t - W + 1 + step) * F;
        features.set(featureRows.subarray(source, source + F), (step * rows + row) * F);
      }
      if (direct) {
        for (let o = 0; o < outputs; o++) anchors[row * outputs + o] = anchorAt(history, featureRows, t, o % S, S, d.anchor);
        continue;
      }
      const last = ((W - 1) * rows + row) * F;
      for (const j of PREDICTED_PERIOD_INPUTS) features[last + j] = featureRows[(t + k) * F + j]!;
      anchors[row] = anchorAt(history, featureRows, t, k, S, d.anchor);
    }
  });
  return { lstmSeries, horizon, rows, outputs, steps: W, features, sequenceLens: new Int32Array(rows).fill(W), anchors };
}

/** The inputs as onnxruntime tensors, by the model's input names. */
export function demandTensors(inputs: DemandModelInputs): Record<string, Tensor> {
  return {
    [DEMAND_TENSORS.features]: new Tensor('float32', inputs.features, [inputs.steps, inputs.rows, DEMAND_FEATURE_COUNT]),
    [DEMAND_TENSORS.sequenceLens]: new Tensor('int32', inputs.sequenceLens, [inputs.rows]),
    [DEMAND_TENSORS.seasonalAnchor]: new Tensor('float32', inputs.anchors, [inputs.rows, inputs.outputs]),
  };
}

/**
 * Forecasts of every series, in loans, from the run's `forecast` output [rows, outputs] (in
 * units): the LSTM's for the series in the run, seasonal naive (or the last value) for the
 * others. With `intervals` and a model that carries validation error quantiles, LSTM
 * forecasts get low/high, widened by sqrt(h / V) beyond the V periods validated, as
 * DemandForecaster does, and stretched to include the forecast when both quantiles fall on
 * one side of it.
 */
export function demandForecasts(
  { description: d, loansPerUnit }: DemandGraphSpec,
  series: readonly DemandSeries[],
  inputs: DemandModelInputs,
  forecast: ArrayLike<number> | undefined,
  { intervals = false }: { intervals?: boolean } = {},
): SeriesForecast[] {
  const { horizon, outputs } = inputs;
  const results: SeriesForecast[] = series.map((s) => {
    if (s.values.length === 0) throw new Error('cannot forecast a series with no history');
    return s.values.length >= d.minHistory
      ? { values: [], method: 'lstm' }
      : { values: seasonalNaive(s.values, d.seasonLength, horizon), method: s.values.length >= d.seasonLength ? 'seasonal-naive' : 'last-value' };
  });
  if (inputs.lstmSeries.length > 0 && (!forecast || forecast.length !== inputs.rows * outputs)) {
    throw new Error(`expected ${inputs.rows * outputs} forecast values from the run, got ${forecast?.length ?? 'none'}`);
  }
  inputs.lstmSeries.forEach((seriesIndex, b) => {
    const values = d.strategy === 'direct'
      ? Array.from({ length: horizon }, (_, k) => forecast![b * outputs + k]!)
      : Array.from({ length: horizon }, (_, k) => forecast![b * horizon + k]!);
    results[seriesIndex]!.values = values;
  });
  const q = d.intervals;
  const V = q?.low.length ?? 0;
  const band = (side: number[], h: number): number => (h < V ? side[h]! : side[V - 1]! * Math.sqrt((h + 1) / V));
  for (const r of results) {
    if (r.method !== 'lstm') continue;
    if (intervals && q && V > 0) {
      // Where nearly every held-out period had no loans, both quantiles of the log error can
      // fall below zero; the range still holds the forecast itself.
      r.low = r.values.map((v, h) => loansPerUnit * Math.min(v, Math.max(0, Math.expm1(Math.log1p(v) + band(q.low, h)))));
      r.high = r.values.map((v, h) => loansPerUnit * Math.max(v, Math.expm1(Math.log1p(v) + band(q.high, h))));
    }
    r.values = r.values.map((v) => v * loansPerUnit);
  }
  return results;
}
