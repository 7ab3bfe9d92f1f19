/**
 * Monthly periods as 'YYYY-MM' strings and their position on a month counter, so that
 * gaps, "same month last year" and the months after a history are plain arithmetic.
 */

/** Months since year 0 for 'YYYY-MM', or null when the text is not such a month. */
export function monthIndex(period: string): number | null {
  const match = /^(\d{4})-(\d{2})$/.exec(period.trim());
  if (!match) return null;
  const month = Number(match[2]);
  if (month < 1 || month > 12) return null;
  return Number(match[1]) * 12 + month - 1;
}

export function monthPeriod(index: number): string {
  const year = Math.floor(index / 12);
  const month = index - year * 12 + 1;
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}`;
}

/** Position of a month within the year, 0 for January: the seasonal phase of monthly data. */
export function monthPhase(index: number): number {
  return ((index % 12) + 12) % 12;
}
