/**
 * Writing CSV cells that are safe to open in a spreadsheet: quoted when they hold a comma,
 * quote or line break (or edge whitespace), and defused when they would start a formula. A
 * text cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is prefixed with `'`,
 * so a spreadsheet shows it as text instead of evaluating it (CSV/formula injection). Numbers,
 * negative ones included, are written as they are.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export function csvCell(value: string): string {
  const text = FORMULA_START.test(value) && !NUMBER.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line of `cells`. */
export function csvLine(cells: readonly string[]): string {
  return cells.map(csvCell).join(',');
}
