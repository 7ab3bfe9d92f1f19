/**
 * `collectionMonthlyLoans` for a serving process: on SQLite, read on a worker thread
 * (demand-counts-worker.ts) so that the serving thread keeps answering while three years of
 * loans are grouped; on PostgreSQL (whose reads do not block the thread) and in-memory SQLite
 * (which another connection cannot open), read here.
 */
import { Worker } from 'node:worker_threads';
import type { DemandSeries } from '../ml/forecasting/series';
import { sqlitePath, type Store } from '../store';
import { compiledScript } from '../util/worker-script';
import { collectionMonthlyLoans, type CollectionKey, type MonthlyCalendar } from './demand-counts';
import type { CollectionCountsJob, FromCollectionCounts } from './demand-counts-worker';

export async function collectionMonthlyLoansOffThread(
  store: Store,
  keys: readonly CollectionKey[],
  calendar: MonthlyCalendar,
  known?: { calendar: MonthlyCalendar; series: readonly DemandSeries[] },
): Promise<DemandSeries[]> {
  const file = store.dialect === 'sqlite' ? sqlitePath(store.url) : undefined;
  if (file === undefined || file === ':memory:') return collectionMonthlyLoans(store, keys, calendar, known);
  const job: CollectionCountsJob = { databaseUrl: store.url, keys: [...keys], calendar, ...(known ? { known: { calendar: known.calendar, series: [...known.series] } } : {}) };
  const worker = new Worker(compiledScript(__dirname, 'demand-counts-worker.js', "the collection counts' reader"), { workerData: job });
  return new Promise<DemandSeries[]>((resolve, reject) => {
    worker.once('message', (message: FromCollectionCounts) => (message.kind === 'series' ? resolve(message.series) : reject(new Error(message.message))));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the collection counts' reader ended (code ${code}) before it answered`)));
  });
}
