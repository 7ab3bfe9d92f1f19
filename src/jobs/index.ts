/**
 * Results computed by a background job and served from the last one, with its age: what a
 * subgraph answers for work over the whole library (the segment overview, the watchlists), so
 * that no request waits for that work and none times out behind it.
 *
 * Contract: `request()` never runs the work on the caller's path; a request while a computation
 * is queued or running is merged into one more run after it, never a parallel one. `latest()`
 * answers the last completed result (undefined before the first); a failed run is logged and
 * the previous result keeps answering.
 *
 * Two runners behind this one interface: with REDIS_URL, a BullMQ queue per subgraph, whose
 * workers (one in every replica) take turns at the work, and whose results are kept in Redis,
 * so every replica serves the same result and a restarted one serves it at once; without
 * Redis, the work runs in the process itself, so `npm start` needs nothing installed.
 */
import type { Logger } from '../logging';
import { openBullmqResults } from './bullmq';
import { openInProcessResults } from './in-process';

export interface Computed<T> {
  value: T;
  /** When the run that produced it finished (ISO 8601). */
  computedAt: string;
}

export interface BackgroundResult<T> {
  /** Asks for a fresh computation, in the background. */
  request(): void;
  /** The last completed result, or undefined before the first. */
  latest(): Promise<Computed<T> | undefined>;
  /**
   * Whether a run is queued or running now (on the queue every replica takes from, with Redis):
   * what tells a first run that is still going from one that failed.
   */
  pending(): Promise<boolean>;
}

export interface BackgroundResults {
  /** Declares the result `name` (unique in the queue), computed by `compute`. */
  define<T>(name: string, compute: () => Promise<T>): BackgroundResult<T>;
  /** Which runner this is, for the logs and the readiness body. */
  readonly runner: 'bullmq' | 'in-process';
  /** Stops taking work; a run in progress finishes first. */
  close(): Promise<void>;
}

export interface BackgroundResultsOptions {
  /** REDIS_URL: with it, BullMQ; without, in process. */
  redisUrl: string | undefined;
  /** Namespaces the queue and the results in Redis. */
  keyPrefix: string;
  /** The queue's name: one per subgraph, so only its replicas take its jobs. */
  queue: string;
  logger: Logger;
}

export function openBackgroundResults(options: BackgroundResultsOptions): BackgroundResults {
  return options.redisUrl ? openBullmqResults({ ...options, redisUrl: options.redisUrl }) : openInProcessResults(options.logger);
}

/**
 * The latest result of `result`, waiting up to `waitMs` for one that `wanted` accepts (by
 * default: any). At the deadline, whatever is latest then, accepted or not (undefined if none).
 */
export async function latestWithin<T>(result: BackgroundResult<T>, waitMs: number, wanted: (latest: Computed<T>) => boolean = () => true, pollMs = 50): Promise<Computed<T> | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const latest = await result.latest();
    if ((latest && wanted(latest)) || Date.now() >= deadline) return latest;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }
}
