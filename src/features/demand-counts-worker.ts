/**
 * One read of the collections' monthly loans (`collectionMonthlyLoans`) on a thread of its own,
 * with its own read-only connection. Started by `collectionMonthlyLoansOffThread`
 * (demand-counts-thread.ts), never on its own.
 *
 * Why a thread: SQLite reads block the thread that makes them. At 1,000,000 members a week of
 * checkouts is about 330,000 loans, and grouping them by book costs 0.4–0.8 s of CPU (several
 * seconds of wall while the file is not yet in the page cache): the demand subgraph read three
 * years of them at start on its serving thread and answered nothing, its health check included,
 * for minutes. Here the serving thread only waits for one message.
 *
 * Contract: posts exactly one message, the series or the error's message, then ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DemandSeries } from '../ml/forecasting/series';
import { openStore } from '../store';
import { collectionMonthlyLoans, type CollectionKey, type MonthlyCalendar } from './demand-counts';

export interface CollectionCountsJob {
  databaseUrl: string;
  keys: CollectionKey[];
  calendar: MonthlyCalendar;
  known?: { calendar: MonthlyCalendar; series: DemandSeries[] };
}

export type FromCollectionCounts = { kind: 'series'; series: DemandSeries[] } | { kind: 'error'; message: string };

async function read(port: NonNullable<typeof parentPort>, job: CollectionCountsJob): Promise<void> {
  const store = openStore(job.databaseUrl, { readonly: true });
  try {
    const series = await collectionMonthlyLoans(store, job.keys, job.calendar, job.known);
    port.postMessage({ kind: 'series', series } satisfies FromCollectionCounts);
  } catch (error) {
    port.postMessage({ kind: 'error', message: (error as Error).message } satisfies FromCollectionCounts);
  } finally {
    await store.close();
  }
}

if (parentPort) void read(parentPort, workerData as CollectionCountsJob);
