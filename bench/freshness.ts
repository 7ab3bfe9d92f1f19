/**
 * Freshness: how soon a checkout shows in what the graph answers.
 *
 * Through the gateway (the default): the whole graph runs on a copy of the generated library;
 * `checkOut` mutations (role circulation) go to the gateway at a steady rate, each of a book the
 * member is recommended now, for a different member each time. For every `--watch-every`-th
 * checkout, the time from the mutation's answer until a staff query of the member, re-sent every
 * `--poll` ms, shows both: `Member.recommendations` no longer lists the book, and
 * `Member.loans` lists the new loan with an `overdueRisk`. Prints p50/p99 of that delay and of
 * the mutations' own latency.
 *
 * `--in-process`: the memos alone, as before: checkouts applied through the write path on an
 * in-memory library while a change follower refreshes the overdue and recommendations memos;
 * the time until the member's memoised open loans hold the loan and the history the book.
 *
 *   node dist/bench/freshness.js [--from FILE] [--rate EVENTS_PER_S] [--events N] [--watch-every K] [--poll MS] [--interval FOLLOW_MS] [--json]
 *   node dist/bench/freshness.js --in-process [--on-disk] [--members N] [--rate EVENTS_PER_S] [--events N] [--interval FOLLOW_MS] [--json]
 *
 * `--on-disk` keeps that library in a SQLite file, written on one connection and followed on
 * another, as the library and model subgraphs do: the follower then also wakes on commits.
 */
import 'reflect-metadata';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signDevelopmentToken } from '../gateway/auth';
import { applyEvent, parseEvent } from '../src/circulation';
import { parseFlags } from '../src/cli/flags';
import { loadConfig, SUBGRAPH_NAMES, type Config } from '../src/config';
import { launchGraph } from '../src/graph-launcher';
import { memberOpenLoanFeatures } from '../src/features/overdue';
import { borrowingHistoriesById } from '../src/features/recommendations';
import { createLogger } from '../src/logging';
import { createProcessMetrics } from '../src/metrics';
import { followChanges, type Freshness } from '../src/model-runtime/follow';
import { openMemos } from '../src/model-runtime/model-subgraph';
import { migrateStore, openStore, sqlitePath, type Store } from '../src/store';
import { summarise } from './load';
import { quiesce } from './metrics';
import { loadAverage } from './processes';

/** A library of `members` members and `books` books, with no loans yet, in memory or in `file`. */
async function library(members: number, books: number, file = ':memory:'): Promise<Store> {
  const store = openStore(file);
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

const USAGE = `usage: node dist/bench/freshness.js [--from FILE] [--rate EVENTS_PER_S] [--events N] [--watch-every K] [--poll MS] [--interval FOLLOW_MS] [--json]
       node dist/bench/freshness.js --in-process [--on-disk] [--members N] [--rate EVENTS_PER_S] [--events N] [--interval FOLLOW_MS] [--json]
  --from FILE       the generated library the graph runs on (a copy; default: the configured SQLite database)
  --rate R          checkouts per second (default 200)
  --events N        checkouts in all (default 2000)
  --watch-every K   watch every K-th checkout until it is visible (default 10)
  --poll MS         how often a watched member is asked again (default 50)
  --interval MS     the model subgraphs' FOLLOW_INTERVAL_MS (default 200, as served)
  --in-process      measure the memos alone, without HTTP or models
  --on-disk         (--in-process) the library in a temporary SQLite file, followed on a second connection
  --members N       (--in-process) members of the library (default 2000)
  --json            print the result as one JSON object`;

type Flags = { 'on-disk'?: boolean; members?: number; rate?: number; events?: number; interval?: number; json?: boolean; from?: string; 'watch-every'?: number; poll?: number };

async function main(): Promise<void> {
  const { flags } = parseFlags(process.argv.slice(2), {
    'in-process': 'boolean', 'on-disk': 'boolean', members: 'number', rate: 'number', events: 'number', interval: 'number', json: 'boolean', from: 'string', 'watch-every': 'number', poll: 'number',
  }, USAGE);
  if (flags['in-process']) await inProcess(flags);
  else await throughGateway(loadConfig(), flags);
}

async function inProcess(flags: Flags): Promise<void> {
  const members = flags.members ?? 2000;
  const rate = flags.rate ?? 200;
  const events = flags.events ?? 2000;
  const interval = flags.interval ?? 200;
  // On disk, the writes and the follower use two connections, as the library and a model subgraph do.
  const dir = flags['on-disk'] ? mkdtempSync(path.join(tmpdir(), 'shelfmark-freshness-')) : undefined;
  const file = dir ? path.join(dir, 'library.db') : undefined;
  const store = await library(members, 500, file);
  const follows = file ? openStore(`sqlite:${file}`) : store;
  const metrics = createProcessMetrics('freshness-bench');
  const freshness: Freshness = { asOf: '2025-06-30', memos: new Set(), inputs: 0 };
  const memos = openMemos({ store: follows, asOf: freshness.asOf, metrics, memos: freshness.memos }, { openLoans: memberOpenLoanFeatures, history: borrowingHistoriesById });
  const ids = Array.from({ length: members }, (_, i) => i + 1);
  await memos.openLoans.warm(ids);
  await memos.history.warm(ids);
  const follower = await followChanges({ store: follows, freshness, config: { clock: 'stored', follow: { intervalMs: interval, rankingRefreshMs: 30_000 } }, logger: createLogger('bench', 'warn'), metrics, models: ['overdue', 'recommendations'] });
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
  if (follows !== store) await follows.close();
  await store.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  const summary = summarise(latencies);
  const where = file ? 'a SQLite file' : 'memory';
  if (flags.json) console.log(JSON.stringify({ events, rate: achieved, members, store: where, visibleMs: summary, load: loadAverage() }));
  else console.log(`${events} checkouts at ${achieved.toFixed(0)}/s over ${members} members in ${where}: following every ${interval} ms: visible in the memos p50 ${summary.p50.toFixed(1)} ms, p99 ${summary.p99.toFixed(1)} ms; load average ${loadAverage()}`);
}

interface GraphQLAnswer<T> {
  data?: T;
  errors?: { message: string }[];
}

/** Posts one GraphQL operation to the gateway over a keep-alive agent; resolves to its answer, rejects on a transport error. */
function post<T>(agent: http.Agent, url: URL, token: string, query: string, variables: Record<string, unknown>): Promise<GraphQLAnswer<T>> {
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, timeout: 10_000, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(body) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString()) as GraphQLAnswer<T>);
          } catch {
            reject(new Error(`HTTP ${response.statusCode}: not JSON`));
          }
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('no answer within 10 s')));
    request.on('error', reject);
    request.end(body);
  });
}

const RECOMMENDED = `query Recommended($after: String) { members(first: 100, after: $after) { nodes { id branch { id } recommendations(first: 1) { book { id } } } } }`;
const CHECK_OUT = `mutation RecordCheckout($input: CheckOutInput!) { checkOut(input: $input) { applied clock loan { id } } }`;
const VISIBLE = `query Visible($id: ID!) { member(id: $id) { recommendations(first: 10) { book { id } } loans(first: 5, status: OPEN) { id overdueRisk { probability } } } }`;

interface Checkout {
  memberId: string;
  bookId: string;
  branchId: string;
}

/** One checkout per member: of the book the member is recommended first now. */
async function recommendedCheckouts(post: <T>(token: 'staff', query: string, variables: Record<string, unknown>) => Promise<GraphQLAnswer<T>>, count: number): Promise<Checkout[]> {
  const checkouts: Checkout[] = [];
  for (let after = 0; checkouts.length < count; after += 100) {
    type Page = { members: { nodes: { id: string; branch: { id: string }; recommendations: { book: { id: string } }[] | null }[] } };
    const answer = await post<Page>('staff', RECOMMENDED, { after: Buffer.from(`id:${after}`).toString('base64url') });
    const nodes = answer.data?.members.nodes ?? [];
    if (answer.errors || nodes.length === 0) throw new Error(`reading recommendations failed: ${JSON.stringify(answer.errors ?? 'no more members')}`);
    for (const node of nodes) {
      const book = node.recommendations?.[0]?.book.id;
      if (book) checkouts.push({ memberId: node.id, bookId: book, branchId: node.branch.id });
    }
  }
  return checkouts.slice(0, count);
}

async function throughGateway(config: Config, flags: Flags): Promise<void> {
  const rate = flags.rate ?? 200;
  const events = flags.events ?? 2000;
  const watchEvery = flags['watch-every'] ?? 10;
  const pollMs = flags.poll ?? 50;
  const interval = flags.interval ?? 200;
  const from = path.resolve(flags.from ?? sqlitePath(config.databaseUrl) ?? '');
  const dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-freshness-'));
  const file = path.join(dir, 'library.db');
  copyFileSync(from, file);
  const graph = await launchGraph({
    projectRoot: config.projectRoot, subgraphs: SUBGRAPH_NAMES, logs: 'inherit', startTimeoutMs: 300_000,
    env: { HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: `sqlite:${file}`, FOLLOW_INTERVAL_MS: String(interval) },
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: 4000 });
  try {
    const url = new URL(graph.gatewayUrl);
    // Many desks and readers: the gateway allows each identity only a few requests in flight.
    const pool = (role: 'staff' | 'circulation') => Array.from({ length: 256 }, (_, k) => signDevelopmentToken(config, { sub: `freshness-${role}-${k}`, role }, '2h'));
    const tokens = { staff: pool('staff'), circulation: pool('circulation') };
    let asked = 0;
    const ask = <T>(role: keyof typeof tokens, query: string, variables: Record<string, unknown>) => post<T>(agent, url, tokens[role][asked++ % 256]!, query, variables);
    const urls = new Map<string, string>([['gateway', graph.gatewayUrl], ...Object.entries<string>(graph.subgraphUrls)]);
    process.stderr.write('freshness: waiting for the feature memos to fill...\n');
    await quiesce(urls, { timeoutMs: 600_000, pollMs: 2000 });
    const checkouts = await recommendedCheckouts(ask, events);
    const clock = (await ask<{ clock: string }>('staff', '{ clock }', {})).data?.clock;
    if (!clock) throw new Error('the gateway did not answer the clock');
    process.stderr.write(`freshness: ${checkouts.length} checkouts of recommended books at ${rate}/s on ${clock} (load average ${loadAverage()})\n`);

    const mutationMs: number[] = [];
    const visibleMs: number[] = [];
    const failures: string[] = [];
    let notVisible = 0;
    const watches: Promise<void>[] = [];
    const started = performance.now();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < checkouts.length; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      const { memberId, bookId, branchId } = checkouts[i]!;
      sends.push((async () => {
        const sent = performance.now();
        type Result = { checkOut: { applied: boolean; loan: { id: string } | null } };
        let answer: GraphQLAnswer<Result>;
        try {
          answer = await ask<Result>('circulation', CHECK_OUT, { input: { eventId: `freshness-${process.pid}-${i}`, memberId, bookId, branchId, at: `${clock}T12:00:00Z` } });
        } catch (error) {
          failures.push(`checkOut: ${(error as Error).message}`);
          return;
        }
        const answered = performance.now();
        mutationMs.push(answered - sent);
        const loanId = answer.data?.checkOut.loan?.id;
        if (!loanId || answer.errors) {
          failures.push(`checkOut: ${JSON.stringify(answer.errors ?? answer.data)}`.slice(0, 300));
          return;
        }
        if (i % watchEvery !== 0) return;
        watches.push((async () => {
          const deadline = answered + 10_000;
          while (performance.now() < deadline) {
            type Seen = { member: { recommendations: { book: { id: string } }[] | null; loans: { id: string; overdueRisk: { probability: number } | null }[] } | null };
            const seen = await ask<Seen>('staff', VISIBLE, { id: memberId }).catch(() => undefined);
            const member = seen?.data?.member;
            const recommended = member?.recommendations?.some((r) => r.book.id === bookId) ?? true;
            const loan = member?.loans.find((l) => l.id === loanId);
            if (member && member.recommendations !== null && !recommended && loan?.overdueRisk) {
              visibleMs.push(performance.now() - answered);
              return;
            }
            await new Promise((resolve) => setTimeout(resolve, pollMs));
          }
          notVisible += 1;
        })());
      })());
    }
    // The rate sent: up to the last request's sending, not its answer (which may wait for a timeout).
    const achieved = checkouts.length / ((performance.now() - started) / 1000);
    await Promise.all(sends);
    await Promise.all(watches);
    const result = {
      events: checkouts.length, rate: achieved, watched: visibleMs.length + notVisible, notVisibleWithin10s: notVisible, failed: failures.length, failures: failures.slice(0, 3),
      followIntervalMs: interval, pollMs, mutationMs: summarise(mutationMs), visibleMs: summarise(visibleMs), load: loadAverage(),
    };
    if (flags.json) console.log(JSON.stringify(result));
    else {
      console.log(`${result.events} checkouts through the gateway at ${achieved.toFixed(0)}/s (${result.failed} failed${result.failed ? `: ${result.failures.join('; ')}` : ''}); mutation p50 ${result.mutationMs.p50.toFixed(1)} ms, p99 ${result.mutationMs.p99.toFixed(1)} ms`);
      console.log(`visible (recommendations without the book, loans with the loan and its overdueRisk) for ${visibleMs.length} of ${result.watched} watched: p50 ${result.visibleMs.p50.toFixed(0)} ms, p99 ${result.visibleMs.p99.toFixed(0)} ms, max ${result.visibleMs.max.toFixed(0)} ms; `
        + `${notVisible} not within 10 s; following every ${interval} ms, polled every ${pollMs} ms; load average ${result.load}`);
    }
  } finally {
    agent.destroy();
    await graph.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exitCode = 1;
});
