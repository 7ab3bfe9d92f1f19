/**
 * Rolling windows over library days, kept as one summary per day so that a window's answer
 * merges at most 30 day summaries instead of rescanning the records behind them.
 *
 * Contract: `add(day, record)` folds a record into its day's summary (days are ISO calendar
 * dates on the library clock). `window(asOf, name)` merges the summaries of the `WINDOW_DAYS`
 * days ending at `asOf`, inclusive. Days older than the longest window before the latest day
 * seen are forgotten, so memory is bounded by 30 summaries per accumulator.
 */
import { addDays } from '../util/dates';

export type QualityWindow = 'day' | 'week' | '30d';
export const QUALITY_WINDOWS: readonly QualityWindow[] = ['day', 'week', '30d'];
export const WINDOW_DAYS: Record<QualityWindow, number> = { day: 1, week: 7, '30d': 30 };
/** The longest window's days: a day summary older than this before the latest day is forgotten. */
export const LONGEST_WINDOW_DAYS = Math.max(...Object.values(WINDOW_DAYS));

/** How one kind of day summary is made, fed and merged. */
export interface Summary<S, R> {
  empty(): S;
  add(summary: S, record: R): void;
  /** Folds `from` into `into`. */
  merge(into: S, from: S): void;
}

export class DailyWindows<S, R> {
  private readonly days = new Map<string, S>();
  private latest = '';

  constructor(private readonly summary: Summary<S, R>) {}

  add(day: string, record: R): void {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new Error(`day must be YYYY-MM-DD, got "${day}"`);
    let summary = this.days.get(day);
    if (!summary) {
      if (this.latest !== '' && day <= addDays(this.latest, -LONGEST_WINDOW_DAYS)) return;
      summary = this.summary.empty();
      this.days.set(day, summary);
    }
    this.summary.add(summary, record);
    if (day > this.latest) {
      this.latest = day;
      const oldest = addDays(day, -LONGEST_WINDOW_DAYS);
      for (const kept of this.days.keys()) if (kept <= oldest) this.days.delete(kept);
    }
  }

  /** The merged summary of the window ending at `asOf` (an empty summary when nothing fell in it). */
  window(asOf: string, window: QualityWindow): S {
    const merged = this.summary.empty();
    for (let back = 0; back < WINDOW_DAYS[window]; back++) {
      const day = this.days.get(addDays(asOf, -back));
      if (day) this.summary.merge(merged, day);
    }
    return merged;
  }
}
