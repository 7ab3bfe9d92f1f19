import { describe, expect, it } from '@jest/globals';
import { csvCell, csvLine } from '../csv';

describe('csvCell', () => {
  it('defuses text that a spreadsheet would run as a formula', () => {
    expect(csvCell('=HYPERLINK("http://evil","x")')).toBe(`"'=HYPERLINK(""http://evil"",""x"")"`);
    expect(csvCell('+1+1')).toBe(`'+1+1`);
    expect(csvCell('-2+3')).toBe(`'-2+3`);
    expect(csvCell('@SUM(A1)')).toBe(`'@SUM(A1)`);
    expect(csvCell('\tcmd')).toBe(`'\tcmd`);
  });

  it('leaves numbers, negative ones included, and plain text as they are; quotes commas and quotes', () => {
    expect(csvLine(['2024-01', '-3.5', '+2', '1e-3', 'Main branch', 'a,b', 'say "hi"'])).toBe('2024-01,-3.5,+2,1e-3,Main branch,"a,b","say ""hi"""');
  });
});
