/** Calendar days as 'YYYY-MM-DD' strings in UTC: the store's date format. */
const DAY_MS = 86_400_000;

export function dayToMs(day: string): number {
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(ms)) throw new Error(`expected a date as YYYY-MM-DD, got "${day}"`);
  return ms;
}

export function msToDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  return msToDay(dayToMs(day) + days * DAY_MS);
}

/** Whole days from `from` to `to` (negative when `to` is earlier). */
export function daysBetween(from: string, to: string): number {
  return Math.round((dayToMs(to) - dayToMs(from)) / DAY_MS);
}

/** The Monday on or before `day`. */
export function weekStart(day: string): string {
  const weekday = (new Date(dayToMs(day)).getUTCDay() + 6) % 7;
  return addDays(day, -weekday);
}

export function monthOf(day: string): string {
  return day.slice(0, 7);
}
