import { describe, expect, it } from '@jest/globals';
import { InputError, parseInteractionsCsv, parseUserList } from '../input-files';

describe('parseInteractionsCsv', () => {
  it('reads user,item,weight in any column order, ignoring extra columns and blank lines', () => {
    const text = '\uFEFFitem, Weight ,user,note\nb1,2,m1,x\n\n"b,2",0.5,m2,\n';
    expect(parseInteractionsCsv(text, 'loans.csv')).toEqual([
      { user: 'm1', item: 'b1', weight: 2 },
      { user: 'm2', item: 'b,2', weight: 0.5 },
    ]);
  });

  const failure = (text: string): string => {
    try {
      parseInteractionsCsv(text, 'loans.csv');
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      return (error as Error).message;
    }
    throw new Error('expected an InputError');
  };

  it('names the missing column and shows the header it found', () => {
    expect(failure('member,item,weight\nm1,b1,1\n')).toBe(
      'loans.csv line 1: missing column user (header found: member,item,weight; expected user,item,weight)',
    );
  });

  it('gives the line of a non-numeric or non-positive weight', () => {
    expect(failure('user,item,weight\nm1,b1,1\nm1,b2,lots\n')).toBe('loans.csv line 3: weight "lots" is not a number');
    expect(failure('user,item,weight\nm1,b1,-1\n')).toBe('loans.csv line 2: weight -1 must be greater than 0');
    expect(failure('user,item,weight\nm1,b1,2\nm2,b1,1e308\n')).toBe('loans.csv line 3: weight 1e308 is above 1000000; weights are counts or ratings, and larger ones overflow the solver');
  });

  it('gives the line of a row with a missing value', () => {
    expect(failure('user,item,weight\nm1,b1,1\n\nm2,b2\n')).toBe('loans.csv line 4: no value for column weight (found 2 fields)');
  });

  it('explains an empty file and a header without rows', () => {
    expect(failure('')).toBe('loans.csv is empty: expected a header row with columns user,item,weight');
    expect(failure('user,item,weight\n')).toBe('loans.csv has a header but no interaction rows');
  });

  it('reports broken quoting with its line', () => {
    expect(failure('user,item,weight\nm1,"b1,1\n')).toMatch(/^loans\.csv line 2: not valid CSV/);
  });
});

describe('parseUserList', () => {
  it('keeps each id once, in order, skipping blank lines', () => {
    expect(parseUserList('m2\r\n\n m1 \nm2\n')).toEqual(['m2', 'm1']);
  });

  it('refuses an empty list', () => {
    expect(() => parseUserList('\n \n', 'users.txt')).toThrow('users.txt is empty: expected one member id per line');
  });
});
