/**
 * The dense linear algebra the ALS trainer needs, on flat row-major Float64Arrays, written as
 * plain loops because every system here is small (k x k with k ~ 32) and solved many times.
 */

/**
 * Solves A x = b for a symmetric positive definite n x n matrix A by Cholesky factorisation.
 * Only the lower triangle of `a` is read; `a` is overwritten by the factor L and `b` by x.
 * Throws when A is not positive definite, which for ALS means the regularisation is zero or
 * the inputs hold NaN: a bug to surface, not to paper over.
 */
export function choleskySolveInPlace(a: Float64Array, b: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    let diagonal = a[rowJ + j]!;
    for (let p = 0; p < j; p++) diagonal -= a[rowJ + p]! * a[rowJ + p]!;
    if (!(diagonal > 0)) throw new Error(`matrix is not positive definite at pivot ${j} (${diagonal})`);
    const pivot = Math.sqrt(diagonal);
    a[rowJ + j] = pivot;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let sum = a[rowI + j]!;
      for (let p = 0; p < j; p++) sum -= a[rowI + p]! * a[rowJ + p]!;
      a[rowI + j] = sum / pivot;
    }
  }
  // Forward substitution L y = b, then back substitution L^T x = y.
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    let sum = b[i]!;
    for (let p = 0; p < i; p++) sum -= a[rowI + p]! * b[p]!;
    b[i] = sum / a[rowI + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let sum = b[i]!;
    for (let p = i + 1; p < n; p++) sum -= a[p * n + i]! * b[p]!;
    b[i] = sum / a[i * n + i]!;
  }
}

/** G = M^T M (lower triangle and diagonal only) for the rows of an m x n row-major matrix. */
export function gramLower(matrix: Float64Array, rows: number, n: number, out: Float64Array): void {
  out.fill(0);
  for (let r = 0; r < rows; r++) {
    const offset = r * n;
    for (let i = 0; i < n; i++) {
      const v = matrix[offset + i]!;
      if (v === 0) continue;
      const rowI = i * n;
      for (let j = 0; j <= i; j++) out[rowI + j]! += v * matrix[offset + j]!;
    }
  }
}

/** A sparse matrix in compressed sparse row form. */
export interface CsrMatrix {
  rows: number;
  columns: number;
  /** rowStart[r]..rowStart[r+1] index `column` and `value` for row r. */
  rowStart: Int32Array;
  column: Int32Array;
  value: Float64Array;
}

/**
 * Ridge regression with many targets, min ||X W - Y||^2 + lambda ||W||^2 over the rows of X
 * flagged in `useRow`, solved by conjugate gradients on the normal equations, all target
 * columns at once (each with its own step sizes). X is sparse and may have thousands of
 * columns (one per author), where a dense solve would cost the cube of that; CG touches only
 * the non-zeros. `w` (columns x targets, row-major) is the starting point and receives the
 * answer, so a caller that refits every ALS iteration warm-starts and needs few steps.
 */
export function ridgeConjugateGradient(
  x: CsrMatrix,
  y: Float64Array,
  targets: number,
  useRow: Uint8Array,
  lambda: number,
  w: Float64Array,
  maxSteps: number,
  tolerance = 1e-6,
): void {
  const t = targets;
  const size = x.columns * t;
  const rhs = new Float64Array(size);
  const residual = new Float64Array(size);
  const direction = new Float64Array(size);
  const product = new Float64Array(size);
  const rowValues = new Float64Array(t);

  // out = (X^T X + lambda I) v over the used rows, for all targets.
  const applyNormal = (v: Float64Array, out: Float64Array): void => {
    for (let c = 0; c < size; c++) out[c] = lambda * v[c]!;
    for (let r = 0; r < x.rows; r++) {
      if (!useRow[r]) continue;
      const start = x.rowStart[r]!;
      const end = x.rowStart[r + 1]!;
      rowValues.fill(0);
      for (let p = start; p < end; p++) {
        const value = x.value[p]!;
        const offset = x.column[p]! * t;
        for (let d = 0; d < t; d++) rowValues[d]! += value * v[offset + d]!;
      }
      for (let p = start; p < end; p++) {
        const value = x.value[p]!;
        const offset = x.column[p]! * t;
        for (let d = 0; d < t; d++) out[offset + d]! += value * rowValues[d]!;
      }
    }
  };

  for (let r = 0; r < x.rows; r++) {
    if (!useRow[r]) continue;
    for (let p = x.rowStart[r]!; p < x.rowStart[r + 1]!; p++) {
      const value = x.value[p]!;
      const offset = x.column[p]! * t;
      for (let d = 0; d < t; d++) rhs[offset + d]! += value * y[r * t + d]!;
    }
  }
  applyNormal(w, product);
  const residualNorm = new Float64Array(t);
  const stopAt = new Float64Array(t);
  for (let c = 0; c < size; c++) {
    residual[c] = rhs[c]! - product[c]!;
    direction[c] = residual[c]!;
    residualNorm[c % t]! += residual[c]! * residual[c]!;
    stopAt[c % t]! += rhs[c]! * rhs[c]!;
  }
  for (let d = 0; d < t; d++) stopAt[d] = tolerance * tolerance * Math.max(stopAt[d]!, 1e-30);
  const curvature = new Float64Array(t);
  const stepSize = new Float64Array(t);
  const nextNorm = new Float64Array(t);
  for (let step = 0; step < maxSteps; step++) {
    let active = false;
    for (let d = 0; d < t; d++) if (residualNorm[d]! > stopAt[d]!) active = true;
    if (!active) break;
    applyNormal(direction, product);
    curvature.fill(0);
    for (let c = 0; c < size; c++) curvature[c % t]! += direction[c]! * product[c]!;
    // A converged target keeps its solution: step 0, and its direction is zeroed below.
    for (let d = 0; d < t; d++) stepSize[d] = residualNorm[d]! > stopAt[d]! && curvature[d]! > 0 ? residualNorm[d]! / curvature[d]! : 0;
    nextNorm.fill(0);
    for (let c = 0; c < size; c++) {
      const d = c % t;
      w[c]! += stepSize[d]! * direction[c]!;
      residual[c]! -= stepSize[d]! * product[c]!;
      nextNorm[d]! += residual[c]! * residual[c]!;
    }
    for (let c = 0; c < size; c++) {
      const d = c % t;
      direction[c] = stepSize[d] === 0 ? 0 : residual[c]! + (nextNorm[d]! / residualNorm[d]!) * direction[c]!;
    }
    residualNorm.set(nextNorm);
  }
}
