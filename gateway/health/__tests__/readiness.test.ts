/**
 * Readiness is computed in the background: calls to /health/ready read the last round and send
 * nothing to the subgraphs, however many there are.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SUBGRAPH_NAMES, loadConfig } from '../../../src/config';
import { createLogger } from '../../../src/logging';
import { startGateway, type RunningGateway } from '../..';

describe('/health/ready', () => {
  let subgraphs: http.Server;
  let checks = 0;
  let gateway: RunningGateway;

  beforeAll(async () => {
    // One server stands in for every subgraph and counts the readiness checks it is sent.
    subgraphs = http.createServer((req, res) => {
      if (req.url === '/health/ready') checks += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}');
    });
    await new Promise<void>((resolve) => subgraphs.listen(0, '127.0.0.1', resolve));
    const { port } = subgraphs.address() as AddressInfo;
    const urls = Object.fromEntries(SUBGRAPH_NAMES.map((name) => [`${name.toUpperCase()}_URL`, `http://127.0.0.1:${port}/graphql`]));
    const config = loadConfig({ ...urls, NODE_ENV: 'test', LOG_LEVEL: 'error', GATEWAY_READINESS_INTERVAL_MS: '600000' });
    gateway = await startGateway(config, 0, createLogger('gateway', 'error'));
  });

  afterAll(async () => {
    await gateway?.stop();
    await new Promise((resolve) => subgraphs.close(resolve));
  });

  it('answers 100 calls from the last background round: the subgraphs see one round of checks', async () => {
    const origin = new URL(gateway.url).origin;
    let answer: { status: number; body: any } = { status: 0, body: undefined };
    for (let i = 0; i < 100; i++) {
      const response = await fetch(`${origin}/health/ready`);
      answer = { status: response.status, body: await response.json() };
    }
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ready', redis: 'not configured' });
    const composed = Object.keys(answer.body.subgraphs);
    expect(composed).toContain('library');
    expect(checks).toBe(composed.length);
  });

  it('liveness answers without asking anyone', async () => {
    const before = checks;
    const response = await fetch(`${new URL(gateway.url).origin}/health/live`);
    expect(response.status).toBe(200);
    expect(checks).toBe(before);
  });
});

describe('shutdown', () => {
  it('flips readiness first, and answers requests on kept-alive connections with 503 and Connection: close', async () => {
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'error', GATEWAY_SHUTDOWN_DELAY_MS: '1500', GATEWAY_READINESS_INTERVAL_MS: '600000' });
    const gateway = await startGateway(config, 0, createLogger('gateway', 'error'));
    const origin = new URL(gateway.url).origin;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const request = (method: string, path: string) =>
      new Promise<{ status: number; connection: string | undefined; body: string }>((resolve, reject) => {
        const req = http.request(`${origin}${path}`, { method, agent, headers: { 'content-type': 'application/json' } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body }));
        });
        req.on('error', reject);
        req.end(method === 'POST' ? '{"query":"{ __typename }"}' : undefined);
      });
    try {
      expect((await request('GET', '/health/live')).status).toBe(200);
      const stopping = gateway.stop();
      const ready = await request('GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.connection).toBe('close');
      const work = await request('POST', '/graphql');
      expect(work.status).toBe(503);
      expect(work.connection).toBe('close');
      expect(JSON.parse(work.body).errors[0].extensions.code).toBe('SHUTTING_DOWN');
      await stopping;
    } finally {
      agent.destroy();
    }
  });
});
