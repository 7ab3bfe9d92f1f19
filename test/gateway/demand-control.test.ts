/**
 * Demand control over HTTP against real gateway processes: operations are charged by their
 * estimated cost and refused above the maximum, one subject's requests in flight are capped
 * while another subject is served, and a subgraph answer above the size cap leaves its fields
 * unresolved instead of being read whole.
 */
import { describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gatewayFleet, token, post } from './helpers';

describe('demand control', () => {
  const { startGateway } = gatewayFleet();

  it('refuses the fan-out attack by its cost and a negative first as bad input; measure mode lets the attack through', async () => {
    const enforcing = await startGateway({});
    const analyst = token('analyst', { sub: 'cost-attacker' });
    const attackQuery = { query: '{ members(first: 500) { nodes { recommendations(first: 49) { score } } } }' };
    const attack = await post(enforcing.url, attackQuery, analyst);
    expect(attack.status).toBe(400);
    expect(attack.body.errors[0].extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'cost', allowed: 10_000, found: 25_500 });
    const negative = await post(enforcing.url, { query: '{ members(first: -1) { nodes { id } } }' }, analyst);
    expect(negative.status).toBe(400);
    expect(negative.body.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', limit: 'listSize', allowed: 500, found: -1 });

    const measuring = await startGateway({ GATEWAY_DEMAND_CONTROL: 'measure' });
    const measured = await post(measuring.url, attackQuery, analyst);
    expect(measured.status).toBe(200);
    expect(measured.body.data.members.nodes).toHaveLength(60);
  });

  it('charges each started block of cost as one request against the rate limit', async () => {
    const gateway = await startGateway({ RATE_LIMIT_ANALYST_MAX: '10', GATEWAY_COST_PER_REQUEST: '10' });
    const analyst = token('analyst', { sub: 'costly-analyst' });
    // members: 20 × (connection 1 + nodes 1) = 40, four requests' worth.
    const page = { query: '{ members(first: 20) { nodes { id } } }' };
    expect((await post(gateway.url, page, analyst)).status).toBe(200);
    expect((await post(gateway.url, page, analyst)).status).toBe(200);
    const third = await post(gateway.url, page, analyst);
    expect(third.status).toBe(429);
    expect(third.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'rate', allowed: 10 });
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    // A cheap operation still fits in what is left.
    expect((await post(gateway.url, { query: '{ book(id: "1") { title } }' }, analyst)).status).toBe(200);
  });

  it('charges each operation\'s cost to a per-second budget: a burst of expensive operations is refused with Retry-After, others are served', async () => {
    const gateway = await startGateway({ GATEWAY_MAX_OPERATION_COST: '100', GATEWAY_COST_BURST: '100', GATEWAY_COST_RATE_ANALYST_PER_SECOND: '10' });
    const greedy = token('analyst', { sub: 'bursty-analyst' });
    // members: 20 × (connection 1 + nodes 1) = 40 points; the budget holds 100 and refills 10 a second.
    const page = { query: '{ members(first: 20) { nodes { id } } }' };
    expect((await post(gateway.url, page, greedy)).status).toBe(200);
    expect((await post(gateway.url, page, greedy)).status).toBe(200);
    const third = await post(gateway.url, page, greedy);
    expect(third.status).toBe(429);
    expect(third.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'costRate', allowed: 100, found: 40, ratePerSecond: 10 });
    const retryAfter = Number(third.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(third.body.errors[0].extensions.retryAfterSeconds).toBe(retryAfter);
    expect((await post(gateway.url, page, token('analyst', { sub: 'other-analyst' }))).status).toBe(200);
    // A cheap operation fits in the second's refill.
    expect((await post(gateway.url, { query: '{ book(id: "1") { title } }' }, greedy)).status).toBe(200);
  });

  it('refuses to start with a cost burst smaller than the largest operation allowed', async () => {
    await expect(startGateway({ GATEWAY_COST_BURST: '5000' })).rejects.toThrow(/GATEWAY_COST_BURST/);
  });

  it('caps one subject\'s requests in flight, and serves another subject meanwhile', async () => {
    // A recommendations subgraph that holds every request until the test lets go.
    const held: http.ServerResponse[] = [];
    let arrived = 0;
    const slow = http.createServer((req, res) => {
      if (req.url?.startsWith('/health')) return void res.end('{}');
      arrived += 1;
      held.push(res);
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const gateway = await startGateway({
        RECOMMENDATIONS_URL: `http://127.0.0.1:${(slow.address() as AddressInfo).port}/graphql`,
        GATEWAY_MAX_CONCURRENT_PER_SUBJECT: '2',
        SUBGRAPH_TIMEOUT_MS: '30000',
      });
      const greedy = token('analyst', { sub: 'greedy-analyst' });
      const slowQuery = { query: '{ member(id: "1") { recommendations(first: 3) { score } } }' };
      const first = [post(gateway.url, slowQuery, greedy), post(gateway.url, slowQuery, greedy)];
      while (arrived < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      const beyond = await Promise.all([1, 2, 3].map(() => post(gateway.url, slowQuery, greedy)));
      expect(beyond.map((a) => a.status)).toEqual([429, 429, 429]);
      expect(beyond[0]!.body.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', limit: 'concurrency', allowed: 2, found: 3, retryAfterSeconds: 1 });
      expect(beyond[0]!.headers.get('retry-after')).toBe('1');
      const other = await post(gateway.url, { query: '{ book(id: "1") { title } }' }, token('analyst', { sub: 'patient-analyst' }));
      expect(other.status).toBe(200);
      for (const res of held) res.destroy();
      const answered = await Promise.all(first);
      expect(answered.map((a) => a.status)).toEqual([200, 200]);
      // Slots are free again once the held requests are answered.
      const again = post(gateway.url, slowQuery, greedy);
      while (arrived < 3) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const res of held) res.destroy();
      expect((await again).status).toBe(200);
    } finally {
      for (const res of held) res.destroy();
      await new Promise((resolve) => slow.close(resolve));
    }
  });

  it('a subgraph answer above the size cap is cut off: its fields are unresolved, named in the error', async () => {
    const gateway = await startGateway({ GATEWAY_MAX_SUBGRAPH_RESPONSE_BYTES: '2000' });
    const answer = await post(gateway.url, { query: '{ members(first: 60) { nodes { id joinedAt } } }' }, token('staff'));
    expect(answer.status).toBe(200);
    expect(answer.body.errors[0].extensions).toMatchObject({ code: 'SUBGRAPH_UNAVAILABLE', subgraph: 'library', reason: 'response too large' });
    const small = await post(gateway.url, { query: '{ book(id: "1") { title } }' }, token('staff'));
    expect(small.body).toEqual({ data: { book: { title: 'Book 1' } } });
  });
});
