/**
 * GraphQL-over-HTTP conformance: the `graphql-http` package's server audits against a real
 * gateway, as an analyst (every request carries the analyst's token): no error (a requirement
 * broken) and no warning (a recommendation ignored). Notices (what a server MAY do) are allowed:
 * GETs that do not force a CORS preflight are refused by CSRF prevention, on purpose.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { auditServer } from 'graphql-http';
import { startTestGraph, token, type TestGraph } from './helpers';

describe('GraphQL-over-HTTP conformance (graphql-http audits)', () => {
  let graph: TestGraph;

  beforeAll(async () => {
    graph = await startTestGraph();
  }, 120_000);

  afterAll(async () => {
    await graph?.stop();
  });

  it('passes every audit with no warnings and no errors', async () => {
    const bearer = `Bearer ${token('analyst', { sub: 'conformance-analyst' })}`;
    const fetchAsAnalyst = (input: string | URL | Request, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', bearer);
      return fetch(input, { ...init, headers });
    };
    const results = await auditServer({ url: graph.graph.gatewayUrl, fetchFn: fetchAsAnalyst });
    const failed = results.filter((result) => result.status === 'warn' || result.status === 'error').map((result) => `${result.status}: ${result.name}: ${'reason' in result ? result.reason : ''}`);
    expect(failed).toEqual([]);
    expect(results.length).toBeGreaterThan(50);
  });
});
