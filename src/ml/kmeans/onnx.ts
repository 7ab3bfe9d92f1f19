/**
 * ONNX export of a segmentation model, standard operators only (default domain, opset 17).
 *
 * Contract: input `features` float [batch, d] holds raw feature values in the model's feature
 * order; outputs `segment` int64 [batch] (the segment id, an index into the model's segments)
 * and `distances` float [batch, k] (squared Euclidean distance to each centroid in standardised
 * units). The graph repeats the trainer: log(1 + x) on the log1p features, (x - mean) / std
 * times the feature's weight (one division by std / weight), then ||z||^2 - 2 z.c + ||c||^2 and ArgMin, which picks the lower id on a tie as `assign` does.
 *
 * The graph computes in double between the float input and the float `distances`: in float32
 * the expansion cancels badly for a member close to a centroid far from the mean (both squared
 * norms large, their difference small), which put distances 6e-4 relative off the trainer's on
 * untransformed features and can flip a near-tie.
 */
import { onnx } from 'onnx-proto';
import { type ModelSpec, encodeModel, node, tensor, valueInfo } from '../onnx/builder';
import type { SegmentationModel } from './model';
import { featureWeight } from './standardise';

export const SEGMENTATION_INPUT = 'features';
export const SEGMENTATION_OUTPUTS = { segment: 'segment', distances: 'distances' } as const;

const DOUBLE = onnx.TensorProto.DataType.DOUBLE;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

/** A double initializer; the shared builder's `tensor()` has no double type (yet). */
function doubleTensor(name: string, dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (values.length !== expected) throw new Error(`tensor ${name}: dims [${dims.join(', ')}] need ${expected} values, got ${values.length}`);
  return { name, dims, dataType: DOUBLE, rawData: new Uint8Array(Float64Array.from(values).buffer) };
}

export function segmentationGraph(model: SegmentationModel, metadata: Record<string, string> = {}): ModelSpec {
  const { features, means, stds } = model.standardiser;
  const d = features.length;
  const k = model.k;
  const centroidsT = new Float64Array(d * k);
  const centroidNorms = new Float64Array(k);
  model.segments.forEach((s, c) => {
    s.centroid.forEach((v, j) => {
      centroidsT[j * k + c] = v;
      centroidNorms[c]! += v * v;
    });
  });

  const initializers = [
    doubleTensor('feature_mean', [1, d], means),
    doubleTensor('feature_std', [1, d], stds.map((std, j) => std / featureWeight(features[j]!))),
    doubleTensor('centroids_t', [d, k], centroidsT),
    doubleTensor('centroid_sq_norm', [1, k], centroidNorms),
    doubleTensor('minus_two', [], [-2]),
    doubleTensor('zero', [], [0]),
    tensor('feature_axis', 'int64', [1], [1]),
  ];
  const nodes = [node('Cast', [SEGMENTATION_INPUT], ['features_double'], { to: DOUBLE }, { intAttributes: ['to'] })];
  let raw = 'features_double';
  const logMask = features.map((f) => (f.log1p ? 1 : 0));
  if (logMask.some((v) => v === 1)) {
    // log1p on some columns without Gather/Concat: masked columns feed Log(0 + 1) = 0, kept
    // ones pass through a multiply by 0, so every column stays exact and no Log sees x <= -1.
    initializers.push(
      doubleTensor('log1p_mask', [1, d], logMask),
      doubleTensor('keep_mask', [1, d], logMask.map((v) => 1 - v)),
      doubleTensor('one', [], [1]),
    );
    nodes.push(
      node('Mul', [raw, 'log1p_mask'], ['log_input']),
      node('Add', ['log_input', 'one'], ['log_input_plus_one']),
      node('Log', ['log_input_plus_one'], ['logged']),
      node('Mul', [raw, 'keep_mask'], ['kept']),
      node('Add', ['logged', 'kept'], ['transformed']),
    );
    raw = 'transformed';
  }
  nodes.push(
    node('Sub', [raw, 'feature_mean'], ['centred']),
    node('Div', ['centred', 'feature_std'], ['standardised']),
    node('Mul', ['standardised', 'standardised'], ['squared']),
    node('ReduceSum', ['squared', 'feature_axis'], ['row_sq_norm'], { keepdims: 1 }, { intAttributes: ['keepdims'] }),
    node('MatMul', ['standardised', 'centroids_t'], ['cross']),
    node('Mul', ['cross', 'minus_two'], ['minus_two_cross']),
    node('Add', ['row_sq_norm', 'minus_two_cross'], ['partial_distance']),
    node('Add', ['partial_distance', 'centroid_sq_norm'], ['expanded_distance']),
    // The expansion can dip just below 0 for a row on a centroid; a distance cannot.
    node('Max', ['expanded_distance', 'zero'], ['distances_double']),
    node('Cast', ['distances_double'], [SEGMENTATION_OUTPUTS.distances], { to: FLOAT }, { intAttributes: ['to'] }),
    node('ArgMin', ['expanded_distance'], [SEGMENTATION_OUTPUTS.segment], { axis: 1, keepdims: 0 }, { intAttributes: ['axis', 'keepdims'] }),
  );

  return {
    graph: {
      name: 'shelfmark_segmentation',
      inputs: [valueInfo(SEGMENTATION_INPUT, 'float', ['batch', d])],
      outputs: [
        valueInfo(SEGMENTATION_OUTPUTS.segment, 'int64', ['batch']),
        valueInfo(SEGMENTATION_OUTPUTS.distances, 'float', ['batch', k]),
      ],
      initializers,
      nodes,
    },
    metadata: {
      // The file alone tells a server what the ids and columns mean.
      'shelfmark.feature_names': JSON.stringify(features.map((f) => f.name)),
      'shelfmark.segment_names': JSON.stringify(model.segments.map((s) => s.name)),
      ...metadata,
    },
  };
}

/** The bytes of model.onnx; identical for the same model and metadata. */
export function exportSegmentationOnnx(model: SegmentationModel, metadata: Record<string, string> = {}): Uint8Array {
  return encodeModel(segmentationGraph(model, metadata));
}
