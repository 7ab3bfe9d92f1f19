/**
 * Days as integers (days since 1970-01-01, UTC), with per-day lookups the simulator needs in
 * its inner loops: month, weekday, seasonal visit factor and the ISO string the store keeps.
 */
import { dayToMs, msToDay } from '../util/dates';
import { MONTH_FACTORS, WEEKDAY_FACTORS, type SeasonalShape } from './seasonality';

const DAY_MS = 86_400_000;

/** Average days in a month: intensities are per month, the process steps per day. */
export const DAYS_PER_MONTH = 365.25 / 12;

export function dayNumber(day: string): number {
  return Math.round(dayToMs(day) / DAY_MS);
}

export function isoDay(day: number): string {
  return msToDay(day * DAY_MS);
}

export class Calendar {
  private readonly months: Uint8Array;
  private readonly weekdays: Uint8Array;
  private readonly seasonal: Record<SeasonalShape, Float64Array>;
  private readonly isoCache: (string | undefined)[];

  /** Covers every day from `firstDay` to `lastDay` inclusive; outside that range is an error. */
  constructor(
    readonly firstDay: number,
    readonly lastDay: number,
  ) {
    const length = lastDay - firstDay + 1;
    this.months = new Uint8Array(length);
    this.weekdays = new Uint8Array(length);
    this.seasonal = { young: new Float64Array(length), adult: new Float64Array(length) };
    this.isoCache = new Array<string | undefined>(length);
    for (let i = 0; i < length; i++) {
      const date = new Date((firstDay + i) * DAY_MS);
      const month = date.getUTCMonth();
      const weekday = (date.getUTCDay() + 6) % 7;
      this.months[i] = month;
      this.weekdays[i] = weekday;
      this.seasonal.young[i] = MONTH_FACTORS.young[month]! * WEEKDAY_FACTORS[weekday]!;
      this.seasonal.adult[i] = MONTH_FACTORS.adult[month]! * WEEKDAY_FACTORS[weekday]!;
    }
  }

  private offset(day: number): number {
    const i = day - this.firstDay;
    if (i < 0 || day > this.lastDay) {
      throw new RangeError(`day ${isoDay(day)} is outside the simulated calendar ${isoDay(this.firstDay)}..${isoDay(this.lastDay)}`);
    }
    return i;
  }

  /** 0 = January. */
  month(day: number): number {
    return this.months[this.offset(day)]!;
  }

  /** 0 = Monday. */
  weekday(day: number): number {
    return this.weekdays[this.offset(day)]!;
  }

  /** Relative visit rate on `day` for a member whose visits follow `shape` (month x weekday). */
  seasonalFactor(shape: SeasonalShape, day: number): number {
    return this.seasonal[shape][this.offset(day)]!;
  }

  iso(day: number): string {
    const i = this.offset(day);
    return (this.isoCache[i] ??= isoDay(day));
  }
}
