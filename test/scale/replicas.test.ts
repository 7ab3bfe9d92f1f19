/**
 * Two replicas of the recommendations subgraph on one store behind one gateway
 * (RECOMMENDATIONS_URL lists both): the answers are those of a single instance, the requests
 * are split between the replicas (each one's /metrics counts its inference runs), and with one
 * replica killed the answers go on, whole and unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SUBGRAPH_NAMES } from '../../src/config';
import { launchGateway, launchGraph, launchSubgraph, untilWarmed, type LaunchedGateway, type LaunchedGraph, type LaunchedSubgraph } from '../../src/graph-launcher';
import { closedPort, post, PROJECT_ROOT, token } from '../gateway/helpers';
import { metricValue, smallLibrary } from '../fixtures/small-library';

const QUERY = '{ members(first: 25) { nodes { id recommendations(first: 5) { book { id } score reason } } } }';
const analyst = token('analyst', { expiresIn: '30m' });

let single: LaunchedGraph;
let second: LaunchedSubgraph;
let balanced: LaunchedGateway;

async function answer(gatewayUrl: string): Promise<unknown> {
  const { status, body } = await post(gatewayUrl, { query: QUERY }, analyst);
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  return body.data;
}

async function runs(url: string): Promise<number> {
  const text = await (await fetch(url.replace(/\/graphql$/, '/metrics'))).text();
  return metricValue(text, 'model_inference_runs_total', { model: 'recommendations' });
}

beforeAll(async () => {
  // Only the model this test serves: a library of its own builds in seconds where the shared one has not been built yet.
  const library = await smallLibrary({ models: ['recommendations'] });
  const closed = await closedPort();
  // Every subgraph the test does not start points at a closed port, never at a graph left running on the default ports.
  const elsewhere = Object.fromEntries(SUBGRAPH_NAMES.map((name) => [`${name.toUpperCase()}_URL`, `http://127.0.0.1:${closed}/graphql`]));
  const env = { ...elsewhere, ...library.env, LOG_LEVEL: 'error', NODE_ENV: 'test', REDIS_URL: '', GATEWAY_READINESS_INTERVAL_MS: '200' };
  single = await launchGraph({ projectRoot: PROJECT_ROOT, subgraphs: ['library', 'recommendations'], env, logs: 'ignore' });
  second = await launchSubgraph(PROJECT_ROOT, 'recommendations', env);
  // The test counts each replica's inference runs: their warm-ups come first.
  await Promise.all([single.warmed(), untilWarmed(second.url)]);
  const urls = { library: single.subgraphUrls.library!, recommendations: `${single.subgraphUrls.recommendations!},${second.url}` };
  balanced = await launchGateway(PROJECT_ROOT, urls, env);
}, 600_000);

afterAll(async () => {
  await balanced?.stop();
  await second?.stop();
  await single?.stop();
});

describe('two replicas of the recommendations subgraph', () => {
  it('answer as one instance does, with the requests split between them, and go on answering when one is killed', async () => {
    const replicas = [single.subgraphUrls.recommendations!, second.url];
    const expected = await answer(single.gatewayUrl);
    const before = await Promise.all(replicas.map(runs));

    for (let i = 0; i < 8; i++) expect(await answer(balanced.url)).toEqual(expected);
    const after = await Promise.all(replicas.map(runs));
    const served = after.map((n, i) => n - (before[i] ?? 0));
    // One inference run per query, taken in turn.
    expect(served).toEqual([4, 4]);

    second.child.kill('SIGKILL');
    await new Promise((resolve) => second.child.once('exit', resolve));
    for (let i = 0; i < 6; i++) expect(await answer(balanced.url)).toEqual(expected);
    const survivor = (await runs(replicas[0]!)) - (after[0] ?? 0);
    // The single gateway's own queries do not reach the survivor between these reads.
    expect(survivor).toBe(6);
  });
});
