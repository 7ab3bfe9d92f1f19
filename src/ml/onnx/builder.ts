/**
 * A small builder for ONNX models, on the generated protobuf classes of `onnx-proto`.
 *
 * Contract: every trainer in Shelfmark describes its exported graph with `graph()`, `node()`,
 * `tensor()` and the `*Input`/`*Output` helpers, then `encodeModel()` turns it into the bytes
 * of a model.onnx that onnxruntime-node loads. Opsets are explicit: the default domain at 17
 * and `ai.onnx.ml` at 3, which onnxruntime 1.30 supports.
 */
import { onnx } from 'onnx-proto';

export const DEFAULT_OPSET = 17;
export const ML_OPSET = 3;
export const ML_DOMAIN = 'ai.onnx.ml';

export type AttributeValue = number | string | number[] | string[] | onnx.ITensorProto;
/** Attributes whose numbers must be written as integers even when the array holds whole floats. */
export interface NodeOptions {
  name?: string;
  domain?: string;
  /** Attribute names to encode as INT/INTS rather than FLOAT/FLOATS. */
  intAttributes?: string[];
}

export type ElementType = 'float' | 'int64' | 'int32' | 'bool' | 'string';

const ELEMENT_TYPES: Record<ElementType, onnx.TensorProto.DataType> = {
  float: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  string: onnx.TensorProto.DataType.STRING,
};

/** A dimension is a fixed size or a symbolic name such as 'batch'. */
export type Dim = number | string;

export function valueInfo(name: string, elementType: ElementType, shape: Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPES[elementType],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** A constant tensor (an initializer or a Constant node's value). */
export function tensor(name: string, elementType: 'float' | 'int64' | 'int32', dims: number[], values: ArrayLike<number>): onnx.ITensorProto {
  const expected = dims.reduce((a, b) => a * b, 1);
  if (values.length !== expected) {
    throw new Error(`tensor ${name}: dims [${dims.join(', ')}] need ${expected} values, got ${values.length}`);
  }
  const t: onnx.ITensorProto = { name, dims, dataType: ELEMENT_TYPES[elementType] };
  if (elementType === 'float') t.rawData = new Uint8Array(Float32Array.from(values).buffer);
  else if (elementType === 'int32') t.rawData = new Uint8Array(Int32Array.from(values).buffer);
  else t.rawData = new Uint8Array(BigInt64Array.from(Array.from(values, (v) => BigInt(Math.round(v)))).buffer);
  return t;
}

function attribute(name: string, value: AttributeValue, asInt: boolean): onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return asInt ? { name, type: A.INT, i: value } : { name, type: A.FLOAT, f: value };
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return { name, type: A.STRINGS, strings: (value as string[]).map((s) => new TextEncoder().encode(s)) };
    }
    return asInt ? { name, type: A.INTS, ints: value as number[] } : { name, type: A.FLOATS, floats: value as number[] };
  }
  return { name, type: A.TENSOR, t: value };
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Record<string, AttributeValue> = {},
  options: NodeOptions = {},
): onnx.INodeProto {
  const ints = new Set(options.intAttributes ?? []);
  return {
    opType,
    input: inputs,
    output: outputs,
    name: options.name ?? `${opType}_${outputs[0]}`,
    domain: options.domain ?? '',
    attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v, ints.has(k))),
  };
}

export interface GraphSpec {
  name: string;
  nodes: onnx.INodeProto[];
  inputs: onnx.IValueInfoProto[];
  outputs: onnx.IValueInfoProto[];
  initializers?: onnx.ITensorProto[];
}

export interface ModelSpec {
  graph: GraphSpec;
  /** Free text kept in the model's metadata_props, e.g. the Shelfmark model name and version. */
  metadata?: Record<string, string>;
  usesMlDomain?: boolean;
}

/** Serialise a model to the bytes of a .onnx file. Deterministic for the same spec. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const opsetImport: onnx.IOperatorSetIdProto[] = [{ domain: '', version: DEFAULT_OPSET }];
  if (spec.usesMlDomain ?? spec.graph.nodes.some((n) => n.domain === ML_DOMAIN)) {
    opsetImport.push({ domain: ML_DOMAIN, version: ML_OPSET });
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'shelfmark',
    producerVersion: '1',
    opsetImport,
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.graph.name,
      node: spec.graph.nodes,
      input: spec.graph.inputs,
      output: spec.graph.outputs,
      initializer: spec.graph.initializers ?? [],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
