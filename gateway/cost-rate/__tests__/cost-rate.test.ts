import { afterAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { GraphQLError } from 'graphql';
import { Redis } from 'ioredis';
import { costRate, type CostRateOptions } from '..';
import type { Identity } from '../../../src/identity';
import { RedisTimeoutError, type GatewayRedis } from '../../redis';

const analyst = (sub: string): Identity => ({ role: 'analyst', sub });
const rates = { staff: 1000, analyst: 100, partner: 100, circulation: 100 };

/** The charge's refusal, or undefined when it was admitted. */
async function refusal(charge: ReturnType<typeof costRate>, identity: Identity, cost: number): Promise<GraphQLError | undefined> {
  try {
    await charge(identity, cost);
    return undefined;
  } catch (error) {
    return error as GraphQLError;
  }
}

function retryAfterOf(error: GraphQLError): number {
  const http = error.extensions.http as { status: number; headers: Map<string, string> };
  return Number(http.headers.get('Retry-After'));
}

describe('costRate in process', () => {
  const options: CostRateOptions = { ratePerSecond: rates, burst: 500 };

  it('charges expensive operations against the burst, then refuses with 429 and a Retry-After from the refill', async () => {
    const limited: string[] = [];
    const charge = costRate({ ...options, onLimited: (identity) => limited.push(identity.sub) });
    const greedy = analyst('greedy');
    expect(await refusal(charge, greedy, 400)).toBeUndefined();
    const refused = await refusal(charge, greedy, 400);
    expect(refused).toBeDefined();
    expect(refused!.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'costRate', allowed: 500, found: 400, ratePerSecond: 100 });
    expect((refused!.extensions.http as { status: number }).status).toBe(429);
    // 500 points refill at 100 a second: the burst window is 5 s, nearly all of it still to go.
    expect(retryAfterOf(refused!)).toBeGreaterThanOrEqual(4);
    expect(retryAfterOf(refused!)).toBeLessThanOrEqual(5);
    expect(refused!.extensions.retryAfterSeconds).toBe(retryAfterOf(refused!));
    expect(limited).toEqual(['greedy']);
    // Another subject's budget is its own; a cheap operation still fits in the per-second refill.
    expect(await refusal(charge, analyst('patient'), 400)).toBeUndefined();
    expect(await refusal(charge, greedy, 50)).toBeUndefined();
  });

  it('refuses an operation above the burst with a message that says it can never fit', async () => {
    const refused = await refusal(costRate(options), analyst('huge'), 501);
    expect(refused!.message).toMatch(/more than the 500 points/);
  });

  it('lets cheap operations through at the rate and refills every second', async () => {
    const charge = costRate({ ratePerSecond: { ...rates, analyst: 1000 }, burst: 1000 });
    const steady = analyst('steady');
    // One second's refill, then the burst (1,000 points over 1 s), then nothing until a window ends.
    expect(await refusal(charge, steady, 1000)).toBeUndefined();
    expect(await refusal(charge, steady, 1000)).toBeUndefined();
    const refused = await refusal(charge, steady, 10);
    expect(retryAfterOf(refused!)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await refusal(charge, steady, 1000)).toBeUndefined();
  });

  it('refuses rates and bursts below one point', () => {
    expect(() => costRate({ ratePerSecond: { ...rates, partner: 0 }, burst: 10 })).toThrow(/partner must be at least 1/);
    expect(() => costRate({ ratePerSecond: rates, burst: 0 })).toThrow(/burst must be at least 1/);
  });
});

describe('costRate in Redis (the machine\'s Redis at 127.0.0.1:6379)', () => {
  const client = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 0 });
  const prefix = `test:cost-rate:${randomUUID()}:`;
  let ready = true;
  let failNext = false;
  const gatewayRedis = {
    client,
    isReady: () => ready,
    onRecovered: () => undefined,
    run: <T>(commands: (redis: Redis) => Promise<T>) => (failNext ? Promise.reject(new RedisTimeoutError('Redis did not answer within 1 ms')) : commands(client)),
    close: async () => undefined,
  } as unknown as GatewayRedis;

  afterAll(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
  });

  it('shares one budget between two gateways', async () => {
    const [a, b] = [costRate({ ratePerSecond: rates, burst: 500, redis: { redis: gatewayRedis, keyPrefix: prefix } }), costRate({ ratePerSecond: rates, burst: 500, redis: { redis: gatewayRedis, keyPrefix: prefix } })];
    const shared = analyst('two-gateways');
    expect(await refusal(a, shared, 400)).toBeUndefined();
    const refused = await refusal(b, shared, 400);
    expect(refused!.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'costRate' });
    expect(retryAfterOf(refused!)).toBeGreaterThanOrEqual(4);
  });

  it('counts in process at its share of the rate while Redis is unusable', async () => {
    const fallbacks: string[] = [];
    const charge = costRate({ ratePerSecond: rates, burst: 500, redis: { redis: gatewayRedis, keyPrefix: prefix }, degradedShare: 0.1, onFallback: (reason) => fallbacks.push(reason) });
    const subject = analyst('degraded');
    ready = false;
    try {
      // 10 points a second while degraded: the burst (500) lasts 50 s, and one 400 fills it.
      expect(await refusal(charge, subject, 400)).toBeUndefined();
      ready = true;
      failNext = true;
      const refused = await refusal(charge, subject, 400);
      expect(refused!.extensions).toMatchObject({ limit: 'costRate' });
      expect(retryAfterOf(refused!)).toBeGreaterThan(40);
      expect(fallbacks).toEqual(['disconnected', 'timeout']);
    } finally {
      ready = true;
      failNext = false;
    }
    // Redis itself never saw that subject.
    expect(await refusal(charge, subject, 400)).toBeUndefined();
  });
});
