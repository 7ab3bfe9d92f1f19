/**
 * The real graph over HTTP: subgraph processes and the gateway, started as `npm start` starts
 * them, on a small simulated library with trained models.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { DEVELOPMENT_JWT_SECRET, SUBGRAPH_NAMES, type SubgraphName } from '../../src/config';
import { launchGraph, type LaunchedGraph } from '../../src/graph-launcher';
import { loadSupergraph, subgraphsIn } from '../../gateway/subgraphs';
import { loadConfig } from '../../src/config';
import { readmeQueries } from '../fixtures/readme-queries';
import { metricValue, smallLibrary, writableCopy, type SmallLibrary } from '../fixtures/small-library';

let graph: LaunchedGraph;
let library: SmallLibrary;

function token(role: 'staff' | 'analyst' | 'partner'): string {
  return jwt.sign({ role }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256', subject: `test-${role}`, issuer: 'shelfmark', audience: 'shelfmark-graph', expiresIn: '5m' });
}

async function query(body: string, role: 'staff' | 'analyst' = 'staff') {
  const response = await fetch(graph.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token(role)}` },
    body: JSON.stringify({ query: body }),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[] } };
}

async function metrics(name: SubgraphName): Promise<string> {
  return (await fetch(graph.subgraphUrls[name]!.replace(/\/graphql$/, '/metrics'))).text();
}

beforeAll(async () => {
  // A checkout below writes to the store: on a copy, so later test files see the library as generated.
  library = writableCopy(await smallLibrary());
  const root = path.join(__dirname, '..', '..');
  const subgraphs = subgraphsIn(loadSupergraph(loadConfig({ SHELFMARK_ROOT: root })));
  expect(subgraphs.length).toBeGreaterThanOrEqual(2);
  graph = await launchGraph({ projectRoot: root, subgraphs, env: library.env, logs: 'ignore' });
  // A test below counts inference runs: the warm-up's (its first background rankings) come first.
  await graph.warmed();
}, 180_000);

afterAll(async () => {
  await graph?.stop();
  if (library) rmSync(library.dir, { recursive: true, force: true });
});

describe('the graph end to end', () => {
  it('answers 100 members with a churn probability each, at the cost of one inference run over the members it scores', async () => {
    const before = await metrics('churn');
    const { status, body } = await query(`{ members(first: 100) { totalCount nodes { id name churnRisk { probability level model { name version } } } } }`);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const nodes = body.data.members.nodes as { id: string; name: string; churnRisk: { probability: number; level: string; model: { name: string; version: string } } }[];
    expect(body.data.members.totalCount).toBe(600);
    expect(nodes).toHaveLength(100);
    for (const node of nodes) {
      expect(node.name).toEqual(expect.any(String));
      expect(node.churnRisk.probability).toBeGreaterThanOrEqual(0);
      expect(node.churnRisk.probability).toBeLessThanOrEqual(1);
      expect(node.churnRisk.model).toEqual({ name: 'churn', version: '1.0.0' });
    }
    expect(new Set(nodes.map((n) => n.churnRisk.probability)).size).toBeGreaterThan(10);
    const after = await metrics('churn');
    const runs = metricValue(after, 'model_inference_runs_total', { model: 'churn' }) - metricValue(before, 'model_inference_runs_total', { model: 'churn' });
    const rows = metricValue(after, 'model_inference_batch_size_sum', { model: 'churn' }) - metricValue(before, 'model_inference_batch_size_sum', { model: 'churn' });
    // Lapsed members (no loan in the 90 days before the date) are reported, not scored.
    const scored = nodes.filter((n) => n.churnRisk.level !== 'LAPSED').length;
    expect(scored).toBeGreaterThan(10);
    expect({ runs, rows }).toEqual({ runs: 1, rows: scored });
  });

  it('reports ready only when every subgraph answers', async () => {
    const ready = await fetch(graph.gatewayUrl.replace(/\/graphql$/, '/health/ready'));
    expect(ready.status).toBe(200);
    const live = await fetch(graph.gatewayUrl.replace(/\/graphql$/, '/health/live'));
    expect(live.status).toBe(200);
    const gatewayMetrics = await (await fetch(graph.gatewayUrl.replace(/\/graphql$/, '/metrics'))).text();
    expect(gatewayMetrics).toContain('http_request_duration_seconds');
  });

  it('refuses a request without a token with 401 UNAUTHENTICATED', async () => {
    const response = await fetch(graph.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ members(first: 1) { totalCount } }' }) });
    expect(response.status).toBe(401);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('lists every subgraph name the supergraph declares among the known ones', () => {
    for (const name of Object.keys(graph.subgraphUrls)) expect(SUBGRAPH_NAMES).toContain(name);
  });
});

describe('every query the README shows', () => {
  const queries = readmeQueries(path.join(__dirname, '..', '..'));

  it('finds the queries: graphql blocks, the curl example and the analysts\' examples', () => {
    expect(queries.filter((q) => q.source.startsWith('README graphql')).length).toBeGreaterThanOrEqual(2);
    expect(queries.filter((q) => q.source === 'README curl example').length).toBeGreaterThanOrEqual(1);
    expect(queries.filter((q) => q.source.startsWith('schema/examples/')).length).toBeGreaterThanOrEqual(4);
  });

  it('finds the README\'s mutation, which the circulation test runs with its variables', () => {
    expect(queries.some((q) => q.mutation && q.query.includes('RecordCheckout'))).toBe(true);
  });

  it.each(queries.filter((q) => !q.mutation).map((q) => [q.source, q.query] as const))('%s answers without errors', async (_source, text) => {
    const { status, body } = await query(text);
    expect(body.errors).toBeUndefined();
    expect(status).toBe(200);
    expect(body.data).toBeTruthy();
  });
});

describe('predictions follow the data', () => {
  const MEMBER = `query Member($id: ID!) { member(id: $id) {
    overdueRisk { probability }
    loans(first: 3) { id overdueRisk { probability level } }
    recommendations(first: 5) { book { id } }
  } }`;

  async function post(body: { query: string; variables?: Record<string, unknown> }) {
    const response = await fetch(graph.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token('staff')}` },
      body: JSON.stringify(body),
    });
    return (await response.json()) as { data?: any; errors?: unknown[] };
  }

  it('after a checkout, the book leaves the member’s recommendations and the new loan is listed with an overdueRisk', async () => {
    const clock = (await post({ query: '{ clock }' })).data.clock as string;
    const before = await post({ query: MEMBER, variables: { id: '7' } });
    expect(before.errors).toBeUndefined();
    const book = before.data.member.recommendations[0]?.book.id as string | undefined;
    expect(book).toEqual(expect.any(String));
    const written = await post({
      query: 'mutation ($input: CheckOutInput!) { checkOut(input: $input) { applied loan { id } } }',
      variables: { input: { eventId: 'follow-e2e-1', memberId: '7', bookId: book, branchId: '1', at: `${clock}T12:00:00Z` } },
    });
    expect(written.errors).toBeUndefined();
    const loanId = written.data.checkOut.loan.id as string;
    // Polled until visible, failing after a bound: the assertion is that it becomes visible.
    const deadline = Date.now() + 10_000;
    let after = await post({ query: MEMBER, variables: { id: '7' } });
    const visible = (answer: typeof after): boolean => {
      const member = answer.data?.member;
      return Boolean(member) && !member.recommendations.some((r: { book: { id: string } }) => r.book.id === book) && member.loans.some((l: { id: string; overdueRisk: unknown }) => l.id === loanId && l.overdueRisk);
    };
    while (!visible(after) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await post({ query: MEMBER, variables: { id: '7' } });
    }
    expect(after.errors).toBeUndefined();
    expect(visible(after)).toBe(true);
    expect(after.data.member.overdueRisk.probability).toBeGreaterThanOrEqual(before.data.member.overdueRisk.probability);
  });
});
