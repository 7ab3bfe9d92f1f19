import { describe, expect, it } from '@jest/globals';
import { HistoryInputError, parseMonthlyHistory } from '../history';
import { monthIndex } from '../periods';

const COLUMNS = { periodColumn: 'month', valueColumn: 'issues', seriesColumns: ['branch', 'type'] };

function errorOf(text: string): HistoryInputError {
  try {
    parseMonthlyHistory(text, COLUMNS);
  } catch (err) {
    if (err instanceof HistoryInputError) return err;
    throw err;
  }
  throw new Error('expected a HistoryInputError');
}

describe('parseMonthlyHistory', () => {
  it('builds gap-free series from the first month of each to the last month of the file', () => {
    const h = parseMonthlyHistory(
      'month,branch,type,issues\n2017-01,Bath,Fiction,10\n2017-03,Bath,Fiction,12\n2017-02,"Poole, Dorset",DVD,4\n2017-04,Bath,Fiction,7\n',
      COLUMNS,
    );
    expect(h.months).toBe(4);
    expect(h.rows).toBe(4);
    expect(h.series).toEqual([
      { key: ['Bath', 'Fiction'], firstMonth: monthIndex('2017-01'), firstPhase: 0, values: [10, 0, 12, 7] },
      { key: ['Poole, Dorset', 'DVD'], firstMonth: monthIndex('2017-02'), firstPhase: 1, values: [4, 0, 0] },
    ]);
  });

  it('keeps only months up to untilMonth when back-testing', () => {
    const h = parseMonthlyHistory('month,branch,type,issues\n2017-01,a,b,1\n2017-02,a,b,2\n', COLUMNS, { untilMonth: monthIndex('2017-01')! });
    expect(h.series[0]!.values).toEqual([1]);
  });

  it('names the missing column and lists the header it found', () => {
    const e = errorOf('month,branch,kind,issues\n2017-01,a,b,1\n');
    expect(e.message).toBe('no column "type"; the header has: month, branch, kind, issues');
    expect(e.line).toBe(1);
  });

  it('points at the line of a non-numeric, empty or negative value', () => {
    expect(errorOf('month,branch,type,issues\n2017-01,a,b,1\n2017-02,a,b,12x\n')).toMatchObject({
      message: 'value "12x" in column "issues" is not a number',
      line: 3,
    });
    expect(errorOf('month,branch,type,issues\n2017-01,a,b,\n').line).toBe(2);
    expect(errorOf('month,branch,type,issues\n2017-01,a,b,-3\n').message).toBe('value -3 in column "issues" is negative; loans are counts');
  });

  it('points at the line of a value or a date outside the stated bounds (1e308, 9999-12)', () => {
    expect(errorOf('month,branch,type,issues\n2017-01,a,b,1\n2017-02,a,b,1e308\n')).toMatchObject({
      message: 'value 1e308 in column "issues" is above 1000000000; monthly loan counts are smaller, and larger values swamp every other series in training',
      line: 3,
    });
    expect(errorOf('month,branch,type,issues\n2017-01,a,b,1\n9999-12,a,b,1\n')).toMatchObject({ message: 'period 9999-12 is outside 1900-01 to 2199-12', line: 3 });
    expect(errorOf('month,branch,type,issues\n1901-01,a,b,1\n2150-01,c,d,1\n')).toMatchObject({ message: 'period 2150-01 makes the history span more than 1200 months (100 years)', line: 3 });
  });

  it('points at the line of a bad period and of a duplicate row', () => {
    expect(errorOf('month,branch,type,issues\n2017-01,a,b,1\n\n2017-13,a,b,1\n')).toMatchObject({
      message: 'period "2017-13" in column "month" is not a month as YYYY-MM',
      line: 4,
    });
    expect(errorOf('month,branch,type,issues\n2017-01,a,b,1\n2017-01,a,b,2\n')).toMatchObject({
      message: 'a second row for branch=a, type=b in 2017-01 (the first is on line 2)',
      line: 3,
    });
  });

  it('refuses an empty file, a header alone and an unreadable CSV', () => {
    expect(errorOf('').message).toMatch(/empty/);
    expect(errorOf('month,branch,type,issues\n').message).toBe('no rows of history after the header');
    expect(errorOf('month,branch,type,issues\n2017-01,"a,b,1\n').message).toMatch(/not a readable CSV/);
  });
});
