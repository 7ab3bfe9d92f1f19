import { buildReference, calibrateThresholds, compareFeature, type DriftReferences, type DriftWindow } from '../../monitoring/drift';
import { CLOCK_FEATURES, RECENT_REFERENCE_COLUMNS, RECENT_REFERENCE_WEEKS, recentReferences } from '../calibration-windows';
import { SCORE_REFERENCE } from '../../monitoring/references';
import { Random } from '../../util/random';

/**
 * A week's tenures, `day` days of the clock after the oldest week: uniform over `span` days from
 * an offset that grows 0.3 days a day (the 10,000-member library's loans aged about 100 days a year).
 */
function week(random: Random, day: number, rows = 3000, span = 2000): number[] {
  return Array.from({ length: rows }, () => Math.floor(0.3 * day + random.next() * span));
}

describe('recentReferences', () => {
  // Newest first, as calibrationWindows returns them: week k is 7k days older than the newest.
  const random = new Random(7);
  const weeks: DriftWindow[] = Array.from({ length: 104 }, (_, k) => ({ tenure: week(random, 730 - 7 * k), other: week(random, 0) }));
  const whole = weeks.flatMap((w) => w.tenure as number[]);
  const references: DriftReferences = { features: { tenure: buildReference(whole), other: buildReference(weeks.flatMap((w) => w.other as number[])) } };

  it('rebuilds only the named features, from the newest weeks', () => {
    const recent = recentReferences(references, weeks, ['tenure', 'absent']);
    expect(recent.features.other).toBe(references.features.other);
    expect(recent.features.tenure?.count).toBe(RECENT_REFERENCE_WEEKS * 3000);
    const newest = weeks.slice(0, RECENT_REFERENCE_WEEKS).flatMap((w) => w.tenure as number[]);
    expect(recent.features.tenure).toEqual(buildReference(newest, { kind: 'numeric' }));
    expect(recent.features).not.toHaveProperty('absent');
  });

  it('keeps half a year lived after the as-of date below thresholds calibrated against the newest weeks, and still sees a cohort of newcomers', () => {
    const later = week(new Random(8), 730 + 182);
    const calibrated = (refs: DriftReferences) => calibrateThresholds(refs, weeks, { smallWindow: 5000, familyTests: 2 * 365 });
    // Against the whole two years (centred a year before the newest week), the ageing goes on
    // past what the calibration weeks showed: half a year after the as-of date drifts.
    expect(compareFeature('tenure', references.features.tenure!, later, calibrated(references)).drifted).toBe(true);
    const recent = recentReferences(references, weeks, ['tenure']);
    expect(compareFeature('tenure', recent.features.tenure!, later, calibrated(recent)).drifted).toBe(false);
    // A fifth of the week's borrowers joined in the last month: drift against the recent reference.
    const cohort = [...later.slice(0, 2400), ...Array.from({ length: 600 }, (_, i) => i % 30)];
    expect(compareFeature('tenure', recent.features.tenure!, cohort, calibrated(recent)).drifted).toBe(true);
  });

  it('names the tenure features of the calibrated models, and the recommender\'s history length', () => {
    expect(CLOCK_FEATURES.overdue).toEqual(['member_tenure_days']);
    expect(CLOCK_FEATURES.churn).toEqual(['tenure_days']);
    expect(CLOCK_FEATURES.recommendations).toEqual(['history_books']);
    expect(RECENT_REFERENCE_COLUMNS.recommendations).not.toContain('borrowed_genre');
  });

  it("rebuilds the classifiers' scores with their tenure features, and leaves segmentation's segment on its training reference", () => {
    expect(RECENT_REFERENCE_COLUMNS.overdue).toEqual(['member_tenure_days', SCORE_REFERENCE]);
    expect(RECENT_REFERENCE_COLUMNS.churn).toEqual(['tenure_days', SCORE_REFERENCE]);
    expect(RECENT_REFERENCE_COLUMNS.segmentation).not.toContain(SCORE_REFERENCE);
    const scored: DriftReferences = { features: { ...references.features, [SCORE_REFERENCE]: buildReference(whole.map((t) => 1 / (1 + t / 1000))) } };
    const scoredWeeks = weeks.map((w) => ({ ...w, [SCORE_REFERENCE]: (w.tenure as number[]).map((t) => 1 / (1 + t / 1000)) }));
    const recent = recentReferences(scored, scoredWeeks, RECENT_REFERENCE_COLUMNS.churn.map((c) => (c === 'tenure_days' ? 'tenure' : c)));
    expect(recent.features[SCORE_REFERENCE]).toEqual(buildReference(scoredWeeks.slice(0, RECENT_REFERENCE_WEEKS).flatMap((w) => w[SCORE_REFERENCE]), { kind: 'numeric' }));
    // A score that falls as the members age: its newest weeks' mean lies below the whole period's.
    const meanOf = (reference: DriftReferences['features'][string] | undefined) => (reference?.kind === 'numeric' ? reference.mean : Number.NaN);
    expect(meanOf(recent.features[SCORE_REFERENCE])).toBeLessThan(meanOf(scored.features[SCORE_REFERENCE]));
  });

  it('refuses a recent reference of no weeks', () => {
    expect(() => recentReferences(references, weeks, ['tenure'], 0)).toThrow(RangeError);
  });
});
