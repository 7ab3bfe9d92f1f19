import { describe, expect, it } from '@jest/globals';
import { rollingOriginDays, rollingOrigins, selectOnFolds, summariseFolds, testWindowOnce } from '../backtest';

describe('rollingOrigins', () => {
  it('ends the last validation window at the test window and steps back from there', () => {
    const folds = rollingOrigins({ windowStart: 0, windowEnd: 24, folds: 3, validationLength: 3, gap: 1 });
    expect(folds).toEqual([
      { index: 0, trainStart: 0, origin: 14, validationStart: 15, validationEnd: 18 },
      { index: 1, trainStart: 0, origin: 17, validationStart: 18, validationEnd: 21 },
      { index: 2, trainStart: 0, origin: 20, validationStart: 21, validationEnd: 24 },
    ]);
    for (const fold of folds) expect(fold.validationEnd).toBeLessThanOrEqual(24);
  });

  it('says how long a window the folds need', () => {
    expect(() => rollingOrigins({ windowStart: 0, windowEnd: 10, folds: 3, validationLength: 3, minTrainLength: 4 })).toThrow(
      '3 folds of 3 (gap 0, step 3) with at least 4 to train on need a window of 13; it has 10',
    );
    expect(() => rollingOrigins({ windowStart: 0, windowEnd: 10, folds: 0, validationLength: 3 })).toThrow('folds must be an integer of at least 1, got 0');
  });

  it('works on ISO days', () => {
    const folds = rollingOriginDays({ windowStart: '2026-01-01', windowEnd: '2026-07-01', folds: 2, validationLength: 30, gap: 7, step: 60 });
    expect(folds.map((f) => [f.origin, f.validationStart, f.validationEnd])).toEqual([
      ['2026-03-26', '2026-04-02', '2026-05-02'],
      ['2026-05-25', '2026-06-01', '2026-07-01'],
    ]);
  });
});

describe('selectOnFolds', () => {
  it('picks the best mean and reports the spread of every candidate', () => {
    const folds = rollingOrigins({ windowStart: 0, windowEnd: 12, folds: 3, validationLength: 2 });
    const error: Record<string, number[]> = { small: [3, 4, 5], medium: [2, 2, 5], large: [9, 0, 6] };
    const result = selectOnFolds(['small', 'medium', 'large'], folds, (c, fold) => error[c]![fold.index]!);
    expect(result.best).toBe('medium');
    expect(result.table.map((r) => [r.candidate, r.mean])).toEqual([['small', 4], ['medium', 3], ['large', 5]]);
    expect(result.table[0]).toMatchObject({ folds: 3, sd: 1, min: 3, max: 5, scores: [3, 4, 5] });
    expect(selectOnFolds(['small', 'large'], folds, (c, fold) => error[c]![fold.index]!, { lowerIsBetter: false }).best).toBe('large');
  });

  it('refuses a score that is not a number', () => {
    const folds = rollingOrigins({ windowStart: 0, windowEnd: 4, folds: 1, validationLength: 2 });
    expect(() => selectOnFolds([1], folds, () => NaN)).toThrow('fold 0: the score of 1 is NaN');
  });
});

describe('summariseFolds', () => {
  it('gives mean and sample standard deviation', () => {
    expect(summariseFolds([1, 3])).toEqual({ folds: 2, mean: 2, sd: Math.SQRT2, min: 1, max: 3 });
    expect(summariseFolds([5]).sd).toBe(0);
  });
});

describe('testWindowOnce', () => {
  it('scores the test window once and refuses a second look', () => {
    const score = testWindowOnce((x: number) => x * 2);
    expect(score(2)).toBe(4);
    expect(() => score(2)).toThrow('the test window has already been scored');
  });
});
