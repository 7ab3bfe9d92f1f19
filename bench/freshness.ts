/**
 * Freshness of the memoised features, in process: checkouts are applied through the write path
 * at a steady rate while a change follower refreshes the overdue and recommendations memos; for
 * each checkout, the time from the write's answer to the member's memoised open loans holding
 * the new loan and its borrowing history listing the book. Prints p50/p99 (no HTTP, no model).
 *
 *   node dist/bench/freshness.js [--members N] [--rate EVENTS_PER_S] [--events N] [--interval FOLLOW_MS] [--json]
 */
import { applyEvent, parseEvent } from '../src/circulation';
import { parseFlags } from '../src/cli/flags';
import { memberOpenLoanFeatures } from '../src/features/overdue';
import { borrowingHistoriesById } from '../src/features/recommendations';
import { createLogger } from '../src/logging';
import { createProcessMetrics } from '../src/metrics';
import { followChanges, type Freshness } from '../src/model-runtime/follow';
import { openMemos } from '../src/model-runtime/model-subgraph';
import { migrateStore, openStore, type Store } from '../src/store';
import { summarise } from './load';

/** An in-memory library of `members` members and `books` books, with no loans yet. */
async function library(members: number, books: number): Promise<Store> {
  const store = openStore(':memory:');
  await migrateStore(store);
  await store.db.insertInto('meta').values({ key: 'as_of', value: '2025-06-30' }).execute();
  await store.db.insertInto('branches').values({ id: 1, name: 'Central', size: 1 }).execute();
  for (let i = 0; i < members; i += 500) {
    const ids = Array.from({ length: Math.min(500, members - i) }, (_, j) => i + j + 1);
    await store.db.insertInto('members').values(ids.map((id) => ({ id, name: `Member ${id}`, email: `m${id}@example.org`, joined_at: '2023-01-15', branch_id: 1 }))).execute();
  }
  await store.db
    .insertInto('books')
    .values(Array.from({ length: books }, (_, i) => ({
      id: i + 1, title: `Book ${i + 1}`, authors: JSON.stringify(['Author']), genre: 'Mystery',
      collection: 'Adult Fiction', publication_year: 2000, isbn: null, average_rating: 4, ratings_count: 1000,
    })))
    .execute();
  return store;
}

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), { members: 'number', rate: 'number', events: 'number', interval: 'number', json: 'boolean' }, 'node dist/bench/freshness.js [--members N] [--rate EVENTS_PER_S] [--events N] [--interval FOLLOW_MS] [--json]');
  const members = flags.members ?? 2000;
  const rate = flags.rate ?? 200;
  const events = flags.events ?? 2000;
  const interval = flags.interval ?? 200;
  const store = await library(members, 500);
  const metrics = createProcessMetrics('freshness-bench');
  const freshness: Freshness = { asOf: '2025-06-30', memos: new Set(), inputs: 0 };
  const memos = openMemos({ store, asOf: freshness.asOf, metrics, memos: freshness.memos }, { openLoans: memberOpenLoanFeatures, history: borrowingHistoriesById });
  const ids = Array.from({ length: members }, (_, i) => i + 1);
  await memos.openLoans.warm(ids);
  await memos.history.warm(ids);
  const follower = await followChanges({ store, freshness, config: { clock: 'stored', follow: { intervalMs: interval, rankingRefreshMs: 30_000 } }, logger: createLogger('bench', 'warn'), metrics, models: ['overdue', 'recommendations'] });
  const latencies: number[] = [];
  const watches: Promise<void>[] = [];
  const started = Date.now();
  for (let i = 0; i < events; i += 1) {
    const due = started + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const memberId = (i % members) + 1;
    const bookId = (i % 500) + 1;
    const applied = await applyEvent(store, parseEvent({ id: `fresh-${i}`, type: 'checkOut', at: '2025-06-30T12:00:00Z', memberId: String(memberId), bookId: String(bookId), branchId: '1' }));
    const answered = performance.now();
    watches.push((async () => {
      for (;;) {
        const [[open], [history]] = await Promise.all([memos.openLoans.load([memberId]), memos.history.load([memberId])]);
        if (open?.loans.some((l) => l.id === applied.loanId) && history?.bookIds.includes(bookId)) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      latencies.push(performance.now() - answered);
    })());
  }
  await Promise.all(watches);
  const achieved = events / ((Date.now() - started) / 1000);
  await follower.stop();
  await store.close();
  const summary = summarise(latencies);
  if (flags.json) console.log(JSON.stringify({ events, rate: achieved, members, visibleMs: summary }));
  else console.log(`${events} checkouts at ${achieved.toFixed(0)}/s over ${members} members: following every ${interval} ms: visible in the memos p50 ${summary.p50.toFixed(1)} ms, p99 ${summary.p99.toFixed(1)} ms`);
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exitCode = 1;
});
