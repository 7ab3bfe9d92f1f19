/**
 * Parity: the rows a trainer scored in TypeScript, run again through onnxruntime-node. The
 * exported graph is what serves, so a model whose ONNX answers drift from the trained model's
 * must not reach production. Trainers may call `checkParity` before registering to see the
 * result; the registry runs it at registration and again at every validation.
 */
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { openServingSession } from '../ml/onnx/session';
import type { ParityFile, ParityInput, ParityResult, ParityValue } from './types';

export interface ParityOutcome {
  result: ParityResult;
  /** Empty when parity holds; otherwise one line per problem. */
  problems: string[];
}

function toTensor(input: ParityInput): Tensor {
  const size = input.dims.reduce((a, b) => a * b, 1);
  if (input.data.length !== size) {
    throw new Error(`input ${input.name}: dims [${input.dims.join(', ')}] need ${size} values, got ${input.data.length}`);
  }
  const numbers = (): number[] => input.data.map((v) => Number(v));
  switch (input.type) {
    case 'float32':
      return new Tensor('float32', Float32Array.from(numbers()), input.dims);
    case 'float64':
      return new Tensor('float64', Float64Array.from(numbers()), input.dims);
    case 'int32':
      return new Tensor('int32', Int32Array.from(numbers()), input.dims);
    case 'int64':
      return new Tensor('int64', BigInt64Array.from(numbers(), (v) => BigInt(Math.round(v))), input.dims);
    case 'bool':
      return new Tensor('bool', Uint8Array.from(numbers()), input.dims);
    case 'uint8':
      return new Tensor('uint8', Uint8Array.from(numbers()), input.dims);
    case 'int8':
      return new Tensor('int8', Int8Array.from(numbers()), input.dims);
    case 'string':
      return new Tensor('string', input.data.map(String), input.dims);
    default: {
      const unhandled: never = input.type;
      throw new Error(`input ${input.name}: unsupported element type ${String(unhandled)}`);
    }
  }
}

function outputValues(tensor: Tensor): ParityValue[] {
  const data = tensor.data as ArrayLike<number | bigint | string> | readonly string[];
  return Array.from(data as ArrayLike<number | bigint | string>, (v) => (typeof v === 'bigint' ? Number(v) : v));
}

const FLOATING = new Set(['float32', 'float64', 'float16']);

function rowsOf(parity: ParityFile): number {
  return parity.inputs[0]?.dims[0] ?? 0;
}

export async function checkParity(model: InferenceSession | Uint8Array, parity: ParityFile): Promise<ParityOutcome> {
  const problems: string[] = [];
  const rows = rowsOf(parity);
  const failed = (problem: string): ParityOutcome => ({
    result: { maxAbsError: null, tolerance: parity.tolerance, passed: false, rows },
    problems: [problem],
  });
  if (parity.inputs.length === 0 || parity.expected.length === 0) return failed('parity.json has no input rows or no expected outputs');
  if (rows === 0) return failed('parity.json has zero rows');

  const session = model instanceof Uint8Array ? await openServingSession(model) : model;
  let outputs: InferenceSession.ReturnType;
  try {
    const feeds: Record<string, Tensor> = {};
    for (const input of parity.inputs) feeds[input.name] = toTensor(input);
    outputs = await session.run(feeds);
  } catch (error) {
    return failed(`the parity rows could not be run: ${(error as Error).message}`);
  } finally {
    if (model instanceof Uint8Array) await session.release();
  }

  let maxAbsError = 0;
  for (const expected of parity.expected) {
    const actual = outputs[expected.name];
    if (!(actual instanceof Tensor)) {
      problems.push(`output ${expected.name} is ${actual ? 'not a tensor' : 'missing from the model'}`);
      continue;
    }
    const got = outputValues(actual);
    if (got.length !== expected.data.length) {
      problems.push(`output ${expected.name}: expected ${expected.data.length} values, the model gave ${got.length}`);
      continue;
    }
    const match = expected.match ?? (FLOATING.has(actual.type) ? 'tolerance' : 'exact');
    let mismatches = 0;
    let first = -1;
    for (let i = 0; i < got.length; i++) {
      const want = expected.data[i]!;
      const have = got[i]!;
      if (typeof want === 'string' || typeof have === 'string') {
        if (String(want) !== String(have)) {
          mismatches++;
          if (first < 0) first = i;
        }
        continue;
      }
      const error = Math.abs(Number(want) - Number(have));
      // NaN compares as an error: a model that starts answering NaN has not kept parity.
      const effective = Number.isNaN(error) ? Infinity : error;
      if (Number.isFinite(effective)) maxAbsError = Math.max(maxAbsError, effective);
      const bad = match === 'exact' ? effective !== 0 : !(effective <= parity.tolerance);
      if (bad) {
        mismatches++;
        if (first < 0) first = i;
        if (!Number.isFinite(effective)) maxAbsError = Number.MAX_VALUE;
      }
    }
    if (mismatches > 0) {
      const rule = match === 'exact' ? 'exact match' : `tolerance ${parity.tolerance}`;
      problems.push(
        `output ${expected.name}: ${mismatches} of ${got.length} values differ (${rule}); first at index ${first}: expected ${String(expected.data[first])}, got ${String(got[first])}`,
      );
    }
  }
  return { result: { maxAbsError, tolerance: parity.tolerance, passed: problems.length === 0, rows }, problems };
}
