/**
 * The demand model as an ONNX graph: the standard `LSTM` op, a MatMul/Add head, and the
 * step back from log ratio to loans.
 *
 * Tensor contract (every name is exported below, so callers never spell them):
 *   inputs
 *     features         float [seq, batch, F]   engineered inputs per period (layout 0),
 *                                              F = DEMAND_FEATURE_NAMES.length
 *     sequence_lens    int32 [batch]           periods of history per series (sequences
 *                                              are left-aligned, padding after them)
 *     seasonal_anchor  float [batch, K]        log1p(loans) of the same period one season
 *                                              earlier, for each of the K periods predicted
 *   outputs
 *     log_ratio        float [batch, K]        predicted log1p(next) - seasonal_anchor
 *     forecast         float [batch, K]        max(0, expm1(seasonal_anchor + log_ratio)):
 *                                              expected loans
 * K is 1 for a recursive model (one period ahead, run again per step) and the horizon for a
 * direct one.
 */
import { encodeModel, node, tensor, valueInfo } from '../onnx/builder';
import type { LstmParams } from './network';

export const DEMAND_TENSORS = {
  features: 'features',
  sequenceLens: 'sequence_lens',
  seasonalAnchor: 'seasonal_anchor',
  logRatio: 'log_ratio',
  forecast: 'forecast',
} as const;

export function encodeDemandOnnx(params: LstmParams, metadata: Record<string, string> = {}): Uint8Array {
  const { inputSize: F, hiddenSize: H, outputSize: K } = params;
  const T = DEMAND_TENSORS;
  // ONNX adds a second (recurrence) bias Rb; the trainer has one bias per gate, so Rb is zero.
  const bias = new Float64Array(8 * H);
  bias.set(params.b, 0);
  return encodeModel({
    metadata,
    graph: {
      name: 'demand_lstm',
      inputs: [
        valueInfo(T.features, 'float', ['seq', 'batch', F]),
        valueInfo(T.sequenceLens, 'int32', ['batch']),
        valueInfo(T.seasonalAnchor, 'float', ['batch', K]),
      ],
      outputs: [valueInfo(T.logRatio, 'float', ['batch', K]), valueInfo(T.forecast, 'float', ['batch', K])],
      initializers: [
        tensor('lstm_W', 'float', [1, 4 * H, F], params.W),
        tensor('lstm_R', 'float', [1, 4 * H, H], params.R),
        tensor('lstm_B', 'float', [1, 8 * H], bias),
        tensor('head_W', 'float', [H, K], params.headW),
        tensor('head_B', 'float', [K], params.headB),
        tensor('squeeze_axes', 'int64', [1], [0]),
        tensor('one', 'float', [1], [1]),
      ],
      nodes: [
        // Y (every step's hidden state) is not needed: only Y_h, the state after each
        // sequence's own last period, which honours sequence_lens.
        node('LSTM', [T.features, 'lstm_W', 'lstm_R', 'lstm_B', T.sequenceLens], ['', 'lstm_Y_h'], {
          hidden_size: H,
          direction: 'forward',
          layout: 0,
        }, { intAttributes: ['hidden_size', 'layout'] }),
        node('Squeeze', ['lstm_Y_h', 'squeeze_axes'], ['last_hidden']),
        node('MatMul', ['last_hidden', 'head_W'], ['head_product']),
        node('Add', ['head_product', 'head_B'], [T.logRatio]),
        node('Add', [T.logRatio, T.seasonalAnchor], ['log_forecast']),
        node('Exp', ['log_forecast'], ['forecast_plus_one']),
        node('Sub', ['forecast_plus_one', 'one'], ['forecast_raw']),
        node('Relu', ['forecast_raw'], [T.forecast]),
      ],
    },
  });
}
