import { describe, expect, it } from '@jest/globals';
import { choleskySolveInPlace, ridgeConjugateGradient, type CsrMatrix } from '../linalg';

describe('choleskySolveInPlace', () => {
  it('solves a symmetric positive definite system', () => {
    // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = [1, -1, 2] gives b = A x.
    const a = Float64Array.from([4, 0, 0, 2, 5, 0, 0, 1, 3]); // lower triangle only
    const b = Float64Array.from([2, -1, 5]);
    choleskySolveInPlace(a, b, 3);
    expect(Array.from(b).map((v) => Number(v.toFixed(10)))).toEqual([1, -1, 2]);
  });

  it('refuses a matrix that is not positive definite', () => {
    expect(() => choleskySolveInPlace(Float64Array.from([0, 0, 0, 1]), new Float64Array(2), 2)).toThrow('not positive definite');
  });
});

describe('ridgeConjugateGradient', () => {
  it('matches the closed-form ridge solution on the rows it is told to use', () => {
    // X (3 rows x 2 columns), the third row excluded; targets y (2 columns).
    const x: CsrMatrix = {
      rows: 3,
      columns: 2,
      rowStart: Int32Array.from([0, 2, 3, 4]),
      column: Int32Array.from([0, 1, 1, 0]),
      value: Float64Array.from([1, 2, 3, 100]),
    };
    const y = Float64Array.from([1, 0, 2, 1, 50, 50]);
    const w = new Float64Array(4);
    ridgeConjugateGradient(x, y, 2, Uint8Array.from([1, 1, 0]), 0.5, w, 50, 1e-12);
    // X^T X + 0.5 I = [[1.5, 2], [2, 13.5]]; X^T y = [[1, 0], [8, 3]].
    const det = 1.5 * 13.5 - 4;
    const expected = [(13.5 * 1 - 2 * 8) / det, (13.5 * 0 - 2 * 3) / det, (-2 * 1 + 1.5 * 8) / det, (-2 * 0 + 1.5 * 3) / det];
    Array.from(w).forEach((value, p) => expect(value).toBeCloseTo(expected[p]!, 9));
  });
});
