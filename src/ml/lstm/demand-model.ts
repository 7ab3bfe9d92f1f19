/**
 * The demand model: an LSTM over engineered per-period features (../forecasting/features.ts)
 * that predicts the log ratio of a coming period's loans to an anchor (by default the same
 * period one season earlier), trained on many series at once, exported to ONNX and
 * forecast through onnxruntime.
 *
 * Contract:
 * - `trainDemandModel(series, { seasonLength })` fits one model to every series long
 *   enough to learn from (`minTrainingHistory`); seasonLength is 12 for monthly
 *   collections, 52 for a book's weekly loans. Deterministic for a seed.
 * - `encodeDemandModel(model)` gives the bytes of model.onnx. The file is self-describing
 *   (season length, strategy, window, anchor, interval quantiles travel in its
 *   metadata_props), so `DemandForecaster.create(bytes)` needs nothing else. Tensor names
 *   and shapes: ./export.ts (`DEMAND_TENSORS`).
 * - `forecaster.forecast(series, horizon)` returns expected loans for the `horizon`
 *   periods after each series; every LSTM value comes from an ONNX run. A series shorter
 *   than `minHistory` falls back to seasonal naive (its last value when under one season)
 *   and says so in `method`. With `{ intervals: true }` and a model trained with
 *   `validationPeriods`, LSTM points also get `low`/`high` from held-out error quantiles.
 *
 * The LSTM reads fixed windows of `window` complete feature rows (see features.ts) both in
 * training and at forecast time, so the window it forecasts from looks like the ones it
 * learnt from. Multi-period forecasts are recursive by default (predict one period, append
 * it, predict the next), which works for any horizon from any history; 'direct' trains one
 * output per period ahead and needs seasonLength + window + outputs periods before it has a
 * single target for its last output.
 */
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { openServingSession } from '../onnx/session';
import { onnx } from 'onnx-proto';
import { Random } from '../../util/random';
import { seasonalNaive } from '../forecasting/baselines';
import {
  DEMAND_FEATURE_COUNT,
  DEMAND_FEATURE_NAMES,
  demandFeatures,
  demandTargets,
  firstCompleteRow,
  forecastAnchors,
  logLoans,
  seriesLevel,
} from '../forecasting/features';
import type { AnchorKind } from '../forecasting/features';
import type { DemandSeries } from '../forecasting/series';
import { Adam } from './adam';
import { DEMAND_TENSORS, encodeDemandOnnx } from './export';
import { initLstm, lstmLossAndGradients, lstmPredictLast, zeroGradients } from './network';
import type { LstmParams, LstmSequence } from './network';

export type ForecastStrategy = 'recursive' | 'direct';
/** How much each series counts in the training loss, by its mean loans per period. */
export type SeriesWeighting = 'equal' | 'sqrt-volume' | 'volume';

export interface DemandModelOptions {
  /** Periods in a season: 12 for months, 52 for weeks. */
  seasonLength: number;
  strategy?: ForecastStrategy;
  /** Periods a 'direct' model predicts at once (1..seasonLength, default seasonLength); 1 when recursive. */
  outputs?: number;
  /** What the LSTM's output is a log ratio to (default 'seasonal'); see AnchorKind. */
  anchor?: AnchorKind;
  /** Complete feature rows the LSTM reads before each prediction (default a quarter season, at least 2). */
  window?: number;
  /**
   * Whether the inputs that carry the season position (level, last_year, season_sin/cos)
   * are given to the network. Default false: on monthly library data with 18 months, and
   * on synthetic series with four years, they made forecasts worse (the network fits the
   * season positions it has targets for and extrapolates to the others), while the
   * season-free inputs (year_over_year, trend) carry what generalises. 'auto' turns them
   * on when the training targets span at least one whole season.
   */
  seasonInputs?: boolean | 'auto';
  hiddenSize?: number;
  /**
   * Passes over the training windows. Default 'auto': 150, fewer when there are many
   * windows, so that training reads at most TRAINING_WINDOW_BUDGET windows in all and stays
   * well under a minute as histories grow.
   */
  epochs?: number | 'auto';
  /** Training windows per gradient step. */
  batchSize?: number;
  learningRate?: number;
  weightDecay?: number;
  clipNorm?: number;
  seriesWeighting?: SeriesWeighting;
  /**
   * Periods held out at the end of each series to measure the model's own errors, from
   * which forecast intervals are drawn; the model is then refitted on everything. 0 skips it.
   */
  validationPeriods?: number;
  seed?: number;
  /** Called after every epoch, e.g. to print progress. */
  onEpoch?: (epoch: number, epochs: number, loss: number) => void;
}

export type ResolvedDemandOptions = Required<Omit<DemandModelOptions, 'onEpoch'>>;

/** Quantiles of held-out log errors per period ahead (index 0 = one period ahead). */
export interface IntervalQuantiles {
  /** Share of held-out errors between low and high, e.g. 0.8. */
  coverage: number;
  low: number[];
  high: number[];
}

/** What forecasting needs to know about a model; travels in model.onnx's metadata. */
export interface DemandModelDescription {
  seasonLength: number;
  strategy: ForecastStrategy;
  outputs: number;
  anchor: AnchorKind;
  window: number;
  seasonInputs: boolean;
  /** Shortest history (periods) the LSTM forecasts; shorter series fall back to baselines. */
  minHistory: number;
  intervals?: IntervalQuantiles;
}

export interface DemandModel {
  params: LstmParams;
  /** The options trained with, `seasonInputs` and `epochs` resolved to what was used. */
  options: ResolvedDemandOptions & { seasonInputs: boolean; epochs: number };
  description: DemandModelDescription;
  trainedSeries: number;
  trainingLoss: number;
}

export function resolveDemandOptions(options: DemandModelOptions): ResolvedDemandOptions {
  const strategy = options.strategy ?? 'recursive';
  const o: ResolvedDemandOptions = {
    seasonLength: options.seasonLength,
    strategy,
    outputs: strategy === 'recursive' ? 1 : (options.outputs ?? options.seasonLength),
    anchor: options.anchor ?? 'seasonal',
    window: options.window ?? Math.max(2, Math.round(options.seasonLength / 4)),
    seasonInputs: options.seasonInputs ?? false,
    hiddenSize: options.hiddenSize ?? 16,
    epochs: options.epochs ?? 'auto',
    batchSize: options.batchSize ?? 16,
    learningRate: options.learningRate ?? 0.005,
    weightDecay: options.weightDecay ?? 1e-4,
    clipNorm: options.clipNorm ?? 1,
    seriesWeighting: options.seriesWeighting ?? 'sqrt-volume',
    validationPeriods: options.validationPeriods ?? 0,
    seed: options.seed ?? 1,
  };
  if (!Number.isInteger(o.seasonLength) || o.seasonLength < 2) {
    throw new Error(`seasonLength must be an integer of at least 2, got ${options.seasonLength}`);
  }
  if (strategy === 'recursive' && options.outputs !== undefined && options.outputs !== 1) {
    throw new Error(`a recursive model predicts 1 period at a time, got outputs ${options.outputs}`);
  }
  if (!Number.isInteger(o.outputs) || o.outputs < 1 || o.outputs > o.seasonLength) {
    throw new Error(`outputs must be an integer from 1 to seasonLength (${o.seasonLength}), got ${o.outputs}`);
  }
  if (!Number.isInteger(o.window) || o.window < 1) throw new Error(`window must be a positive integer, got ${o.window}`);
  return o;
}

/** Shortest history the LSTM forecasts from: one window of complete rows. */
function minForecastHistory(o: ResolvedDemandOptions): number {
  return firstCompleteRow(o.seasonLength) + o.window;
}

/** Periods a series needs to be learnt from: one complete window and one period after it. */
export function minTrainingHistory(options: DemandModelOptions): number {
  return minForecastHistory(resolveDemandOptions(options)) + 1;
}

/**
 * The strategy to train for a known horizon: direct when the longest history gives targets
 * for the farthest period ahead at every position of the season, recursive otherwise.
 * Direct won where it could be trained (synthetic monthly series with 4 years of history,
 * 12 months ahead: summed absolute error 0.382 of seasonal naive's against 0.413 for
 * recursive); on shorter histories its far outputs would have few or no targets at all.
 */
export function strategyFor(longestHistory: number, horizon: number, options: DemandModelOptions): Pick<DemandModelOptions, 'strategy' | 'outputs'> {
  const o = resolveDemandOptions({ ...options, strategy: 'recursive', outputs: undefined });
  const needed = minForecastHistory(o) + horizon + o.seasonLength - 1;
  return horizon <= o.seasonLength && longestHistory >= needed ? { strategy: 'direct', outputs: horizon } : { strategy: 'recursive' };
}

function seriesWeight(values: ArrayLike<number>, seasonLength: number, weighting: SeriesWeighting): number {
  const n = Math.min(values.length, seasonLength);
  let sum = 0;
  for (let t = values.length - n; t < values.length; t++) sum += Math.max(0, values[t]!);
  const volume = sum / n;
  switch (weighting) {
    case 'equal':
      return 1;
    case 'sqrt-volume':
      return Math.sqrt(volume + 1);
    case 'volume':
      return volume + 1;
    default: {
      const unhandled: never = weighting;
      throw new Error(`unknown series weighting ${String(unhandled)}`);
    }
  }
}

/** One training window per period that has a target after a full window of complete rows. */
function trainingWindows(series: DemandSeries, o: ResolvedDemandOptions, seasonInputs: boolean): LstmSequence[] {
  const logValues = logLoans(series.values);
  const rows = demandFeatures(logValues, series.firstPhase, o.seasonLength, seriesLevel(logValues, o.seasonLength), seasonInputs);
  const targets = demandTargets(logValues, rows, o.seasonLength, o.outputs, o.anchor);
  const weight = seriesWeight(series.values, o.seasonLength, o.seriesWeighting);
  const F = DEMAND_FEATURE_COUNT;
  const K = o.outputs;
  const windows: LstmSequence[] = [];
  for (let t = firstCompleteRow(o.seasonLength) + o.window - 1; t < logValues.length; t++) {
    const last = targets.subarray(t * K, (t + 1) * K);
    if (last.every(Number.isNaN)) continue;
    // The loss reads only the window's last step, the one a forecast reads too.
    const windowTargets = new Float64Array(o.window * K).fill(NaN);
    windowTargets.set(last, (o.window - 1) * K);
    windows.push({ steps: o.window, inputs: rows.slice((t + 1 - o.window) * F, (t + 1) * F), targets: windowTargets, weight });
  }
  return windows;
}

interface FittedParams {
  params: LstmParams;
  loss: number;
  trained: number;
  seasonInputs: boolean;
  epochs: number;
}

const MAX_EPOCHS = 150;
/** Training windows read in all (epochs x windows) by default: about 10 s of CPU here. */
const TRAINING_WINDOW_BUDGET = 200_000;

function fitParams(series: DemandSeries[], o: ResolvedDemandOptions, onEpoch?: DemandModelOptions['onEpoch']): FittedParams {
  const minHistory = minForecastHistory(o) + 1;
  const usable = series.filter((s) => s.values.length >= minHistory);
  if (usable.length === 0) throw new Error(`no series has the ${minHistory} periods of history the demand model needs to learn from`);
  // A series of length T has targets for T - minHistory + 1 consecutive season positions.
  const seasonInputs = o.seasonInputs === 'auto' ? usable.some((s) => s.values.length - minHistory + 1 >= o.seasonLength) : o.seasonInputs;
  const windows = usable.flatMap((s) => trainingWindows(s, o, seasonInputs));
  // Weights are relative: scaled to mean 1, the learning rate means the same on any data.
  const meanWeight = windows.reduce((a, w) => a + w.weight, 0) / windows.length;
  for (const w of windows) w.weight /= meanWeight;
  const random = new Random(o.seed);
  const params = initLstm({ inputSize: DEMAND_FEATURE_COUNT, hiddenSize: o.hiddenSize, outputSize: o.outputs }, random);
  const adam = new Adam(params, { learningRate: o.learningRate, weightDecay: o.weightDecay, clipNorm: o.clipNorm });
  const order = windows.map((_, i) => i);
  const epochs = o.epochs === 'auto' ? Math.max(10, Math.min(MAX_EPOCHS, Math.round(TRAINING_WINDOW_BUDGET / windows.length))) : o.epochs;
  let loss = NaN;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    random.shuffle(order);
    for (let start = 0; start < order.length; start += o.batchSize) {
      const grads = zeroGradients(params);
      lstmLossAndGradients(params, order.slice(start, start + o.batchSize).map((i) => windows[i]!), grads);
      adam.update(params, grads);
    }
    loss = lstmLossAndGradients(params, windows);
    onEpoch?.(epoch, epochs, loss);
  }
  return { params, loss, trained: usable.length, seasonInputs, epochs };
}

function describeModel(o: ResolvedDemandOptions, seasonInputs: boolean, intervals?: IntervalQuantiles): DemandModelDescription {
  return {
    seasonLength: o.seasonLength,
    strategy: o.strategy,
    outputs: o.outputs,
    anchor: o.anchor,
    window: o.window,
    seasonInputs,
    minHistory: minForecastHistory(o),
    intervals,
  };
}

/** Fits the demand model to `series` (deterministic for a seed). */
export async function trainDemandModel(series: DemandSeries[], options: DemandModelOptions): Promise<DemandModel> {
  const o = resolveDemandOptions(options);
  const intervals = o.validationPeriods > 0 ? await validationIntervals(series, o) : undefined;
  const { params, loss, trained, seasonInputs, epochs } = fitParams(series, o, options.onEpoch);
  return {
    params,
    options: { ...o, seasonInputs, epochs },
    description: describeModel(o, seasonInputs, intervals),
    trainedSeries: trained,
    trainingLoss: loss,
  };
}

/** Share of held-out errors an interval covers. */
const INTERVAL_COVERAGE = 0.8;

/** Empirical quantile of sorted values (linear interpolation). */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Holds out the last `validationPeriods` of every series, fits on the rest, forecasts the
 * held-out periods with the trainer's forward pass and keeps the quantiles of the log
 * errors per period ahead: an honest band, since the model never saw those periods.
 */
async function validationIntervals(series: DemandSeries[], o: ResolvedDemandOptions): Promise<IntervalQuantiles> {
  const V = o.strategy === 'direct' ? Math.min(o.validationPeriods, o.outputs) : o.validationPeriods;
  const heldOut = series.filter((s) => s.values.length - V >= minForecastHistory(o) + 1);
  const truncated = heldOut.map((s) => ({ values: Array.from(s.values).slice(0, s.values.length - V), firstPhase: s.firstPhase }));
  const { params, seasonInputs } = fitParams(truncated, o);
  const forecasts = await forecastWith(describeModel(o, seasonInputs), truncated, V, trainerPredictor(params));
  const errors: number[][] = Array.from({ length: V }, () => []);
  heldOut.forEach((s, i) => {
    for (let h = 0; h < V; h++) {
      const actual = s.values[truncated[i]!.values.length + h]!;
      errors[h]!.push(Math.log1p(Math.max(0, actual)) - Math.log1p(forecasts[i]!.values[h]!));
    }
  });
  const sorted = errors.map((e) => e.sort((a, b) => a - b));
  return {
    coverage: INTERVAL_COVERAGE,
    low: sorted.map((e) => quantile(e, (1 - INTERVAL_COVERAGE) / 2)),
    high: sorted.map((e) => quantile(e, (1 + INTERVAL_COVERAGE) / 2)),
  };
}

/** Metadata keys of model.onnx. */
const META_MODEL = 'shelfmark.model';
const META_DESCRIPTION = 'shelfmark.demand.description';
const META_FEATURES = 'shelfmark.demand.feature_names';

export function encodeDemandModel(model: DemandModel, extraMetadata: Record<string, string> = {}): Uint8Array {
  return encodeDemandOnnx(model.params, {
    ...extraMetadata,
    [META_MODEL]: 'demand',
    [META_FEATURES]: DEMAND_FEATURE_NAMES.join(','),
    [META_DESCRIPTION]: JSON.stringify(model.description),
  });
}

function readDescription(bytes: Uint8Array): DemandModelDescription {
  const props = new Map(onnx.ModelProto.decode(bytes).metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
  if (props.get(META_MODEL) !== 'demand') throw new Error(`not a Shelfmark demand model: its metadata has no ${META_MODEL}=demand`);
  const features = props.get(META_FEATURES);
  if (features !== DEMAND_FEATURE_NAMES.join(',')) {
    throw new Error(`demand model features [${features}] differ from this code's [${DEMAND_FEATURE_NAMES.join(',')}]`);
  }
  const d = JSON.parse(props.get(META_DESCRIPTION) ?? 'null') as DemandModelDescription | null;
  if (!d || (d.strategy !== 'recursive' && d.strategy !== 'direct') || (d.anchor !== 'seasonal' && d.anchor !== 'trend-seasonal')) {
    throw new Error(`demand model description is missing or unknown: ${props.get(META_DESCRIPTION)}`);
  }
  return d;
}

export type ForecastMethod = 'lstm' | 'seasonal-naive' | 'last-value';

export interface SeriesForecast {
  /** Expected loans for each period ahead. */
  values: number[];
  method: ForecastMethod;
  /** Present when asked for and the model carries interval quantiles. */
  low?: number[];
  high?: number[];
}

/** One batched LSTM run: forecast loans [batch x outputs] for the period(s) after each window. */
type Predictor = (features: Float32Array, sequenceLens: Int32Array, anchors: Float32Array, steps: number) => Promise<Float32Array>;

/** The trainer's own forward pass, same inputs and outputs as the ONNX graph. */
function trainerPredictor(params: LstmParams): Predictor {
  return async (features, sequenceLens, anchors) => {
    const B = sequenceLens.length;
    const F = params.inputSize;
    const K = params.outputSize;
    const out = new Float32Array(B * K);
    for (let b = 0; b < B; b++) {
      const steps = sequenceLens[b]!;
      const inputs = new Float64Array(steps * F);
      for (let t = 0; t < steps; t++) for (let j = 0; j < F; j++) inputs[t * F + j] = features[(t * B + b) * F + j]!;
      const ratio = lstmPredictLast(params, inputs, steps);
      for (let k = 0; k < K; k++) out[b * K + k] = Math.max(0, Math.expm1(anchors[b * K + k]! + ratio[k]!));
    }
    return out;
  };
}

function onnxPredictor(session: InferenceSession, outputs: number): Predictor {
  return async (features, sequenceLens, anchors, steps) => {
    const B = sequenceLens.length;
    const result = await session.run({
      [DEMAND_TENSORS.features]: new Tensor('float32', features, [steps, B, DEMAND_FEATURE_COUNT]),
      [DEMAND_TENSORS.sequenceLens]: new Tensor('int32', sequenceLens, [B]),
      [DEMAND_TENSORS.seasonalAnchor]: new Tensor('float32', anchors, [B, outputs]),
    });
    return result[DEMAND_TENSORS.forecast]!.data as Float32Array;
  };
}

/**
 * Forecasts `horizon` periods for every series: the LSTM for those with enough history (one
 * batched run per period ahead when recursive, one in all when direct), a baseline for the rest.
 */
async function forecastWith(d: DemandModelDescription, series: DemandSeries[], horizon: number, predict: Predictor): Promise<SeriesForecast[]> {
  if (!Number.isInteger(horizon) || horizon < 1) throw new Error(`horizon must be a positive integer, got ${horizon}`);
  if (d.strategy === 'direct' && horizon > d.outputs) {
    throw new Error(`this direct model forecasts at most ${d.outputs} periods ahead, asked for ${horizon}`);
  }
  const results: SeriesForecast[] = series.map((s) => {
    if (s.values.length === 0) throw new Error('cannot forecast a series with no history');
    if (s.values.length >= d.minHistory) return { values: [], method: 'lstm' };
    return {
      values: seasonalNaive(s.values, d.seasonLength, horizon),
      method: s.values.length >= d.seasonLength ? 'seasonal-naive' : 'last-value',
    };
  });
  const lstmIndex = results.flatMap((r, i) => (r.method === 'lstm' ? [i] : []));
  if (lstmIndex.length === 0) return results;
  const histories = lstmIndex.map((i) => logLoans(series[i]!.values));
  // The level stays the observed history's while forecasts are appended.
  const levels = histories.map((h) => seriesLevel(h, d.seasonLength));
  const firstPhases = lstmIndex.map((i) => series[i]!.firstPhase);
  const rounds = d.strategy === 'recursive' ? horizon : 1;
  for (let round = 0; round < rounds; round++) {
    const predicted = await predictBatch(d, firstPhases, histories, levels, predict);
    lstmIndex.forEach((seriesIndex, b) => {
      const ahead = Array.from(predicted.subarray(b * d.outputs, (b + 1) * d.outputs));
      if (d.strategy === 'recursive') {
        results[seriesIndex]!.values.push(ahead[0]!);
        histories[b]!.push(Math.log1p(ahead[0]!));
      } else {
        results[seriesIndex]!.values = ahead.slice(0, horizon);
      }
    });
  }
  return results;
}

/** The last window of every history as the ONNX inputs, run through `predict`. */
function predictBatch(d: DemandModelDescription, firstPhases: number[], histories: number[][], levels: number[], predict: Predictor): Promise<Float32Array> {
  const B = histories.length;
  const F = DEMAND_FEATURE_COUNT;
  const W = d.window;
  // layout 0: [seq, batch, feature]; every window has the same length, so no padding.
  const features = new Float32Array(W * B * F);
  const anchors = new Float32Array(B * d.outputs);
  histories.forEach((h, b) => {
    const rows = demandFeatures(h, firstPhases[b]!, d.seasonLength, levels[b]!, d.seasonInputs);
    const start = h.length - W;
    for (let t = 0; t < W; t++) for (let j = 0; j < F; j++) features[(t * B + b) * F + j] = rows[(start + t) * F + j]!;
    anchors.set(forecastAnchors(h, rows, d.seasonLength, d.outputs, d.anchor), b * d.outputs);
  });
  return predict(features, new Int32Array(B).fill(W), anchors, W);
}

/** Runs an exported demand model. Create once, forecast many times. */
export class DemandForecaster {
  private constructor(
    private readonly session: InferenceSession,
    readonly description: DemandModelDescription,
  ) {}

  static async create(modelOnnx: Uint8Array): Promise<DemandForecaster> {
    const description = readDescription(modelOnnx);
    const session = await openServingSession(modelOnnx);
    const expected = [DEMAND_TENSORS.features, DEMAND_TENSORS.sequenceLens, DEMAND_TENSORS.seasonalAnchor];
    if (session.inputNames.join(',') !== expected.join(',')) {
      throw new Error(`demand model inputs [${session.inputNames.join(', ')}] are not the expected [${expected.join(', ')}]`);
    }
    return new DemandForecaster(session, description);
  }

  /**
   * Expected loans for the `horizon` periods after each series' history. With
   * `intervals: true` and a model trained with validationPeriods V, LSTM forecasts also get
   * `low`/`high`; beyond V periods ahead the last band is widened by sqrt(h / V).
   */
  async forecast(series: DemandSeries[], horizon: number, { intervals = false }: { intervals?: boolean } = {}): Promise<SeriesForecast[]> {
    const d = this.description;
    const results = await forecastWith(d, series, horizon, onnxPredictor(this.session, d.outputs));
    const q = d.intervals;
    if (intervals && q && q.low.length > 0) {
      const V = q.low.length;
      const band = (side: number[], h: number): number => (h < V ? side[h]! : side[V - 1]! * Math.sqrt((h + 1) / V));
      for (const r of results) {
        if (r.method !== 'lstm') continue;
        r.low = r.values.map((v, h) => Math.max(0, Math.expm1(Math.log1p(v) + band(q.low, h))));
        r.high = r.values.map((v, h) => Math.max(0, Math.expm1(Math.log1p(v) + band(q.high, h))));
      }
    }
    return results;
  }
}

/** Forecasts with the trainer's forward pass instead of ONNX: for parity checks. */
export function forecastWithTrainer(model: DemandModel, series: DemandSeries[], horizon: number): Promise<SeriesForecast[]> {
  return forecastWith(model.description, series, horizon, trainerPredictor(model.params));
}
