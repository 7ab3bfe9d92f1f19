/**
 * Segments through the real graph (subgraph processes and the gateway over HTTP, as `npm start`
 * runs them): however many members a query asks for, the segmentation subgraph runs its model
 * once; with the subgraph stopped, the rest of the answer still arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import jwt from 'jsonwebtoken';
import path from 'node:path';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../../src/config';
import { launchGraph, type LaunchedGraph } from '../../../src/graph-launcher';
import { loadSupergraph, subgraphsIn } from '../../../gateway/subgraphs';
import { metricValue, smallLibrary } from '../../../test/fixtures/small-library';

let graph: LaunchedGraph;

async function query(body: string) {
  const token = jwt.sign({ role: 'analyst' }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256', subject: 'test-analyst', issuer: 'shelfmark', audience: 'shelfmark-graph', expiresIn: '5m' });
  const response = await fetch(graph.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: body }),
  });
  return (await response.json()) as { data?: any; errors?: { message: string; path?: (string | number)[] }[] };
}

async function segmentationCost<T>(work: () => Promise<T>): Promise<{ result: T; runs: number; rows: number }> {
  const scrape = async () => (await fetch(graph.subgraphUrls.segmentation!.replace(/\/graphql$/, '/metrics'))).text();
  const before = await scrape();
  const result = await work();
  const after = await scrape();
  const delta = (name: string) => metricValue(after, name, { model: 'segmentation' }) - metricValue(before, name, { model: 'segmentation' });
  return { result, runs: delta('model_inference_runs_total'), rows: delta('model_inference_batch_size_sum') };
}

beforeAll(async () => {
  const library = await smallLibrary();
  const root = path.join(__dirname, '..', '..', '..');
  const subgraphs = subgraphsIn(loadSupergraph(loadConfig({ SHELFMARK_ROOT: root })));
  expect(subgraphs).toContain('segmentation');
  graph = await launchGraph({ projectRoot: root, subgraphs, env: library.env, logs: 'ignore' });
  // The tests count inference runs: the warm-up's (the first segment overview) come first.
  await graph.warmed();
}, 180_000);

afterAll(async () => {
  await graph?.stop();
});

describe('segments through the gateway', () => {
  it.each([1, 50, 500])('costs one inference run of batch N for Member.segment of N = %i members', async (n) => {
    const { result, runs, rows } = await segmentationCost(() => query(`{ members(first: ${n}) { nodes { id segment { name rfm { recency frequency monetary } model { version } } } } }`));
    expect(result.errors).toBeUndefined();
    const nodes = result.data.members.nodes as { segment: { name: string; model: { version: string } } }[];
    expect(nodes).toHaveLength(n);
    expect(nodes.every((m) => m.segment.name.length > 0 && m.segment.model.version === '1.0.0')).toBe(true);
    expect({ runs, rows }).toEqual({ runs: 1, rows: n });
  });

  it('lists the segments with sizes that add up to every member', async () => {
    const result = await query(`{ segments { name size share profile { recency frequency monetary } } members(first: 1) { totalCount } }`);
    expect(result.errors).toBeUndefined();
    const segments = result.data.segments as { name: string; size: number; share: number }[];
    expect(segments.map((s) => s.name)).toContain('Hibernating');
    expect(segments.reduce((sum, s) => sum + s.size, 0)).toBeLessThanOrEqual(result.data.members.totalCount);
    expect(segments.reduce((sum, s) => sum + s.share, 0)).toBeCloseTo(1, 9);
  });

  it('still answers the rest of a query, naming Member.segment in the error, when the segmentation subgraph is stopped', async () => {
    await graph.stopProcess('segmentation');
    try {
      const result = await query(`{ members(first: 3) { nodes { id churnRisk { probability } segment { name } } } }`);
      const nodes = result.data.members.nodes as { id: string; churnRisk: { probability: number } | null; segment: unknown }[];
      expect(nodes).toHaveLength(3);
      expect(nodes.every((m) => m.churnRisk !== null && m.segment === null)).toBe(true);
      expect(result.errors?.some((e) => e.path?.includes('segment') || /segment/.test(e.message))).toBe(true);
    } finally {
      await graph.restartSubgraph('segmentation');
    }
  });
});
