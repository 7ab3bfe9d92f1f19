/**
 * The library clock: the day the store says it is. It is stored with the data (`meta.as_of`),
 * moved forward by circulation events and end-of-day ticks, never back. With `CLOCK=wall` the
 * clock is never behind the real date (UTC), so a live library answers as of today.
 */
import type { Kysely } from 'kysely';
import type { Database, Store } from '../store';
import { msToDay } from '../util/dates';

import type { ClockMode } from '../config';

export type { ClockMode };

export interface LibraryClock {
  mode: ClockMode;
  /** The real date, 'YYYY-MM-DD' (a parameter so tests can fix it). */
  today?: () => string;
}

export const STORED_CLOCK: LibraryClock = { mode: 'stored' };

export function realToday(): string {
  return msToDay(Date.now());
}

export async function readStoredClock(db: Kysely<Database>): Promise<string> {
  const row = await db.selectFrom('meta').select('value').where('key', '=', 'as_of').executeTakeFirst();
  if (!row) throw new Error('the store has no library clock (meta.as_of): run `npm run generate` first');
  return row.value;
}

/** The effective date given the stored one: in wall mode, the later of it and today. */
export function effectiveClock(stored: string, clock: LibraryClock): string {
  if (clock.mode === 'stored') return stored;
  const today = (clock.today ?? realToday)();
  return today > stored ? today : stored;
}

/** The library's current date. */
export async function readClock(store: Store, clock: LibraryClock = STORED_CLOCK): Promise<string> {
  return effectiveClock(await readStoredClock(store.db), clock);
}
