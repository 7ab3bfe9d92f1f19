/**
 * Several replicas of one subgraph behind the gateway (`RECOMMENDATIONS_URL=http://a/graphql,http://b/graphql`):
 * requests go round-robin over the replicas that are up, and a request whose replica cannot be
 * reached is sent to the next one, within the same deadline.
 *
 * A replica is down from a connection failure, or from a readiness check that failed (the
 * gateway's health monitor checks every replica), until a later check or request succeeds.
 * While every replica is down, requests still go round-robin over all of them, so the first to
 * come back is found without waiting for a check.
 *
 * Failover resends only what cannot have been processed twice: a request whose connection was
 * refused or whose host is unknown never reached a replica; a connection reset may have, so it
 * is resent only for a query (a mutation's own event id keeps it idempotent, but its second
 * answer would say `applied: false`).
 */
import type { Fetcher, FetcherRequestInit, FetcherResponse } from '@apollo/utils.fetcher';

export interface ReplicaSet {
  readonly urls: readonly string[];
  /** The next replica in turn among those up; among all of them when none is. */
  next(): string;
  markDown(url: string): void;
  markUp(url: string): void;
  isUp(url: string): boolean;
}

export function replicaSet(urls: readonly string[]): ReplicaSet {
  if (urls.length === 0) throw new Error('a subgraph needs at least one URL');
  const down = new Set<string>();
  let turn = 0;
  return {
    urls,
    next: () => {
      const candidates = down.size < urls.length ? urls.filter((u) => !down.has(u)) : urls;
      const url = candidates[turn++ % candidates.length] ?? urls[0] ?? '';
      if (turn >= Number.MAX_SAFE_INTEGER) turn = 0;
      return url;
    },
    markDown: (url) => {
      if (urls.includes(url)) down.add(url);
    },
    markUp: (url) => {
      down.delete(url);
    },
    isUp: (url) => !down.has(url),
  };
}

/** Never reached the replica: safe to send elsewhere whatever the operation. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'ENETUNREACH']);
/** Dropped mid-request: the replica may have acted on it. */
const DROPPED = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

function codeOf(error: unknown): string | undefined {
  const withCode = error as { code?: unknown; cause?: { code?: unknown } };
  const code = withCode.code ?? withCode.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

function isMutation(init: FetcherRequestInit): boolean {
  const body = typeof init.body === 'string' ? init.body : init.body?.toString() ?? '';
  return /"query"\s*:\s*"\s*mutation\b/.test(body);
}

export interface BalancingOptions {
  /** Fires when a request is sent on to another replica after `from` failed with `code`. */
  onFailover?: (from: string, code: string) => void;
}

/**
 * A fetcher that ignores the URL it is given and sends each request to `replicas.next()`,
 * failing over as described above. With one replica it is `fetcher` with down-marking.
 */
export function balancingFetcher(replicas: ReplicaSet, fetcher: Fetcher, { onFailover }: BalancingOptions = {}): Fetcher {
  /** The next replica in turn not tried yet for this request, if any. */
  const untried = (tried: ReadonlySet<string>): string | undefined => {
    for (let i = 0; i < replicas.urls.length; i++) {
      const url = replicas.next();
      if (!tried.has(url)) return url;
    }
    return replicas.urls.find((u) => !tried.has(u));
  };
  return async (_url: string, init: FetcherRequestInit = {}): Promise<FetcherResponse> => {
    const tried = new Set<string>();
    let url = replicas.next();
    for (;;) {
      tried.add(url);
      try {
        const response = await fetcher(url, init);
        replicas.markUp(url);
        return response;
      } catch (error) {
        const code = codeOf(error);
        if (code === undefined || !(NOT_SENT.has(code) || DROPPED.has(code))) throw error;
        replicas.markDown(url);
        const next = NOT_SENT.has(code) || !isMutation(init) ? untried(tried) : undefined;
        if (next === undefined) throw error;
        onFailover?.(url, code);
        url = next;
      }
    }
  };
}
