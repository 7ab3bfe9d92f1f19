import { int64Array, int64Tensor } from '../tensors';

describe('int64Array', () => {
  it('gives the same values as BigInt64Array.from over the int32 range, negatives included', () => {
    const values = [0, 1, -1, 42, -42, 10_000, 2 ** 31 - 1, -(2 ** 31), 123_456_789, -987_654_321];
    expect(Array.from(int64Array(values))).toEqual(Array.from(BigInt64Array.from(values, (v) => BigInt(v))));
  });

  it('refuses values it cannot write as two int32 words', () => {
    expect(() => int64Array([1, 2 ** 31])).toThrow(/value 1 is 2147483648/);
    expect(() => int64Array([-(2 ** 31) - 1])).toThrow(RangeError);
    expect(() => int64Array([1.5])).toThrow(/value 0 is 1.5/);
    expect(() => int64Array([Number.NaN])).toThrow(RangeError);
  });

  it('makes a 1-D int64 tensor, empty included', () => {
    const tensor = int64Tensor([3, -1, 7]);
    expect(tensor.type).toBe('int64');
    expect(tensor.dims).toEqual([3]);
    expect(Array.from(tensor.data as BigInt64Array)).toEqual([3n, -1n, 7n]);
    expect(int64Tensor([]).dims).toEqual([0]);
  });
});
