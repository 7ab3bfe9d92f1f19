/**
 * The subgraph server's direct POST /graphql path (no express) answers what the express path
 * answers, and refuses what express refused: no identity, a body that is not JSON, a body over
 * 2 MB. Other requests (health, metrics, other content types) still reach express.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildSubgraphSchema } from '@apollo/subgraph';
import net from 'node:net';
import { parse } from 'graphql';
import { loadConfig } from '../../config';
import { signInternalIdentity } from '../../identity';
import { createLogger } from '../../logging';
import { createProcessMetrics } from '../../metrics';
import { startSubgraphServer, type RunningSubgraph } from '..';

const config = loadConfig({ ...process.env, SHELFMARK_ROOT: `${__dirname}/../../..`, LOG_LEVEL: 'error' });
let running: RunningSubgraph;
const identity = signInternalIdentity({ sub: 'test', role: 'staff' }, config.internalSecret, 'library');
const query = JSON.stringify({ query: '{ greeting(name: "Zoë") }' });

beforeAll(async () => {
  const schema = buildSubgraphSchema({
    typeDefs: parse('type Query { greeting(name: String!): String! }'),
    resolvers: { Query: { greeting: (_: unknown, { name }: { name: string }) => `hello ${name}` } },
  });
  running = await startSubgraphServer(
    { name: 'library', schema, config, logger: createLogger('test', 'error'), metrics: createProcessMetrics('test'), createContext: (who) => ({ identity: who }) },
    0,
  );
});

afterAll(async () => {
  await running.stop();
});

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(running.url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-shelfmark-identity': identity, ...headers }, body });

describe('POST /graphql', () => {
  it('answers a query sent by the gateway', async () => {
    const response = await post(query);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/(graphql-response\+)?json/);
    expect(await response.json()).toEqual({ data: { greeting: 'hello Zoë' } });
  });

  it('answers with charset in the content type the same way', async () => {
    const response = await post(query, { 'content-type': 'application/json; charset=utf-8' });
    expect(await response.json()).toEqual({ data: { greeting: 'hello Zoë' } });
  });

  it('refuses a request without the gateway identity with 401 UNAUTHENTICATED', async () => {
    const response = await fetch(running.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: query });
    expect(response.status).toBe(401);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a body that is not JSON with 400', async () => {
    const response = await post('{"query": ');
    expect(response.status).toBe(400);
  });

  it('after a 413 on a kept-alive connection, closes it rather than leaving the client waiting', async () => {
    const { port } = new URL(running.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString();
    });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const body = Buffer.alloc(3 * 1024 * 1024, 'a');
    socket.write(`POST /graphql HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nx-shelfmark-identity: ${identity}\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body.subarray(0, 2.5 * 1024 * 1024));
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.toLowerCase()).toContain('connection: close');
  });

  it('refuses a body over 2 MB with 413', async () => {
    const response = await post(JSON.stringify({ query: `{ greeting(name: "${'x'.repeat(2 * 1024 * 1024)}") }` }));
    expect(response.status).toBe(413);
  });

  it('leaves other requests to express: health, metrics with the request counted, a non-JSON POST', async () => {
    expect((await fetch(running.url.replace(/\/graphql$/, '/health/live'))).status).toBe(200);
    const metrics = await (await fetch(running.url.replace(/\/graphql$/, '/metrics'))).text();
    expect(metrics).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/graphql"[^}]*status="200"[^}]*\} [1-9]/);
    const text = await fetch(running.url, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-shelfmark-identity': identity }, body: query });
    expect(text.status).toBe(400);
  });
});
