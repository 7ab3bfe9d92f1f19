/**
 * A model subgraph follows the write path: it reads the change records after the last one it
 * handled, drops the memoised values of the members they touch (in the shared feature store too,
 * when there is one: see ./feature-store), and when the library clock moves, brings what every
 * memo holds (at most its cache's bound) to the new date beside the old values and swaps them
 * together with the subgraph's as-of date in one step: the members active in between are computed
 * again, the others carried where the memo's source can (see `membersActiveBetween`). Requests
 * never wait for either.
 *
 * Every memo a model subgraph opens is keyed by member id, so a change maps to members: a
 * member record to itself, a loan record to the loan's member. A book record alone changes no
 * member's feature rows (a checkout or return of it also writes its loan and member records).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client } from 'pg';
import { CHANGES_CHANNEL, latestChange, readChanges, readClock, type ChangeRecord } from '../circulation';
import type { Config } from '../config';
import type { Logger } from '../logging';
import type { ProcessMetrics } from '../metrics';
import type { Store } from '../store';
import type { DatedValues } from './as-of-memo';
import { watchCommits } from './commit-watch';

/** What the follower keeps current: the subgraph's as-of date, its memos and a count of input changes. */
export interface Freshness {
  asOf: string;
  /** Everything the subgraph keeps as of the clock: its memos (openMemos adds them) and dated values (openAsOfValue). */
  memos: Set<DatedValues>;
  /** Grows whenever members' data changed or the date moved: what rankings over all members compare. */
  inputs: number;
}

export interface FollowerDeps {
  store: Store;
  freshness: Freshness;
  /** `follow.roll` false holds the features at the start date (a control for measuring rolls); unset rolls. */
  config: Pick<Config, 'clock'> & { follow: Omit<Config['follow'], 'roll'> & Partial<Pick<Config['follow'], 'roll'>> };
  logger: Logger;
  metrics: ProcessMetrics;
  /** The models whose lag is reported. */
  models: readonly string[];
}

export interface ChangeFollower {
  /** The last change record handled. */
  readonly seq: number;
  /** Reads and handles what is new now (the interval and NOTIFY call it too). */
  poll(): Promise<void>;
  stop(): Promise<void>;
}

const READ_BATCH = 1000;
/** On SQLite, commits wake the follower at most this often (besides the interval's polls). */
const COMMIT_WAKE_GAP_MS = 50;
/** Loan ids per `IN (...)` lookup: well under SQLite's and PostgreSQL's parameter limits. */
const LOAN_CHUNK = 500;

/** The members whose memoised values `changes` make stale. */
export async function changedMembers(store: Store, changes: readonly ChangeRecord[]): Promise<Set<number>> {
  const members = new Set<number>();
  const loans: number[] = [];
  for (const change of changes) {
    const id = Number(change.entityId);
    if (change.entity === 'member' && Number.isSafeInteger(id)) members.add(id);
    else if (change.entity === 'loan' && Number.isSafeInteger(id)) loans.push(id);
  }
  for (let i = 0; i < loans.length; i += LOAN_CHUNK) {
    const rows = await store.db.selectFrom('loans').select('member_id').where('id', 'in', loans.slice(i, i + LOAN_CHUNK)).execute();
    for (const row of rows) members.add(row.member_id);
  }
  return members;
}

/**
 * The members with a checkout or a return dated after `from` and up to `to`: on a roll from `from`
 * to `to`, every other member's memoised values can be carried forward without reading the store
 * (see MemoCarry), because no row of theirs is dated in between. Rows are never dated after the
 * library clock (an event dated later moves the clock in its own transaction), and a row that
 * changes after this read writes a change record, which drops the member's values (old and new).
 * A member who joined in between had no value at `from`; a renewal writes its loan's change record.
 * Two reads of the date indexes on loans.
 */
export async function membersActiveBetween(store: Store, from: string, to: string): Promise<Set<number>> {
  const [out, back] = await Promise.all([
    store.db.selectFrom('loans').select('member_id').where('checked_out_at', '>', from).where('checked_out_at', '<=', to).execute(),
    store.db.selectFrom('loans').select('member_id').where('returned_at', '>', from).where('returned_at', '<=', to).execute(),
  ]);
  return new Set([...out, ...back].map((row) => row.member_id));
}

/**
 * Starts following from the newest change record now (the memos, filled from the store from now
 * on, already reflect what came before), and from the library clock now. Polls every `config.follow.intervalMs`; on PostgreSQL a
 * NOTIFY on the changes channel also wakes it, on SQLite a rewrite of the store's change signal file (commit-watch). A failed read is logged and retried on the next tick.
 */
export async function followChanges(deps: FollowerDeps): Promise<ChangeFollower> {
  const { store, freshness, logger, metrics } = deps;
  /** Undefined until the newest change record could be read (a store without the table yet is retried). */
  let seq: number | undefined;
  let caughtUpAt = Date.now();
  let running: Promise<void> | undefined;
  let again = false;
  let stopped = false;
  let rolling: Promise<void> | undefined;
  let rollTarget = freshness.asOf;

  const reportLag = (): void => {
    const lag = (Date.now() - caughtUpAt) / 1000;
    for (const model of deps.models) metrics.featuresRefreshLag.set({ model }, lag);
  };

  /** Recomputes every memo at the newest target date, then swaps all of them and the as-of date at once. */
  const roll = async (): Promise<void> => {
    while (!stopped && rollTarget !== freshness.asOf) {
      const target = rollTarget;
      const measured = measureRoll();
      // One memo at a time: memos prepared side by side would each run a slice at every turn of
      // the event loop, and a request would wait for all of them at each of its turns.
      const moved = await membersActiveBetween(store, freshness.asOf, target);
      const commits: (() => void)[] = [];
      for (const memo of freshness.memos) commits.push(await memo.prepare(target, moved));
      const roll = measured.end(metrics);
      if (stopped || target !== rollTarget) continue;
      for (const commit of commits) commit();
      const from = freshness.asOf;
      freshness.asOf = target;
      freshness.inputs += 1;
      logger.info({ from, to: target, memos: commits.length, activeMembers: moved.size, ...roll }, 'features rolled forward to the library clock');
    }
  };

  const readOnce = async (): Promise<void> => {
    const seenAt = Date.now();
    seq ??= await latestChange(store.db);
    for (;;) {
      const changes = await readChanges(store, seq, READ_BATCH);
      const last = changes[changes.length - 1];
      if (!last) break;
      const members = await changedMembers(store, changes);
      if (members.size > 0) {
        for (const memo of freshness.memos) memo.invalidate(members);
        freshness.inputs += 1;
      }
      seq = last.seq;
      if (changes.length < READ_BATCH) break;
    }
    const clock = await readClock(store, { mode: deps.config.clock });
    if (clock > freshness.asOf && deps.config.follow.roll !== false) {
      if (clock > rollTarget) rollTarget = clock;
      rolling ??= roll()
        .catch((error: unknown) => logger.warn({ err: (error as Error).message, to: rollTarget }, 'rolling the features forward failed; the next change retries'))
        .finally(() => {
          rolling = undefined;
        });
    }
    if (!rolling) caughtUpAt = seenAt;
    reportLag();
  };

  const poll = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await readOnce();
        } catch (error) {
          logger.warn({ err: (error as Error).message, after: seq }, 'reading the change records failed; retrying on the next tick');
        }
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  await poll();
  const timer = setInterval(() => void poll(), deps.config.follow.intervalMs);
  timer.unref();
  const listener = store.dialect === 'postgres' ? await listen(store.url, () => void poll(), logger) : undefined;
  const commits = store.dialect === 'sqlite' ? watchCommits(store.url, () => void poll(), COMMIT_WAKE_GAP_MS, logger) : undefined;
  reportLag();

  return {
    get seq() {
      return seq ?? 0;
    },
    poll,
    async stop() {
      stopped = true;
      clearInterval(timer);
      commits?.close();
      await listener?.end().catch(() => undefined);
      await running;
      await rolling;
    },
  };
}

/** What one roll cost the process, as reported in its log line and metrics. */
interface RollCost {
  ms: number;
  cpuMs: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/**
 * Starts measuring a roll: its wall time, the process's CPU meanwhile, and the event-loop delay
 * meanwhile (how long a request arriving during the roll could wait for the loop).
 */
function measureRoll(): { end: (metrics: ProcessMetrics) => RollCost } {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  return {
    end(metrics) {
      delay.disable();
      const used = process.cpuUsage(cpu);
      const ms = Math.round(performance.now() - started);
      // No sample at all: the loop never came back to its timers while the roll ran, so it stood still throughout.
      const sampled = delay.count > 0;
      const cost: RollCost = {
        ms,
        cpuMs: Math.round((used.user + used.system) / 1000),
        loopDelayP99Ms: sampled ? Math.round(delay.percentile(99) / 1e6) : ms,
        loopDelayMaxMs: sampled ? Math.round(delay.max / 1e6) : ms,
      };
      metrics.featuresRollSeconds.observe(cost.ms / 1000);
      metrics.featuresRollCpuSeconds.inc(cost.cpuMs / 1000);
      metrics.featuresRollLoopDelay.set({ statistic: 'p99' }, cost.loopDelayP99Ms / 1000);
      metrics.featuresRollLoopDelay.set({ statistic: 'max' }, cost.loopDelayMaxMs / 1000);
      return cost;
    },
  };
}

/** A connection LISTENing on the changes channel; undefined (polling only) if it cannot be opened. */
async function listen(url: string, wake: () => void, logger: Logger): Promise<Client | undefined> {
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
    client.on('notification', wake);
    client.on('error', (error) => logger.warn({ err: error.message }, 'the change notification connection failed; following by polling only'));
    await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    return client;
  } catch (error) {
    logger.warn({ err: (error as Error).message }, 'could not LISTEN for change notifications; following by polling only');
    await client.end().catch(() => undefined);
    return undefined;
  }
}
