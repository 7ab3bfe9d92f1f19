/**
 * The few distribution functions monitoring needs: tail probabilities of the Kolmogorov and
 * chi-squared distributions, the normal quantile for intervals, and the Wilson interval for a
 * proportion. Each is accurate to well under the resolution its callers report (3 decimals).
 */

const { abs, exp, log, sqrt, max } = Math;

/**
 * P(K > λ) for the Kolmogorov distribution: 2 Σ_{k≥1} (−1)^{k−1} exp(−2k²λ²). Small λ gives
 * 1 (the series converges too slowly there, and the answer is 1 to 6 places below λ = 0.3).
 */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda < 0.3) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = exp(-2 * k * k * lambda * lambda);
    sum += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-12) break;
  }
  return Math.min(1, max(0, 2 * sum));
}

/**
 * The asymptotic p-value of a two-sample Kolmogorov-Smirnov statistic `d` for samples of
 * sizes n and m, with Stephens' small-sample correction of the effective size.
 */
export function ksPValue(d: number, n: number, m: number): number {
  const effective = (n * m) / (n + m);
  const root = sqrt(effective);
  return kolmogorovSurvival((root + 0.12 + 0.11 / root) * d);
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0] ?? 0;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] ?? 0) / (z + i);
  return 0.5 * log(2 * Math.PI) + (z + 0.5) * log(t) - t + log(a);
}

/** The regularised upper incomplete gamma Q(a, x) (series below a + 1, continued fraction above). */
export function upperIncompleteGamma(a: number, x: number): number {
  if (x <= 0) return 1;
  const logPrefix = -x + a * log(x) - logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < 500; n++) {
      term *= x / (a + n);
      sum += term;
      if (abs(term) < abs(sum) * 1e-14) break;
    }
    return Math.min(1, max(0, 1 - sum * exp(logPrefix)));
  }
  // Lentz's continued fraction for Q.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (abs(delta - 1) < 1e-14) break;
  }
  return Math.min(1, max(0, exp(logPrefix) * h));
}

/** P(χ²_df > x). */
export function chiSquaredSurvival(x: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`degrees of freedom must be positive, got ${df}`);
  return upperIncompleteGamma(df / 2, x / 2);
}

/** z such that P(Z ≤ z) = p for a standard normal (Acklam's rational approximation). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must lie in (0, 1), got ${p}`);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const poly = (coefficients: number[], x: number): number => coefficients.reduce((sum, k) => sum * x + k, 0);
  const low = 0.02425;
  if (p < low) {
    const q = sqrt(-2 * log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

export interface Interval {
  value: number;
  low: number;
  high: number;
}

/** z of a two-sided interval at `confidence` (0.95 → 1.96). */
export function zOf(confidence: number): number {
  return normalQuantile(1 - (1 - confidence) / 2);
}

/** The Wilson score interval of `successes` out of `trials`; NaN throughout when trials is 0. */
export function wilsonInterval(successes: number, trials: number, confidence = 0.95): Interval {
  if (trials === 0) return { value: NaN, low: NaN, high: NaN };
  const z = zOf(confidence);
  const p = successes / trials;
  const denominator = 1 + (z * z) / trials;
  const centre = (p + (z * z) / (2 * trials)) / denominator;
  const half = (z * sqrt((p * (1 - p)) / trials + (z * z) / (4 * trials * trials))) / denominator;
  return { value: p, low: max(0, centre - half), high: Math.min(1, centre + half) };
}

/** value ± z·se, optionally clamped to [lower, upper]. */
export function normalInterval(value: number, standardError: number, confidence = 0.95, lower = -Infinity, upper = Infinity): Interval {
  const half = zOf(confidence) * standardError;
  return { value, low: max(lower, value - half), high: Math.min(upper, value + half) };
}
