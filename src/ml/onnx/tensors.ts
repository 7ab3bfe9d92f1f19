/**
 * Building int64 input tensors from plain numbers without a BigInt per value.
 *
 * `BigInt64Array.from(values, BigInt)` allocates one BigInt per element, thousands per
 * recommendations run. Indices fit in 32 bits, so each int64 is written as two int32 words
 * (value, sign) through an Int32Array view of the same buffer, with no allocation per element
 * (BENCHMARKS.md, figures moved from comments).
 */
import { endianness } from 'node:os';
import { Tensor } from 'onnxruntime-node';

const LITTLE_ENDIAN = endianness() === 'LE';
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** The values as a BigInt64Array. Every value must be an integer within int32 range (indices are). */
export function int64Array(values: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(values.length);
  const words = new Int32Array(out.buffer);
  const [low, high] = LITTLE_ENDIAN ? [0, 1] : [1, 0];
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (!Number.isInteger(value) || value < INT32_MIN || value > INT32_MAX) {
      throw new RangeError(`int64Array takes int32-range integers; value ${i} is ${value}`);
    }
    words[2 * i + low] = value;
    words[2 * i + high] = value < 0 ? -1 : 0;
  }
  return out;
}

/** A 1-D int64 tensor of `values` (see int64Array for the range). */
export function int64Tensor(values: ArrayLike<number>): Tensor {
  return new Tensor('int64', int64Array(values), [values.length]);
}
