/**
 * Demand forecasts through the real graph (every subgraph a process, the real gateway) on the
 * small simulated library: a page of books costs one run of the demand model when the LSTM
 * serves books (none when the backtest chose a simple method), every book answered by the method
 * the production version serves, a book page
 * answers with its forecast, collection forecasts arrive, and bad horizons are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../src/config';
import { launchGraph, type LaunchedGraph } from '../../src/graph-launcher';
import { loadSupergraph, subgraphsIn } from '../../gateway/subgraphs';
import { metricValue, smallLibrary } from '../fixtures/small-library';
import { demandServing, levelChoice, type ServedDemandMethod } from '../../src/models/demand';
import { getProduction } from '../../src/registry';
import { methodOf } from '../../subgraphs/demand';

const root = path.join(__dirname, '..', '..');
let graph: LaunchedGraph;
let bookMethod: ServedDemandMethod;

const token = jwt.sign({ role: 'analyst' }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256', subject: 'test', issuer: 'shelfmark', audience: 'shelfmark-graph', expiresIn: '10m' });

async function query(body: string): Promise<{ status: number; data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] }> {
  const response = await fetch(graph.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: body }),
  });
  return { status: response.status, ...((await response.json()) as object) };
}

async function demandRuns(): Promise<{ runs: number; rows: number }> {
  const text = await (await fetch(graph.subgraphUrls.demand!.replace(/\/graphql$/, '/metrics'))).text();
  return { runs: metricValue(text, 'model_inference_runs_total', { model: 'demand' }), rows: metricValue(text, 'model_inference_batch_size_sum', { model: 'demand' }) };
}

beforeAll(async () => {
  const library = await smallLibrary();
  const production = getProduction(library.modelsDir, 'demand');
  if (!production) throw new Error('the small library has no production demand version');
  bookMethod = levelChoice(demandServing(production.metadata.serving), 'book').method;
  graph = await launchGraph({
    projectRoot: root,
    subgraphs: subgraphsIn(loadSupergraph(loadConfig({ SHELFMARK_ROOT: root }))),
    env: { ...library.env, SUBGRAPH_TIMEOUT_MS: '5000' },
    logs: 'ignore',
  });
  // The tests count inference runs: none of the warm-up's may land among them.
  await graph.warmed();
}, 300_000);

afterAll(async () => {
  await graph?.stop();
});

describe('demand through the gateway', () => {
  it.each([1, 50, 200])('forecasts a page of %i books by the served method, with one inference run when it is the LSTM', async (n) => {
    const before = await demandRuns();
    const result = await query(`{ books(first: ${n}) { nodes { id demandForecast(horizonWeeks: 8) { points { weekStart expectedLoans low high } method model { name version } } } } }`);
    expect(result.errors).toBeUndefined();
    const nodes = result.data.books.nodes as { demandForecast: { points: unknown[]; method: string; model: { name: string } } }[];
    expect(nodes).toHaveLength(n);
    expect(nodes.every((b) => b.demandForecast.points.length === 8 && b.demandForecast.model.name === 'demand' && b.demandForecast.method === methodOf(bookMethod))).toBe(true);
    const after = await demandRuns();
    const lstm = bookMethod === 'lstm';
    expect({ runs: after.runs - before.runs, rows: after.rows - before.rows }).toEqual({ runs: lstm ? 1 : 0, rows: lstm ? n : 0 });
  });

  it('answers a book page with its forecast and similar books', async () => {
    const result = await query('{ book(id: "1") { title similarBooks { book { title } } demandForecast(horizonWeeks: 8) { points { weekStart expectedLoans } method } } }');
    expect(result.errors).toBeUndefined();
    expect(result.data.book.title.length).toBeGreaterThan(0);
    expect(result.data.book.similarBooks.length).toBeGreaterThan(0);
    expect(result.data.book.demandForecast.points.map((p: { weekStart: string }) => p.weekStart)).toEqual([
      '2024-12-30', '2025-01-06', '2025-01-13', '2025-01-20', '2025-01-27', '2025-02-03', '2025-02-10', '2025-02-17',
    ]);
  });

  it('forecasts a collection by month, with the branch resolved by the library subgraph', async () => {
    const result = await query('{ collectionForecast(genre: "Fantasy", branchId: "1", horizonMonths: 3) { genre branch { id name } points { month expectedLoans low high } method } }');
    expect(result.errors).toBeUndefined();
    const forecast = result.data.collectionForecast;
    expect(forecast.genre).toBe('Fantasy');
    expect(forecast.branch).toEqual({ id: '1', name: expect.any(String) });
    expect(forecast.points.map((p: { month: string }) => p.month)).toEqual(['2025-01', '2025-02', '2025-03']);
  });

  it('refuses a horizon above the documented maximum with BAD_USER_INPUT', async () => {
    const result = await query('{ book(id: "1") { title demandForecast(horizonWeeks: 27) { points { expectedLoans } } } }');
    expect(result.data.book.title.length).toBeGreaterThan(0);
    expect(result.data.book.demandForecast).toBeNull();
    expect(result.errors?.[0]?.message).toContain('horizonWeeks must be between 1 and 26, got 27');
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('answers null for an unknown book without an error', async () => {
    const result = await query('{ book(id: "99999999") { id demandForecast { method } } }');
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ book: null });
  });
});
