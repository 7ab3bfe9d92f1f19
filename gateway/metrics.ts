/** The gateway's own counters, registered beside the process metrics every Shelfmark process has. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface GatewayMetrics {
  authFailures: Counter;
  rateLimited: Counter<'role'>;
  redisFallbacks: Counter<'use' | 'reason'>;
  redisBreakerOpen: Gauge;
  apqRegistrations: Counter;
  operationCost: Histogram;
  limitRefusals: Counter<'limit'>;
  subgraphUnavailable: Counter<'subgraph'>;
  subgraphFailovers: Counter<'subgraph'>;
}

export function createGatewayMetrics(registry: Registry): GatewayMetrics {
  return {
    subgraphFailovers: new Counter({
      name: 'gateway_subgraph_failovers_total',
      help: 'Subgraph requests sent on to another replica because the one chosen could not be reached',
      labelNames: ['subgraph'],
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'gateway_auth_failures_total',
      help: 'Requests refused with 401 (missing, expired, forged or misaddressed tokens)',
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'gateway_rate_limited_total',
      help: 'Requests refused with 429, by role',
      labelNames: ['role'],
      registers: [registry],
    }),
    redisFallbacks: new Counter({
      name: 'gateway_redis_fallback_total',
      help: 'Operations served by the in-process fallback because Redis could not be used (use: rate_limit or apq)',
      labelNames: ['use', 'reason'],
      registers: [registry],
    }),
    redisBreakerOpen: new Gauge({
      name: 'gateway_redis_breaker_open',
      help: '1 while the circuit breaker in front of Redis is open or half-open (Redis skipped, in-process fallbacks used)',
      registers: [registry],
    }),
    apqRegistrations: new Counter({
      name: 'gateway_apq_registrations_total',
      help: 'Documents handed to the APQ cache after they parsed, validated and passed every limit',
      registers: [registry],
    }),
    operationCost: new Histogram({
      name: 'gateway_operation_cost',
      help: 'Estimated cost of each operation (objects 1, leaves 0, times list sizes), measured in both demand-control modes',
      buckets: [1, 10, 100, 1000, 2500, 5000, 10_000, 25_000, 100_000],
      registers: [registry],
    }),
    limitRefusals: new Counter({
      name: 'gateway_limit_refusals_total',
      help: 'Requests refused by a query or HTTP limit, by limit',
      labelNames: ['limit'],
      registers: [registry],
    }),
    subgraphUnavailable: new Counter({
      name: 'gateway_subgraph_unavailable_total',
      help: 'Operations answered without the fields of a subgraph that was down or too slow',
      labelNames: ['subgraph'],
      registers: [registry],
    }),
  };
}
