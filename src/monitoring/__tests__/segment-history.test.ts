import { describe, expect, it } from '@jest/globals';
import { addDays } from '../../util/dates';
import { SegmentHistory } from '../segment-history';

describe('a member\'s segment history', () => {
  it('answers the segment as of a day from the changes alone, however many days repeat it', () => {
    const history = new SegmentHistory(30);
    // Served daily for 60 days: "Regulars" for 40 days, then "Lapsing".
    for (let d = 0; d < 60; d++) history.add('7', addDays('2025-01-01', d), d < 40 ? 'Regulars' : 'Lapsing');
    expect(history.entries('7').map((e) => e.segment)).toEqual(['Regulars', 'Lapsing']);
    expect(history.on('7', '2025-01-05')).toBe('Regulars');
    expect(history.on('7', '2024-12-31')).toBeNull();
    expect(history.on('unknown', '2025-01-05')).toBeNull();
  });

  it('places an entry added out of order by its day, and lets the later of one day stand', () => {
    const history = new SegmentHistory(30);
    history.add('1', '2025-03-10', 'B');
    history.add('1', '2025-03-01', 'A');
    history.add('1', '2025-03-05', 'C');
    expect(history.on('1', '2025-03-04')).toBe('A');
    expect(history.on('1', '2025-03-07')).toBe('C');
    expect(history.on('1', '2025-03-12')).toBe('B');
    history.add('1', '2025-03-05', 'A');
    expect(history.on('1', '2025-03-07')).toBe('A');
    expect(history.entries('1').map((e) => `${e.day}:${e.segment}`)).toEqual(['2025-03-01:A', '2025-03-10:B']);
  });

  it('keeps at most its bound of changes, dropping the oldest', () => {
    const history = new SegmentHistory(3);
    ['A', 'B', 'A', 'B', 'C'].forEach((segment, i) => history.add('2', `2025-05-0${i + 1}`, segment));
    expect(history.entries('2').map((e) => e.segment)).toEqual(['A', 'B', 'C']);
    expect(history.on('2', '2025-05-01')).toBeNull();
    expect(history.on('2', '2025-05-03')).toBe('A');
  });
});
