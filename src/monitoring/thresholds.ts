/**
 * The drift thresholds the live monitor judges a version with: the per-feature thresholds
 * stored in the version's metadata (`driftThresholds`, a DriftConfig as `calibrateThresholds`
 * returns it) when it has them, else Evidently's defaults, and in both cases the p-value tests'
 * α Bonferroni-divided among the version's features × FAMILY_DAYS days.
 *
 * Why: the monitor checks every feature of a version every day. At Evidently's α of 0.05 per
 * test, a version with 15 features raises a false alarm by chance alone on most days of a
 * year, however calm the library. One alarm per version stands for a year of daily verdicts
 * on each of its features, so α is divided among them (the drift bench's rule, which measured
 * 1 false alarm-day in 90 unshifted days with it, 7 without). Thresholds calibrated on the
 * version's own unshifted weeks already carry that cap; applying it again here is a no-op for
 * them and keeps a hand-edited or older stored config from loosening it.
 *
 * Only the p-value tests are capped: the distances (Wasserstein, Jensen-Shannon, PSI) are not
 * chance verdicts with an α to divide.
 */
import { EVIDENTLY_THRESHOLDS, type DriftConfig, type DriftReferences, type DriftThresholds } from './drift';

/** Days of daily verdicts one alarm per version stands for (a year). */
export const FAMILY_DAYS = 365;

const THRESHOLD_KEYS: readonly (keyof DriftThresholds)[] = ['ksPValue', 'wasserstein', 'chiSquaredPValue', 'jensenShannon', 'psi'];

/** The tests in the family of a version with these references: its features (score included) × FAMILY_DAYS. */
export function familyTestsOf(references: DriftReferences): number {
  return Math.max(1, Object.keys(references.features).length) * FAMILY_DAYS;
}

function thresholdsOf(raw: unknown): Partial<DriftThresholds> | null {
  if (!raw || typeof raw !== 'object') return null;
  const own: Partial<DriftThresholds> = {};
  for (const key of THRESHOLD_KEYS) {
    const value = (raw as Record<string, unknown>)[key];
    if (value === undefined) continue;
    // 0 is a calibrated p-value threshold too: the feature's worst unshifted week was beyond any p a double holds, so its test never fires.
    if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) return null;
    own[key] = value;
  }
  return own;
}

/**
 * Reads a stored `driftThresholds`: a DriftConfig whose thresholds are all finite numbers of
 * at least 0, or null (a malformed one is not half used: the caller falls back to the defaults
 * and says so).
 */
export function driftThresholdsOf(raw: unknown): DriftConfig | null {
  if (!raw || typeof raw !== 'object') return null;
  const record = raw as { defaults?: unknown; features?: unknown; smallWindow?: unknown; windowRows?: unknown };
  const config: DriftConfig = {};
  if (record.defaults !== undefined) {
    const defaults = thresholdsOf(record.defaults);
    if (!defaults || THRESHOLD_KEYS.some((k) => defaults[k] === undefined)) return null;
    config.defaults = defaults as DriftThresholds;
  }
  if (record.smallWindow !== undefined) {
    if (typeof record.smallWindow !== 'number' || !(record.smallWindow >= 1) || !Number.isInteger(record.smallWindow)) return null;
    config.smallWindow = record.smallWindow;
  }
  if (record.windowRows !== undefined) {
    if (!record.windowRows || typeof record.windowRows !== 'object') return null;
    const rows = Object.entries(record.windowRows);
    if (rows.some(([, n]) => typeof n !== 'number' || !Number.isInteger(n) || n < 1)) return null;
    config.windowRows = Object.fromEntries(rows);
  }
  if (record.features !== undefined) {
    if (!record.features || typeof record.features !== 'object') return null;
    const features: Record<string, Partial<DriftThresholds>> = {};
    for (const [feature, value] of Object.entries(record.features)) {
      const own = thresholdsOf(value);
      if (!own) return null;
      features[feature] = own;
    }
    config.features = features;
  }
  return config;
}

/**
 * The config the monitor compares a version's windows with: `stored` (or the defaults), with
 * every feature's p-value thresholds at most the default α / familyTestsOf(references).
 */
export function monitoredDriftConfig(references: DriftReferences, stored: DriftConfig | null): DriftConfig {
  const defaults = stored?.defaults ?? EVIDENTLY_THRESHOLDS;
  const familyTests = familyTestsOf(references);
  const features: Record<string, Partial<DriftThresholds>> = {};
  for (const feature of Object.keys(references.features)) {
    const own = { ...defaults, ...(stored?.features?.[feature] ?? {}) };
    features[feature] = {
      ...own,
      ksPValue: Math.min(own.ksPValue, defaults.ksPValue / familyTests),
      chiSquaredPValue: Math.min(own.chiSquaredPValue, defaults.chiSquaredPValue / familyTests),
    };
  }
  return { ...(stored ?? {}), defaults, features };
}
