/**
 * A cost budget per subject that refills every second, in the manner of Shopify's GraphQL cost
 * limits: each operation's estimated cost is charged before it runs, against a bucket of
 * `burst` points that refills at `ratePerSecond` points a second (per role). An operation whose
 * cost does not fit is refused with 429 RATE_LIMITED (`limit: "costRate"`) and a Retry-After
 * computed from the refill. Unlike the hourly rate limit, a client cannot spend its whole hour
 * in one burst of expensive operations and take the graph from everyone else meanwhile.
 *
 * rate-limiter-flexible counts. Its BurstyRateLimiter is two fixed windows: `ratePerSecond`
 * points per second, and when those are spent, `burst` more points per `burst / ratePerSecond`
 * seconds. An operation costing more than one second's refill can only pass through the second
 * window, so expensive operations are held to `ratePerSecond` points a second on average; cheap
 * ones may reach twice that. Counting is in Redis when the gateway has it, in process otherwise;
 * while Redis is unusable (disconnected, failing, hung, or the breaker open) each gateway counts
 * in process at its share of the rate, as the hourly limit does (see ../rate-limit).
 */
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Role } from '../../src/config';
import { ErrorCode } from '../../src/errors';
import { subjectOf, type Identity } from '../../src/identity';
import { httpError } from '../errors';
import { limitDetails, type CostCharge } from '../limits';
import { RedisTimeoutError, type GatewayRedis } from '../redis';

export interface CostRateOptions {
  /** Points each subject's budget refills by per second, per role. */
  ratePerSecond: Record<Role, number>;
  /** The bucket's capacity: the most one subject may spend at once. */
  burst: number;
  /** Counts in Redis (shared by every gateway) when given. */
  redis?: { redis: GatewayRedis; keyPrefix: string };
  /** While Redis is unusable, the fraction of each rate this gateway admits on its own. */
  degradedShare?: number;
  onLimited?: (identity: Identity) => void;
  onFallback?: (reason: string) => void;
}

/** The two windows of one role's budget. */
interface Budget {
  rate: RateLimiterAbstract;
  burst: RateLimiterAbstract;
  bursty: BurstyRateLimiter;
  ratePerSecond: number;
}

type Make = (points: number, duration: number, name: string) => RateLimiterAbstract;

function budget(make: Make, role: Role, ratePerSecond: number, burst: number): Budget {
  const rate = make(ratePerSecond, 1, `${role}:rate`);
  // The burst window lasts as long as the rate takes to refill it.
  const burstWindow = make(burst, Math.max(1, Math.ceil(burst / ratePerSecond)), `${role}:burst`);
  return { rate, burst: burstWindow, bursty: new BurstyRateLimiter(rate, burstWindow), ratePerSecond };
}

function budgets(make: Make, ratePerSecond: Record<Role, number>, burst: number): Record<Role, Budget> {
  return Object.fromEntries(Object.entries(ratePerSecond).map(([role, rate]) => [role, budget(make, role as Role, rate, burst)])) as Record<Role, Budget>;
}

/** What a charge came to: admitted, or refused with how long until the cost fits. */
type Outcome = { admitted: true } | { admitted: false; retryAfterMs: number };

async function charge(budget: Budget, key: string, cost: number): Promise<Outcome> {
  try {
    // A cost above one second's refill fits only in the burst window; sent to the per-second
    // window first it would be refused there but still counted, and hold back the subject's
    // cheap operations for the rest of that second.
    await (cost > budget.ratePerSecond ? budget.burst : budget.bursty).consume(key, cost);
    return { admitted: true };
  } catch (refusal) {
    if (!(refusal instanceof RateLimiterRes)) throw refusal;
    // When both windows refused, BurstyRateLimiter answers the sooner one's reset.
    return { admitted: false, retryAfterMs: refusal.msBeforeNext };
  }
}

/** The charge the gateway makes once an operation's cost is known (see ../limits `queryLimits`). */
export function costRate({ ratePerSecond, burst, redis, degradedShare = 0.1, onLimited, onFallback }: CostRateOptions): CostCharge {
  for (const [role, rate] of Object.entries(ratePerSecond)) {
    if (!(rate >= 1)) throw new Error(`cost rate for ${role} must be at least 1 point per second, got ${rate}`);
  }
  if (!(burst >= 1)) throw new Error(`cost burst must be at least 1 point, got ${burst}`);
  const memory: Make = (points, duration, name) => new RateLimiterMemory({ keyPrefix: `cost-rate:${name}`, points: Math.max(1, Math.floor(points)), duration });
  // Degraded: the share of each rate, but the whole burst (over a longer window), so any operation small enough to run still can.
  const degraded = budgets(memory, Object.fromEntries(Object.entries(ratePerSecond).map(([role, rate]) => [role, Math.max(1, rate * degradedShare)])) as Record<Role, number>, burst);
  const local = redis ? undefined : budgets(memory, ratePerSecond, burst);
  const shared = redis
    ? budgets((points, duration, name) => new RateLimiterRedis({ storeClient: redis.redis.client, keyPrefix: `${redis.keyPrefix}cost-rate:${name}`, points, duration }), ratePerSecond, burst)
    : undefined;

  const decide = async (role: Role, key: string, cost: number): Promise<Outcome> => {
    if (!shared || !redis) return charge(local![role], key, cost);
    if (!redis.redis.isReady()) {
      onFallback?.('disconnected');
      return charge(degraded[role], key, cost);
    }
    try {
      // Under the gateway's Redis deadline and breaker; a refusal is an answer, not a Redis failure.
      return await redis.redis.run(() => charge(shared[role], key, cost));
    } catch (error) {
      onFallback?.(error instanceof RedisTimeoutError ? 'timeout' : 'error');
      return charge(degraded[role], key, cost);
    }
  };

  return async (identity, cost) => {
    if (cost <= 0) return;
    const outcome = await decide(identity.role, subjectOf(identity), cost);
    if (outcome.admitted) return;
    onLimited?.(identity);
    const rate = ratePerSecond[identity.role];
    const retryAfter = Math.max(1, Math.ceil(outcome.retryAfterMs / 1000));
    const message =
      cost > burst
        ? `this operation's estimated cost of ${cost} is more than the ${burst} points ${identity.role} "${identity.sub}" may spend at once`
        : `cost rate exceeded: this operation's estimated cost of ${cost} does not fit in what is left of ${identity.role} "${identity.sub}"'s budget (${burst} points, refilled at ${rate} a second); retry in ${retryAfter} s`;
    throw httpError(429, ErrorCode.RATE_LIMITED, message, { ...limitDetails('costRate', burst, cost), ratePerSecond: rate, retryAfterSeconds: retryAfter }, { 'Retry-After': String(retryAfter) });
  };
}
