/**
 * `model_request_inference_runs` counts a model's runs within each GraphQL request: a batch
 * scheduled by the request's DataLoader counts in that request, concurrent requests count
 * apart, and a run outside any request (what a background ranking does) counts in none.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildSubgraphSchema } from '@apollo/subgraph';
import DataLoader from 'dataloader';
import { parse } from 'graphql';
import { loadConfig } from '../../config';
import { signInternalIdentity, type Identity } from '../../identity';
import { createLogger } from '../../logging';
import { createProcessMetrics } from '../../metrics';
import { countRequestRun } from '../../metrics/request-runs';
import { startSubgraphServer, type RunningSubgraph } from '..';

const config = loadConfig({ ...process.env, SHELFMARK_ROOT: `${__dirname}/../../..`, LOG_LEVEL: 'error' });
const metrics = createProcessMetrics('test');
const identity = signInternalIdentity({ sub: 'test', role: 'staff' }, config.internalSecret, 'library');
let running: RunningSubgraph;

interface Context {
  identity: Identity;
  scores: DataLoader<number, number>;
}

beforeAll(async () => {
  const schema = buildSubgraphSchema({
    typeDefs: parse('type Query { items(n: Int!, runs: Int!): [Item!]! } type Item { id: Int! score: Float! }'),
    resolvers: {
      Query: { items: (_: unknown, { n, runs }: { n: number; runs: number }) => Array.from({ length: n }, (_v, id) => ({ id, runs })) },
      Item: {
        // `runs` batches in a row, each one "inference run" after a turn of the event loop.
        score: async ({ id, runs }: { id: number; runs: number }, _args: unknown, context: unknown) => {
          const { scores } = context as Context;
          let score = 0;
          for (let r = 0; r < runs; r += 1) score += await scores.load(id * 10 + r);
          return score;
        },
      },
    },
  });
  running = await startSubgraphServer<Context>(
    {
      name: 'library',
      schema,
      config,
      logger: createLogger('test', 'error'),
      metrics,
      createContext: (who) => ({
        identity: who,
        scores: new DataLoader<number, number>(
          async (keys) => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            countRequestRun('m');
            return keys.map((k) => k / 10);
          },
          { batchScheduleFn: (callback) => setImmediate(callback) },
        ),
      }),
    },
    0,
  );
});

afterAll(async () => {
  await running.stop();
});

const ask = async (n: number, runs: number) => {
  const response = await fetch(running.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-shelfmark-identity': identity },
    body: JSON.stringify({ query: `{ items(n: ${n}, runs: ${runs}) { id score } }` }),
  });
  expect(response.status).toBe(200);
  return response.json();
};

/** What the histogram holds once `requests` more requests than `since` are observed (a request is observed when its connection closes, just after the client has its answer). */
async function observedAfter(since: { count: number }, requests: number): Promise<{ count: number; sum: number; overOne: number }> {
  for (let tries = 0; ; tries += 1) {
    const now = await observed();
    if (now.count >= since.count + requests || tries === 100) return now;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function observed(): Promise<{ count: number; sum: number; overOne: number }> {
  const { values } = await metrics.requestInferenceRuns.get();
  const value = (name: string, le?: number) => values.find((v) => v.metricName === name && v.labels.model === 'm' && (le === undefined || (v.labels as Record<string, unknown>).le === le))?.value ?? 0;
  const count = value('model_request_inference_runs_count');
  return { count, sum: value('model_request_inference_runs_sum'), overOne: count - value('model_request_inference_runs_bucket', 1) };
}

describe('inference runs per request', () => {
  it('counts a request batched into one run as one, and concurrent requests apart', async () => {
    const before = await observed();
    await Promise.all([ask(20, 1), ask(5, 1), ask(1, 1)]);
    const after = await observedAfter(before, 3);
    expect({ requests: after.count - before.count, runs: after.sum - before.sum, overOne: after.overOne - before.overOne }).toEqual({ requests: 3, runs: 3, overOne: 0 });
  });

  it('counts every run a request makes in that request, and none made outside a request', async () => {
    const before = await observed();
    const background = setInterval(() => countRequestRun('m'), 1);
    try {
      await ask(10, 3);
    } finally {
      clearInterval(background);
    }
    const after = await observedAfter(before, 1);
    expect({ requests: after.count - before.count, runs: after.sum - before.sum, overOne: after.overOne - before.overOne }).toEqual({ requests: 1, runs: 3, overOne: 1 });
  });
});
