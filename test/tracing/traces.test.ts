/**
 * Traces end to end: the real gateway and subgraph processes export spans over OTLP/HTTP (JSON)
 * to a receiver on loopback; one member query must be one trace, with a server span in every
 * subgraph the gateway called (under that call's span) and an inference span for every
 * inference run the subgraphs' metrics count.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { DEVELOPMENT_JWT_SECRET, MODEL_NAMES, SUBGRAPH_NAMES, type SubgraphName } from '../../src/config';
import { launchGraph, type LaunchedGraph } from '../../src/graph-launcher';
import { metricValue, smallLibrary } from '../fixtures/small-library';

interface OtlpValue { stringValue?: string; intValue?: string | number }
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
}
interface ReceivedSpan extends OtlpSpan {
  service: string;
  attribute(key: string): string | number | undefined;
}

/** An OTLP/HTTP JSON receiver: every span posted to /v1/traces, with its resource's service.name. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url !== '/v1/traces' || !/json/.test(req.headers['content-type'] ?? '')) {
        res.writeHead(415).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const resourceSpans of body.resourceSpans) {
        const service = resourceSpans.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const scope of resourceSpans.scopeSpans) {
          for (const span of scope.spans) {
            spans.push({
              ...span,
              service,
              attribute: (key) => {
                const value = span.attributes?.find((a) => a.key === key)?.value;
                return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
              },
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let graph: LaunchedGraph;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  receiver = await startReceiver();
  const library = await smallLibrary();
  graph = await launchGraph({
    projectRoot: path.join(__dirname, '..', '..'),
    subgraphs: [...SUBGRAPH_NAMES],
    env: { ...library.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    logs: 'ignore',
  });
  // The test counts inference runs: the warm-up's (its first background rankings) come first.
  await graph.warmed();
}, 300_000);

afterAll(async () => {
  await graph?.stop();
  await receiver?.close();
});

async function inferenceRuns(): Promise<Record<string, number>> {
  const runs: Record<string, number> = {};
  for (const name of SUBGRAPH_NAMES) {
    const text = await (await fetch(graph.subgraphUrls[name]!.replace(/\/graphql$/, '/metrics'))).text();
    for (const model of MODEL_NAMES) runs[model] = (runs[model] ?? 0) + metricValue(text, 'model_inference_runs_total', { model });
  }
  return runs;
}

describe('traces', () => {
  it('makes one member query one trace: a span per subgraph called and per inference run', async () => {
    const token = jwt.sign({ role: 'staff' }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256', subject: 'test-staff', issuer: 'shelfmark', audience: 'shelfmark-graph', expiresIn: '5m' });
    const before = await inferenceRuns();
    const response = await fetch(graph.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ members(first: 5) { nodes { id name churnRisk { probability } overdueRisk { probability } segment { name } recommendations(first: 3) { book { title } } } } }' }),
    });
    const body = (await response.json()) as { data?: unknown; errors?: unknown };
    expect(body.errors).toBeUndefined();
    const after = await inferenceRuns();
    const runs: Record<string, number> = Object.fromEntries(MODEL_NAMES.map((m) => [m, (after[m] ?? 0) - (before[m] ?? 0)]).filter(([, n]) => n !== 0));
    expect(Object.keys(runs).sort()).toEqual(['churn', 'overdue', 'recommendations', 'segmentation']);

    // The query's trace: the one with the gateway's request span. Spans arrive in batches.
    let spans: ReceivedSpan[] = [];
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const root = receiver.spans.find((s) => s.service === 'gateway' && s.name === 'gateway.request');
      spans = root ? receiver.spans.filter((s) => s.traceId === root.traceId) : [];
      const inference = spans.filter((s) => s.name === 'model.inference').length;
      if (inference >= Object.values(runs).reduce((a, b) => a + b, 0) && spans.filter((s) => s.name === 'POST /graphql').length >= 5) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(new Set(receiver.spans.filter((s) => s.name === 'gateway.request').map((s) => s.traceId)).size).toBe(1);

    const fetches = spans.filter((s) => s.service === 'gateway' && s.name === 'gateway.fetch');
    const called = [...new Set(fetches.map((s) => String(s.attribute('service'))))].sort();
    expect(called).toEqual(['churn', 'library', 'overdue', 'recommendations', 'segmentation']);
    const servers = spans.filter((s) => s.name === 'POST /graphql' && s.kind === 2);
    expect(servers.map((s) => s.service).sort()).toEqual(fetches.map((s) => String(s.attribute('service'))).sort());
    for (const server of servers) {
      // Each subgraph's span continues the gateway's call to it (W3C trace context).
      const parent = spans.find((s) => s.spanId === server.parentSpanId);
      expect({ service: server.service, parent: parent?.name, calledFor: parent?.attribute('service') }).toEqual({ service: server.service, parent: 'gateway.fetch', calledFor: server.service });
    }

    const inference = spans.filter((s) => s.name === 'model.inference');
    const spanRuns: Record<string, number> = {};
    for (const span of inference) {
      const model = String(span.attribute('shelfmark.model'));
      spanRuns[model] = (spanRuns[model] ?? 0) + 1;
      expect(span.service).toBe(model);
      expect(Number(span.attribute('shelfmark.batch_size'))).toBeGreaterThan(0);
    }
    expect(spanRuns).toEqual(runs);
    // Every span of a subgraph descends from that subgraph's server span.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    for (const span of spans.filter((s) => s.service !== 'gateway')) {
      let node: ReceivedSpan | undefined = span;
      while (node && node.name !== 'POST /graphql') node = node.parentSpanId ? byId.get(node.parentSpanId) : undefined;
      expect({ span: span.name, service: span.service, underServerSpan: node?.service }).toEqual({ span: span.name, service: span.service, underServerSpan: span.service });
    }
  }, 120_000);
});
