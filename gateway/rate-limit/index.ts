/**
 * Rate limits per identity (role and subject), with graphql-rate-limit deciding and a
 * `WindowCounter` counting. Every operation counts: a batched HTTP request of five operations
 * costs five (and the gateway adds one per APQ registration it carries). Every answer carries `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`
 * and `RateLimit-Policy`; a refused one is HTTP 429 with `Retry-After` and code RATE_LIMITED.
 *
 * graphql-rate-limit's own stores read the timestamps, decide, then write them back, so two
 * concurrent requests can both take the last slot. Here its store is a thin adapter whose read
 * is the counter's atomic `take` (which already recorded the request when it fits), and whose
 * write has nothing left to do.
 */
import type { RequestHandler } from 'express';
import type { GraphQLResolveInfo } from 'graphql';
import { getGraphQLRateLimiter, Store, type Identity as LimiterIdentity } from 'graphql-rate-limit';
import type { RateLimit, Role } from '../../src/config';
import { ErrorCode } from '../../src/errors';
import { subjectOf, type Identity } from '../../src/identity';
import { identityOf } from '../auth';
import { httpError, sendError } from '../errors';
import { limitDetails, type CostCharge } from '../limits';
import type { Decision, Quota, WindowCounter } from './counter';

export { MemoryWindowCounter, RedisWindowCounter, type Decision, type Quota, type WindowCounter } from './counter';
export { CountGenerations } from './generation';
export { ResilientWindowCounter } from './resilient';

/** graphql-rate-limit's store for one request: `getForIdentity` counts atomically, once. */
class AtomicTakeStore extends Store {
  decision: Decision | undefined;

  constructor(
    private readonly counter: WindowCounter,
    private readonly cost: number,
    private readonly quota: Quota,
  ) {
    super();
  }

  async getForIdentity(identity: LimiterIdentity): Promise<readonly number[]> {
    this.decision = await this.counter.take(`rate:${identity.contextIdentity}:${identity.fieldIdentity}`, this.cost, this.quota);
    // The counter has decided. The limiter, given the request's own cost as its max, reaches the
    // same verdict from one stamp (refused) or none (admitted): handing it a stamp per request
    // counted in the window made it copy and filter hundreds of thousands of them per request
    // for a busy circulation system.
    return this.decision.admitted ? [] : [Date.now()];
  }

  setForIdentity(): void {
    // Already recorded by the atomic take in getForIdentity (and refused requests are not counted).
  }
}

export interface RateLimitOptions {
  limits: Record<Role, RateLimit>;
  counter: WindowCounter;
  /** What a request body counts against the limit; one per operation unless given. */
  requestCost?: (body: unknown) => number;
  /** Fires for each refused request. */
  onLimited?: (identity: Identity) => void;
}

/** The limiter's field name, part of the window's key. */
const COUNTED_FIELD = 'operations';

function seconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000));
}

/** How many operations one HTTP request carries (a JSON array body is a batch). */
export function operationCount(body: unknown): number {
  return Array.isArray(body) ? Math.max(body.length, 1) : 1;
}

/** Express middleware; runs after `authenticate` and after the body is parsed. */
export function rateLimit({ limits, counter, requestCost = operationCount, onLimited }: RateLimitOptions): RequestHandler {
  for (const [role, { max, windowSeconds }] of Object.entries(limits)) {
    if (max < 1 || windowSeconds < 1) throw new Error(`rate limit for ${role} must allow at least 1 request in at least 1 second, got ${max} per ${windowSeconds} s`);
  }
  return async (req, res, next) => {
    const identity = identityOf(res.locals);
    const { max, windowSeconds } = limits[identity.role];
    const cost = requestCost(req.body);
    const store = new AtomicTakeStore(counter, cost, { max, windowMs: windowSeconds * 1000 });
    const limiter = getGraphQLRateLimiter({
      store,
      identifyContext: subjectOf,
      formatError: () => `rate limit exceeded: ${identity.role} "${identity.sub}" may make ${max} requests per ${windowSeconds} s`,
    });
    let refusal: string | undefined;
    try {
      refusal = await limiter(
        // The limiter reads only `fieldName` from the resolver info and `operations` from args.
        { parent: undefined, args: { [COUNTED_FIELD]: new Array(cost).fill(null) }, context: identity, info: { fieldName: COUNTED_FIELD } as GraphQLResolveInfo },
        { max: cost, window: `${windowSeconds}s`, arrayLengthField: COUNTED_FIELD, uncountRejected: true },
      );
    } catch (error) {
      next(error);
      return;
    }
    const decision = store.decision!;
    const remaining = decision.admitted ? max - decision.used - cost : Math.max(0, max - decision.used);
    res.setHeader('RateLimit-Limit', String(max));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, remaining)));
    res.setHeader('RateLimit-Reset', String(seconds(decision.resetMs)));
    res.setHeader('RateLimit-Policy', `${max};w=${windowSeconds}`);
    if (!refusal) {
      next();
      return;
    }
    onLimited?.(identity);
    const retryAfter = Math.max(1, seconds(decision.retryAfterMs));
    res.setHeader('Retry-After', String(retryAfter));
    sendError(res, 429, ErrorCode.RATE_LIMITED, refusal, { ...limitDetails('rate', max, decision.used), retryAfterSeconds: retryAfter });
  };
}

export interface CostChargeOptions {
  limits: Record<Role, RateLimit>;
  counter: WindowCounter;
  /** Each started block of this much estimated cost counts as one request. */
  costPerRequest: number;
  onLimited?: (identity: Identity) => void;
}

/**
 * Charges an operation by its estimated cost: each started block of `costPerRequest` counts as
 * one request in the subject's window, less the one the request already counted. An operation
 * whose charge does not fit is refused with 429 RATE_LIMITED before it runs.
 */
export function costCharge({ limits, counter, costPerRequest, onLimited }: CostChargeOptions): CostCharge {
  return async (identity, cost) => {
    const extra = Math.ceil(cost / costPerRequest) - 1;
    if (extra <= 0) return;
    const { max, windowSeconds } = limits[identity.role];
    const decision = await counter.take(`rate:${subjectOf(identity)}:${COUNTED_FIELD}`, extra, { max, windowMs: windowSeconds * 1000 });
    if (decision.admitted) return;
    onLimited?.(identity);
    const retryAfter = Math.max(1, seconds(decision.retryAfterMs));
    throw httpError(
      429,
      ErrorCode.RATE_LIMITED,
      `rate limit exceeded: this operation's estimated cost of ${cost} counts as ${extra + 1} requests, and ${identity.role} "${identity.sub}" may make ${max} per ${windowSeconds} s`,
      { ...limitDetails('rate', max, decision.used + 1), retryAfterSeconds: retryAfter },
      { 'Retry-After': String(retryAfter) },
    );
  };
}
