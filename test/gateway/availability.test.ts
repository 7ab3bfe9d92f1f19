/**
 * Partial answers against real processes: with a model subgraph stopped, or slower than the
 * gateway's timeout, the rest of the answer arrives and the error names the subgraph, its model
 * and the fields (derived from the supergraph) that could not be resolved.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { closedPort, metric, startGatewayProcess, startTestGraph, token, post, type GatewayProcess, type TestGraph } from './helpers';

const memberWithChurn = '{ member(id: "1") { id joinedAt churnRisk { probability level } } }';

describe('partial answers when a subgraph is unavailable', () => {
  let graph: TestGraph;
  const analyst = token('analyst', { sub: 'availability-analyst' });

  beforeAll(async () => {
    graph = await startTestGraph();
  }, 120_000);

  afterAll(async () => {
    await graph?.stop();
  });

  it('churn stopped: the member arrives, churnRisk is null, and the error names churn and Member.churnRisk', async () => {
    await graph.graph.stopProcess('churn');
    const stoppedAt = Date.now();
    try {
      const answer = await post(graph.graph.gatewayUrl, { query: `{ members(first: 2) { nodes { id churnRisk { level } } } member(id: "1") { id joinedAt churnRisk { probability level } } }` }, analyst);
      expect(answer.status).toBe(200);
      expect(answer.body.data.member).toEqual({ id: '1', joinedAt: expect.any(String), churnRisk: null });
      expect(answer.body.data.members.nodes).toEqual([{ id: '1', churnRisk: null }, { id: '2', churnRisk: null }]);
      expect(answer.body.errors).toEqual([
        {
          message: 'churn subgraph unavailable: Member.churnRisk could not be resolved',
          extensions: { code: 'MODEL_UNAVAILABLE', subgraph: 'churn', model: 'churn', fields: ['Member.churnRisk'], reason: 'unreachable' },
        },
      ]);
      // Readiness is checked in the background: wait for a round that began after churn stopped
      // (one that ended more than a check's deadline, 1 s, after it).
      const readiness = async () => {
        const response = await fetch(`${new URL(graph.graph.gatewayUrl).origin}/health/ready`);
        const body = (await response.json()) as { subgraphs: Record<string, boolean>; checkedAt: string | null };
        return { status: response.status, subgraphs: body.subgraphs, checkedAt: Date.parse(body.checkedAt ?? '') || 0 };
      };
      let ready = await readiness();
      for (let i = 0; i < 100 && ready.checkedAt <= stoppedAt + 1000; i++) ready = await new Promise((resolve) => setTimeout(resolve, 100)).then(readiness);
      expect(ready.status).toBe(503);
      expect(ready.subgraphs).toMatchObject({ library: true, churn: false });
      expect(await metric(new URL(graph.graph.gatewayUrl).origin, 'gateway_subgraph_unavailable_total', { subgraph: 'churn' })).toBeGreaterThanOrEqual(1);
    } finally {
      await graph.graph.restartSubgraph('churn');
    }
    const again = await post(graph.graph.gatewayUrl, { query: memberWithChurn }, analyst);
    expect(again.body.errors?.some((e: { extensions: { reason?: string } }) => e.extensions.reason !== undefined)).toBeFalsy();
  });

  describe('a subgraph slower than SUBGRAPH_TIMEOUT_MS', () => {
    let hanging: http.Server;
    let gateway: GatewayProcess;

    beforeAll(async () => {
      // Accepts every request and never answers, like a subgraph stuck in a long inference.
      hanging = http.createServer(() => undefined);
      await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
      const { port } = hanging.address() as AddressInfo;
      gateway = await startGatewayProcess({ ...graph.gatewayEnv, CHURN_URL: `http://127.0.0.1:${port}/graphql`, SUBGRAPH_TIMEOUT_MS: '500' });
    });

    afterAll(async () => {
      await gateway?.stop();
      hanging?.closeAllConnections();
      await new Promise<void>((resolve) => hanging.close(() => resolve()));
    });

    it('the answer arrives after the timeout, with the fields of the slow subgraph named', async () => {
      const started = Date.now();
      const answer = await post(gateway.url, { query: memberWithChurn }, analyst);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(450);
      expect(elapsed).toBeLessThan(3000);
      expect(answer.body.data.member).toEqual({ id: '1', joinedAt: expect.any(String), churnRisk: null });
      expect(answer.body.errors).toEqual([
        {
          message: 'churn subgraph unavailable: Member.churnRisk could not be resolved',
          extensions: { code: 'MODEL_UNAVAILABLE', subgraph: 'churn', model: 'churn', fields: ['Member.churnRisk'], reason: 'timeout' },
        },
      ]);
    });
  });

  it('the library down: its root fields are named, with SUBGRAPH_UNAVAILABLE (it serves no model)', async () => {
    const gateway = await startGatewayProcess({ ...graph.gatewayEnv, LIBRARY_URL: `http://127.0.0.1:${await closedPort()}/graphql` });
    try {
      const answer = await post(gateway.url, { query: '{ member(id: "1") { id churnRisk { level } } book(id: "1") { title } }' }, analyst);
      expect(answer.status).toBe(200);
      expect(answer.body.data).toEqual({ member: null, book: null });
      expect(answer.body.errors).toEqual([
        {
          message: 'library subgraph unavailable: Query.book, Query.member could not be resolved',
          extensions: { code: 'SUBGRAPH_UNAVAILABLE', subgraph: 'library', fields: ['Query.book', 'Query.member'], reason: 'unreachable' },
        },
      ]);
    } finally {
      await gateway.stop();
    }
  });
});
