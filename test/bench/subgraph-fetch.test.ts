/**
 * The gateway's subgraph client (node:http with keep-alive instead of global fetch) answers what
 * fetch answers for the same subgraph requests, and fails the way the availability layer reads:
 * TimeoutError past the deadline, the connection's error code when nobody listens.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { subgraphFetcher } from '../../gateway/subgraph-fetch';

let server: http.Server;
let url: string;
const fetcher = subgraphFetcher({ timeoutMs: 300 });

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/slow') return void setTimeout(() => res.end('{}'), 2000).unref();
      const status = req.url === '/refused' ? 401 : 200;
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-echo-identity': String(req.headers['x-shelfmark-identity'] ?? '') });
      res.end(JSON.stringify({ data: { method: req.method, body: Buffer.concat(chunks).toString(), prénom: 'Zoë' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  fetcher.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('subgraphFetcher', () => {
  it('answers what global fetch answers: status, headers, JSON body (UTF-8)', async () => {
    const init = { method: 'POST', headers: { 'content-type': 'application/json', 'x-shelfmark-identity': 'token' }, body: '{"query":"{ _service { sdl } }"}' };
    for (let i = 0; i < 3; i++) {
      const ours = await fetcher(`${url}/graphql`, init);
      const theirs = await fetch(`${url}/graphql`, init);
      expect({ ok: ours.ok, status: ours.status, type: ours.headers.get('Content-Type'), echo: ours.headers.get('x-echo-identity') }).toEqual({
        ok: theirs.ok,
        status: theirs.status,
        type: theirs.headers.get('content-type'),
        echo: theirs.headers.get('X-Echo-Identity'),
      });
      expect(await ours.json()).toEqual(await theirs.json());
    }
  });

  it('passes a non-2xx answer on with its body', async () => {
    const response = await fetcher(`${url}/refused`, { method: 'POST', body: '{}' });
    expect(response.ok).toBe(false);
    expect(response.status).toBe(401);
    expect(JSON.parse(await response.text())).toEqual({ data: { method: 'POST', body: '{}', prénom: 'Zoë' } });
  });

  it('gives up at the deadline with a TimeoutError', async () => {
    await expect(fetcher(`${url}/slow`, { method: 'POST', body: '{}' })).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('reports a refused connection with its code', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(fetcher(`http://127.0.0.1:${port}/graphql`, { method: 'POST', body: '{}' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
