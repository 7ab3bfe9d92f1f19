/**
 * Rate limits over HTTP against real gateway processes and the machine's Redis: the count holds
 * exactly under a concurrent burst spread over two gateways, every answer carries the
 * RateLimit-* headers, and without Redis the gateway still answers, counting its share of a
 * degraded allowance in process. Killing, restarting and hanging Redis is done to a Redis of the
 * test's own.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { redisDoor, startOwnRedis, type OwnRedis } from './own-redis';
import { closedPort, gatewayFleet, metric, PROJECT_ROOT, REDIS_URL, token, post, uniquePrefix, type GatewayProcess } from './helpers';

const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'schema', 'persisted-queries.json'), 'utf8')) as { operations: { id: string; name: string }[] };
const bookDetails = manifest.operations.find((o) => o.name === 'BookDetails')!;
const registered = { variables: { id: '1' }, extensions: { persistedQuery: { version: 1, sha256Hash: bookDetails.id } } };

/**
 * Bursts here test the counting, not the cap on requests in flight per subject, nor how fast the
 * library answers a hundred admitted requests at once on a loaded machine (its deadline is tested
 * in test/gateway/availability.test.ts).
 */
const UNCAPPED = { GATEWAY_MAX_CONCURRENT_PER_SUBJECT: '1000', SUBGRAPH_TIMEOUT_MS: '30000' };
const RATE_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit-policy'];

describe('rate limits', () => {
  const { startGateway } = gatewayFleet();

  it('300 concurrent requests from one partner over two gateways sharing Redis, limit 100: exactly 100 answered, 200 refused with 429', async () => {
    // A generous Redis deadline: this test is about exact counting, and a loaded CI machine can
    // starve Redis past the default; the deadline itself is tested in gateway/rate-limit.
    const shared = { REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix('burst'), RATE_LIMIT_PARTNER_MAX: '100', RATE_LIMIT_PARTNER_WINDOW_SECONDS: '3600', REDIS_COMMAND_TIMEOUT_MS: '3000', ...UNCAPPED };
    const [a, b] = await Promise.all([startGateway(shared), startGateway(shared)]);
    const partner = token('partner', { sub: 'burst-partner' });
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => post((i % 2 === 0 ? a : b).url, registered, partner)));
    const seconds = ((Date.now() - started) / 1000).toFixed(2);

    const ok = answers.filter((r) => r.status === 200);
    const limited = answers.filter((r) => r.status === 429);
    process.stderr.write(`rate-limit burst: ${ok.length} answered, ${limited.length} refused with 429 (gateway A ${answers.filter((r, i) => i % 2 === 0 && r.status === 200).length} answered, gateway B ${answers.filter((r, i) => i % 2 === 1 && r.status === 200).length}) in ${seconds} s\n`);
    expect(ok).toHaveLength(100);
    expect(limited).toHaveLength(200);
    for (const answer of ok) expect(answer.body).toEqual({ data: { book: expect.objectContaining({ id: '1', title: 'Book 1' }) } });
    for (const answer of limited) {
      expect(answer.body.errors[0].extensions.code).toBe('RATE_LIMITED');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(answer.headers.get('retry-after'))).toBeLessThanOrEqual(3600);
      expect(answer.headers.get('ratelimit-remaining')).toBe('0');
    }
    for (const answer of answers) {
      for (const header of RATE_HEADERS) expect(answer.headers.get(header)).not.toBeNull();
      expect(answer.headers.get('ratelimit-limit')).toBe('100');
      expect(answer.headers.get('ratelimit-policy')).toBe('100;w=3600');
    }
    // Each admitted request saw a distinct remaining count: 99 down to 0.
    expect(ok.map((r) => Number(r.headers.get('ratelimit-remaining'))).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const refusedByGateway = (await metric(a.origin, 'gateway_rate_limited_total', { role: 'partner' })) + (await metric(b.origin, 'gateway_rate_limited_total', { role: 'partner' }));
    expect(refusedByGateway).toBe(200);
    expect(await metric(a.origin, 'gateway_redis_fallback_total')).toBe(0);

    // Another partner has its own window.
    const other = await post(a.url, registered, token('partner', { sub: 'another-partner' }));
    expect(other.status).toBe(200);
    expect(other.headers.get('ratelimit-remaining')).toBe('99');
  }, 60_000);

  it('a batch counts each of its operations', async () => {
    const gateway = await startGateway({ REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix('batch'), RATE_LIMIT_ANALYST_MAX: '5' });
    const analyst = token('analyst', { sub: 'batching-analyst' });
    const three = Array.from({ length: 3 }, () => ({ query: '{ models { name } }' }));
    const first = await post(gateway.url, three, analyst);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-remaining')).toBe('2');
    const second = await post(gateway.url, three, analyst);
    expect(second.status).toBe(429);
    expect(second.body.errors[0].extensions.code).toBe('RATE_LIMITED');
    const single = await post(gateway.url, three[0], analyst);
    expect(single.status).toBe(200);
    expect(single.headers.get('ratelimit-remaining')).toBe('1');
  });

  it('an APQ registration counts against the limit beside its operation', async () => {
    const gateway = await startGateway({ REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix('apq-cost'), RATE_LIMIT_ANALYST_MAX: '3' });
    const analyst = token('analyst', { sub: 'registering-analyst' });
    const query = `{ models { name } } # ${Date.now()}`;
    const registration = { query, extensions: { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(query).digest('hex') } } };
    const first = await post(gateway.url, registration, analyst);
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-remaining')).toBe('1');
    expect((await post(gateway.url, registration, analyst)).status).toBe(429);
  });

  it('with Redis unreachable from the start, the gateway answers at once, admits only the degraded share of the limit, and counts the fallback', async () => {
    // 10% of 30 while Redis cannot count: 3.
    const gateway = await startGateway({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}`, RATE_LIMIT_PARTNER_MAX: '30', RATE_LIMIT_DEGRADED_PERCENT: '10' });
    const partner = token('partner', { sub: 'no-redis-partner' });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(gateway.url, registered, partner)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(await metric(gateway.origin, 'gateway_redis_fallback_total', { use: 'rate_limit' })).toBe(5);
    const ready = await fetch(`${gateway.origin}/health/ready`);
    expect((await ready.json()) as object).toMatchObject({ redis: 'unavailable' });
  });

  describe('Redis failing while gateways run (a Redis of this test\'s own)', () => {
    let redis: OwnRedis;

    beforeEach(async () => {
      redis = await startOwnRedis();
    });
    afterEach(async () => {
      await redis.stop();
    });

    it('keeps answering after Redis is killed, falls back to the in-process limiter, and counts it', async () => {
      const gateway = await startGateway({ REDIS_URL: redis.url, RATE_LIMIT_PARTNER_MAX: '1000', ...UNCAPPED });
      const partner = token('partner', { sub: 'redis-stops-partner' });
      expect((await post(gateway.url, registered, partner)).status).toBe(200);
      expect(await metric(gateway.origin, 'gateway_redis_fallback_total')).toBe(0);
      await redis.kill();
      const after = await Promise.all(Array.from({ length: 10 }, () => post(gateway.url, registered, partner)));
      expect(after.map((r) => r.status)).toEqual(new Array(10).fill(200));
      for (const answer of after) expect(answer.headers.get('ratelimit-limit')).toBe('1000');
      expect(await metric(gateway.origin, 'gateway_redis_fallback_total', { use: 'rate_limit' })).toBe(10);
    });

    it('two gateways, limit 100, Redis killed once the limit is spent and restarted empty, one gateway back first: exactly 110 admitted, none after the restart', async () => {
      // Gateway B reaches Redis through a door the test keeps shut after the restart, so A is back first.
      const door = await redisDoor(redis.port);
      try {
        const env = { REDIS_KEY_PREFIX: uniquePrefix('restart'), RATE_LIMIT_PARTNER_MAX: '100', GATEWAY_INSTANCES: '2', RATE_LIMIT_DEGRADED_PERCENT: '10', RATE_LIMIT_MERGE_WAIT_MS: '120000', REDIS_COMMAND_TIMEOUT_MS: '3000', ...UNCAPPED };
        const [a, b] = await Promise.all([startGateway({ ...env, REDIS_URL: redis.url }), startGateway({ ...env, REDIS_URL: door.url })]);
        const partner = token('partner', { sub: 'restart-partner' });
        const wave = async (gateways: GatewayProcess[], n: number) => {
          const answers = await Promise.all(Array.from({ length: n }, (_, i) => post(gateways[i % gateways.length]!.url, registered, partner)));
          return answers.filter((answer) => answer.status === 200).length;
        };
        const redisReady = async (gateway: GatewayProcess) => ((await (await fetch(`${gateway.origin}/health/ready`)).json()) as { redis: string }).redis === 'ready';
        const untilReady = async (gateway: GatewayProcess) => {
          for (let i = 0; i < 100 && !(await redisReady(gateway)); i++) await new Promise((resolve) => setTimeout(resolve, 100));
        };

        expect(await wave([a, b], 120)).toBe(100);
        await redis.kill();
        door.shut();
        // While Redis is down each gateway admits its share: 10% of 100 over 2 gateways, 5 each.
        expect(await wave([a, b], 40)).toBe(10);
        await redis.restart();
        await untilReady(a);
        // Redis came back empty and holds only what A wrote back (its 55): counting there now would admit 45 more.
        let afterRestart = await wave([a], 60);
        door.open();
        await untilReady(b);
        afterRestart += await wave([a, b], 40);
        process.stderr.write(`rate limit across a Redis kill and empty restart, 2 gateways, limit 100, gateway B back 1 wave later: 110 admitted before the restart, ${afterRestart} after\n`);
        expect(afterRestart).toBe(0);
        // A counted in process while it waited for B to write its requests back.
        expect(await metric(a.origin, 'gateway_redis_fallback_total', { use: 'rate_limit', reason: 'merging' })).toBeGreaterThan(0);
      } finally {
        await door.close();
      }
    });

    it('a hung Redis (SIGSTOP) opens the circuit breaker: only the first requests wait for its deadline', async () => {
      const gateway = await startGateway({ REDIS_URL: redis.url, RATE_LIMIT_PARTNER_MAX: '1000', REDIS_COMMAND_TIMEOUT_MS: '300', REDIS_BREAKER_FAILURES: '3', REDIS_BREAKER_COOLDOWN_MS: '60000' });
      const partner = token('partner', { sub: 'hung-redis-partner' });
      expect((await post(gateway.url, registered, partner)).status).toBe(200);
      redis.hang();
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await post(gateway.url, registered, partner)).status);
      redis.resume();
      expect(statuses).toEqual(new Array(10).fill(200));
      // Each request asks Redis twice (the per-second cost budget, then the rate limit). Three
      // questions waited out the deadline; the breaker then sent every other one straight to the
      // fallback, so each limit fell back once per request.
      expect(await metric(gateway.origin, 'gateway_redis_fallback_total', { reason: 'timeout' })).toBe(3);
      for (const use of ['rate_limit', 'cost_rate']) {
        const fallbacks = (await metric(gateway.origin, 'gateway_redis_fallback_total', { use, reason: 'timeout' })) + (await metric(gateway.origin, 'gateway_redis_fallback_total', { use, reason: 'disconnected' }));
        expect(fallbacks).toBe(10);
      }
      expect(await metric(gateway.origin, 'gateway_redis_breaker_open')).toBe(1);
    });
  });
});
