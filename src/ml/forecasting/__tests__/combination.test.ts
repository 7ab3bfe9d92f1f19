import { describe, expect, it } from '@jest/globals';
import { meanForecast, withSeasonalNaive } from '../combination';

describe('forecast combination', () => {
  it('averages two forecasts period by period', () => {
    expect(meanForecast([10, 0, 7], [20, 4, 7])).toEqual([15, 2, 7]);
  });

  it('refuses forecasts of different lengths, saying both', () => {
    expect(() => meanForecast([1, 2], [1])).toThrow('forecasts to combine must cover the same periods, got 2 and 1');
  });

  it('averages with the same period one season earlier', () => {
    const lastYearThenThisYear = { values: [4, 8, 12, 0, 0, 0], firstPhase: 0 };
    // Season of 3: the 4 periods after the history repeat [0, 0, 0] from the last season.
    expect(withSeasonalNaive(lastYearThenThisYear, [6, 6, 6, 6], 3)).toEqual([3, 3, 3, 3]);
    const rising = { values: [4, 8, 12], firstPhase: 0 };
    expect(withSeasonalNaive(rising, [0, 0, 0, 20], 3)).toEqual([2, 4, 6, 12]);
  });
});
