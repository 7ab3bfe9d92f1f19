import { describe, expect, it } from '@jest/globals';
import { fitStandardiser, standardise, unstandardise, type SegmentFeature } from '../standardise';

const FEATURES: SegmentFeature[] = [
  { name: 'daysSinceLastLoan', role: 'recency', log1p: true },
  { name: 'monthlyLoanTrend', role: 'engagement' },
];

describe('fitStandardiser', () => {
  it('centres and scales each column, after log1p where configured', () => {
    const rows = [
      [0, -1],
      [Math.E - 1, 1],
      [Math.E ** 2 - 1, 3],
    ];
    const s = fitStandardiser(FEATURES, rows);
    expect(s.means[0]).toBeCloseTo(1, 12);
    expect(s.means[1]).toBeCloseTo(1, 12);
    expect(s.stds[0]).toBeCloseTo(Math.sqrt(2 / 3), 12);
    expect(s.stds[1]).toBeCloseTo(Math.sqrt(8 / 3), 12);
    const z = standardise(s, rows);
    expect(z[0]![0]).toBeCloseTo(-1 / Math.sqrt(2 / 3), 12);
    expect(z[2]![1]).toBeCloseTo(2 / Math.sqrt(8 / 3), 12);
    // Back to original units through expm1.
    const back = unstandardise(s, z[2]!);
    expect(back[0]).toBeCloseTo(Math.E ** 2 - 1, 10);
    expect(back[1]).toBeCloseTo(3, 12);
  });

  it('keeps a constant column at 0 instead of dividing by zero', () => {
    const s = fitStandardiser(FEATURES, [[3, 2], [3, 5]]);
    expect(s.stds[0]).toBe(1);
    expect(standardise(s, [[3, 2]])[0]![0]).toBe(0);
  });

  it('says which row and column is wrong', () => {
    expect(() => fitStandardiser(FEATURES, [[1, 2], [1, Number.NaN]])).toThrow(
      "segmentation features: row 1, column 'monthlyLoanTrend' is NaN; expected a finite number",
    );
    expect(() => fitStandardiser(FEATURES, [[1, 2], [1, 2, 3]])).toThrow(
      'segmentation features: row 1 has 3 values, expected 2 (daysSinceLastLoan, monthlyLoanTrend)',
    );
    expect(() => fitStandardiser(FEATURES, [[1, 2], [-1, 2]])).toThrow(
      "segmentation features: row 1, column 'daysSinceLastLoan' is -1; log1p needs values above -1",
    );
    expect(() => fitStandardiser(FEATURES, [[1, 2]])).toThrow('segmentation features: need at least 2 rows to standardise, got 1');
  });

  it('refuses an ambiguous feature list', () => {
    expect(() => fitStandardiser([...FEATURES, { name: 'loans', role: 'recency' }], [[1, 2, 3], [2, 3, 4]])).toThrow(
      "segmentation features: role 'recency' is given to more than one feature",
    );
    expect(() => fitStandardiser([FEATURES[0]!, FEATURES[0]!], [[1, 2], [2, 3]])).toThrow(
      "segmentation features: feature 'daysSinceLastLoan' appears twice",
    );
  });

  it('multiplies a weighted column after scaling it, and undoes the weight on the way back', () => {
    const weighted: SegmentFeature[] = [FEATURES[0]!, { ...FEATURES[1]!, weight: 3 }];
    const rows = [[0, -1], [Math.E - 1, 1], [Math.E ** 2 - 1, 3]];
    const plain = standardise(fitStandardiser(FEATURES, rows), rows);
    const s = fitStandardiser(weighted, rows);
    const z = standardise(s, rows);
    z.forEach((row, i) => {
      expect(row[0]).toBeCloseTo(plain[i]![0]!, 12);
      expect(row[1]).toBeCloseTo(3 * plain[i]![1]!, 12);
    });
    expect(unstandardise(s, z[2]!)[1]).toBeCloseTo(3, 12);
    expect(() => fitStandardiser([{ name: 'loans', weight: 0 }], [[1], [2]])).toThrow("segmentation features: 'loans' has weight 0; a weight must be a finite number above 0");
  });
});
