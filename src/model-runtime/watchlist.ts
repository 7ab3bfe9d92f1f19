/**
 * Rankings over every member ("who is most at risk?", the segment overview), computed by a
 * background job (src/jobs) and served from its last result with that result's age: a request
 * never waits for a run over the library, so none times out behind one.
 *
 * A run is asked for when the subgraph starts, when the production version changed, and when the
 * inputs changed (the change follower counts changes in `inputs`) but no more often than
 * `config.follow.rankingRefreshMs`. Until the first result exists a request waits for it up to
 * `config.aggregates.firstResultWaitMs`, then answers AGGREGATE_PENDING (retry shortly). After a
 * new version is promoted a request waits as long for that version's result, then answers the
 * previous version's, which names its version.
 */
import { badUserInput, ErrorCode, shelfmarkError } from '../errors';
import { latestWithin, type BackgroundResult } from '../jobs';
import type { ModelSlot } from './model-slot';
import type { ModelSubgraphDeps } from './model-subgraph';

export interface Ranked<K> {
  key: K;
  probability: number;
}

/** A served result and how old it is. */
export interface Aged<T> {
  value: T;
  /** The model version that computed it. */
  version: string;
  /** When its run finished (ISO 8601). */
  computedAt: string;
  /** Seconds since then, at the time of the answer. */
  ageSeconds: number;
}

/** What a ranking reads to know whether it is stale, and where its runs are queued. */
export type RankingDeps = Pick<ModelSubgraphDeps, 'inputs' | 'logger' | 'background'> & {
  config: { follow: { rankingRefreshMs: number }; aggregates: { firstResultWaitMs: number; checkIntervalMs: number } };
};

export interface Ranking<T> {
  /** The last result with its age; AGGREGATE_PENDING when none exists within the first wait. */
  current(): Promise<Aged<T>>;
  /**
   * Asks for the first run now (start-up) and settles when it is no longer queued or running
   * (computed or failed); at once when nothing was asked for (no version loaded). Never rejects.
   */
  warm(): Promise<void>;
  /** Stops checking for staleness. */
  stop(): void;
}

/** Seconds to suggest to a client that meets AGGREGATE_PENDING. */
const PENDING_RETRY_SECONDS = 5;

/** How often the warm-up looks whether the first run is still going (a result tells its end only when asked). */
const SETTLED_POLL_MS = 50;

/**
 * `compute` run in the background as `name`, kept per model version and per input count as
 * described above. A failed run is logged by the runner and asked for again on a later check.
 */
export function refreshedRanking<T>(name: string, slot: ModelSlot, deps: RankingDeps, compute: () => Promise<{ version: string; value: T }>): Ranking<T> {
  // Defined on first use (start-up's warm or a first request), so opening the services starts nothing.
  let opened: { result: BackgroundResult<{ version: string; value: T }>; timer: NodeJS.Timeout } | undefined;
  let asked: { version: string; inputs: number; at: number } | undefined;
  let stopped = false;

  const ask = (result: BackgroundResult<unknown>, version: string): void => {
    asked = { version, inputs: deps.inputs, at: Date.now() };
    result.request();
  };

  /**
   * Asks for a run when none was asked for yet, the version changed, or the inputs moved (or the
   * first run failed) an interval ago. A first run still queued or running is not asked for again:
   * over a large library it outlasts the interval, and a second run would follow it at once.
   */
  const check = async (result: BackgroundResult<{ version: string; value: T }>): Promise<void> => {
    if (!slot.isReady()) return;
    const version = slot.current().version;
    if (!asked || asked.version !== version) return ask(result, version);
    if (Date.now() - asked.at < deps.config.follow.rankingRefreshMs) return;
    if (asked.inputs !== deps.inputs) return ask(result, version);
    if (!(await result.latest()) && !(await result.pending())) ask(result, version);
  };

  const open = (): BackgroundResult<{ version: string; value: T }> => {
    if (!opened) {
      const result = deps.background.define(name, compute);
      const timer = setInterval(() => void checkLogged(result), deps.config.aggregates.checkIntervalMs);
      timer.unref();
      if (stopped) clearInterval(timer);
      opened = { result, timer };
    }
    return opened.result;
  };
  const checkLogged = (result: BackgroundResult<{ version: string; value: T }>): Promise<void> =>
    check(result).catch((error: unknown) => deps.logger.warn({ result: name, err: (error as Error).message }, 'checking a background ranking failed'));

  /**
   * Settles once the run asked for last is no longer queued or running (with Redis, in any
   * replica; there a request still on its way to the queue reads as not pending, so this can
   * settle before the run starts).
   */
  const settled = async (result: BackgroundResult<unknown>): Promise<void> => {
    while (asked && !stopped) {
      try {
        if (!(await result.pending())) return;
      } catch (error) {
        deps.logger.warn({ result: name, err: (error as Error).message }, 'could not read whether a background ranking is still running');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, SETTLED_POLL_MS));
    }
  };

  return {
    current: async () => {
      // No version loaded: MODEL_UNAVAILABLE, as every field of the model answers.
      const serving = slot.current().version;
      const result = open();
      void checkLogged(result);
      const latest = await latestWithin(result, deps.config.aggregates.firstResultWaitMs, (r) => r.value.version === serving);
      if (!latest) {
        throw shelfmarkError(ErrorCode.AGGREGATE_PENDING, `${name} is being computed for the first time since the graph started; retry in a few seconds`, {
          retryAfterSeconds: PENDING_RETRY_SECONDS,
        });
      }
      const ageSeconds = Math.max(0, (Date.now() - Date.parse(latest.computedAt)) / 1000);
      return { value: latest.value.value, version: latest.value.version, computedAt: latest.computedAt, ageSeconds };
    },
    warm: async () => {
      const result = open();
      await checkLogged(result);
      await settled(result);
    },
    stop: () => {
      stopped = true;
      if (opened) clearInterval(opened.timer);
    },
  };
}

/**
 * The `maximum` highest-probability entries of a ranking computed a slice at a time (see
 * AsOfMemo.scan): it holds at most twice `maximum` entries whatever the library's size, so a
 * ranking over every member costs one slice of features plus this. Every slice must have been
 * scored by the same model version; a promotion landing mid-run fails the run, and the
 * background job runs it again for the new version.
 */
export class TopRanked<K> {
  private entries: Ranked<K>[] = [];
  private version: string | undefined;

  constructor(private readonly maximum: number) {}

  add(version: string, entries: readonly Ranked<K>[]): void {
    if (this.version !== undefined && this.version !== version) throw new Error(`the model version changed from ${this.version} to ${version} during the run`);
    this.version = version;
    this.entries.push(...entries);
    if (this.entries.length > 2 * this.maximum) this.trim();
  }

  /** The highest entries, highest first, and the version that scored them (`fallback` when no slice had any). */
  result(fallback: () => string): { version: string; ranked: Ranked<K>[] } {
    this.trim();
    return { version: this.version ?? fallback(), ranked: this.entries };
  }

  private trim(): void {
    this.entries.sort((a, b) => b.probability - a.probability);
    this.entries.length = Math.min(this.entries.length, this.maximum);
  }
}

/** A watchlist's answer: the entries asked for, and the age of the ranking they come from. */
export type WatchlistAnswer<K> = Omit<Aged<unknown>, 'value'> & { entries: Ranked<K>[] };

export interface RankedWatchlist<K> extends Omit<Ranking<Ranked<K>[]>, 'current'> {
  top(first: number, minProbability: number): Promise<WatchlistAnswer<K>>;
}

/**
 * The `maximum` highest of `rankAll`'s probabilities, as a background ranking. Keeping only those
 * is exact: any answer (`first` ≤ maximum above a threshold) is a prefix of them.
 */
export function rankedWatchlist<K>(
  field: string,
  maximum: number,
  slot: ModelSlot,
  deps: RankingDeps,
  rankAll: () => Promise<{ version: string; ranked: Ranked<K>[] }>,
): RankedWatchlist<K> {
  const ranking = refreshedRanking(field, slot, deps, async () => {
    const { version, ranked } = await rankAll();
    ranked.sort((a, b) => b.probability - a.probability);
    return { version, value: ranked.slice(0, maximum) };
  });
  return {
    warm: ranking.warm,
    stop: ranking.stop,
    top: async (first, minProbability) => {
      if (!Number.isInteger(first) || first < 0 || first > maximum) throw badUserInput(`${field}: first must be between 0 and ${maximum}, got ${first}`);
      if (!(minProbability >= 0 && minProbability <= 1)) throw badUserInput(`${field}: minProbability must be between 0 and 1, got ${minProbability}`);
      const { value, ...age } = await ranking.current();
      return { ...age, entries: value.filter((r) => r.probability >= minProbability).slice(0, first) };
    },
  };
}
