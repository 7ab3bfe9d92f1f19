/**
 * How the gateway sends HTTP to subgraphs: node:http over a keep-alive agent, with one deadline
 * per request.
 *
 * Node's global fetch (undici behind WHATWG streams, Request/Response objects and an
 * AbortSignal.timeout per call) was the largest JavaScript cost of a gateway request in the
 * benchmark's profiles; this client does the same job with the plain http module. It answers
 * the subset of the fetch Response that Apollo's RemoteGraphQLDataSource reads (status, ok,
 * headers.get, text, json), and fails the way the availability layer expects: a deadline
 * passed is an error named TimeoutError, a refused or dropped connection carries its `code`,
 * and an answer larger than `maxResponseBytes` is cut off with code ERR_RESPONSE_TOO_LARGE
 * (its connection dropped, so nothing of it is kept in memory).
 */
import http from 'node:http';
import { injectTraceContext } from '../../src/tracing';
import type { Fetcher, FetcherHeaders, FetcherRequestInit, FetcherResponse } from '@apollo/utils.fetcher';

export interface SubgraphFetchOptions {
  /** The whole request, connection to last byte, must finish within this. */
  timeoutMs: number;
  /** Connections kept open per subgraph; requests beyond wait for one. */
  maxSockets?: number;
  /** Largest answer read from a subgraph. */
  maxResponseBytes?: number;
}

class ResponseHeaders implements FetcherHeaders {
  private readonly map = new Map<string, string>();

  constructor(raw: http.IncomingHttpHeaders) {
    for (const [name, value] of Object.entries(raw)) {
      if (value !== undefined) this.map.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
  }
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const previous = this.map.get(key);
    this.map.set(key, previous === undefined ? value : `${previous}, ${value}`);
  }
  delete(name: string): void {
    this.map.delete(name.toLowerCase());
  }
  get(name: string): string | null {
    return this.map.get(name.toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.map.has(name.toLowerCase());
  }
  set(name: string, value: string): void {
    this.map.set(name.toLowerCase(), value);
  }
  entries(): IterableIterator<[string, string]> {
    return this.map.entries();
  }
  keys(): IterableIterator<string> {
    return this.map.keys();
  }
  values(): IterableIterator<string> {
    return this.map.values();
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.map.entries();
  }
}

class SubgraphResponse implements FetcherResponse {
  readonly redirected = false;
  bodyUsed = false;

  constructor(
    readonly url: string,
    readonly status: number,
    readonly statusText: string,
    readonly headers: FetcherHeaders,
    private readonly body: Buffer,
  ) {}

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
  async text(): Promise<string> {
    this.bodyUsed = true;
    return this.body.toString('utf8');
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    this.bodyUsed = true;
    return this.body.buffer.slice(this.body.byteOffset, this.body.byteOffset + this.body.byteLength) as ArrayBuffer;
  }
  clone(): FetcherResponse {
    return new SubgraphResponse(this.url, this.status, this.statusText, this.headers, this.body);
  }
}

function timeoutError(timeoutMs: number): Error {
  const error = new Error(`no answer within ${timeoutMs} ms`);
  error.name = 'TimeoutError';
  return error;
}

function tooLargeError(maxResponseBytes: number): Error {
  return Object.assign(new Error(`subgraph answer larger than ${maxResponseBytes} bytes`), { code: 'ERR_RESPONSE_TOO_LARGE' });
}

export function subgraphFetcher({ timeoutMs, maxSockets = 128, maxResponseBytes = Infinity }: SubgraphFetchOptions): Fetcher & { close(): void } {
  // Idle connections are dropped after 30 s, before the subgraph's own 65 s keep-alive timeout can close
  // one under a request about to be sent.
  const agent = new http.Agent({ keepAlive: true, maxSockets, scheduling: 'lifo', timeout: 30_000 });
  const fetcher = (url: string, init: FetcherRequestInit = {}): Promise<FetcherResponse> =>
    new Promise((resolve, reject) => {
      const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body) : init.body;
      const headers: Record<string, string | number> = { ...init.headers };
      if (body) headers['content-length'] = body.length;
      injectTraceContext(headers);
      const request = http.request(url, { method: init.method ?? 'GET', headers, agent });
      const deadline = setTimeout(() => request.destroy(timeoutError(timeoutMs)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(deadline);
        reject(error);
      };
      const cutOff = () => {
        fail(tooLargeError(maxResponseBytes));
        request.destroy();
      };
      request.once('error', fail);
      request.once('response', (response) => {
        const chunks: Buffer[] = [];
        let received = 0;
        const declared = Number(response.headers['content-length']);
        if (declared > maxResponseBytes) return cutOff();
        response.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxResponseBytes) cutOff();
          else chunks.push(chunk);
        });
        response.once('error', fail);
        response.once('end', () => {
          clearTimeout(deadline);
          resolve(new SubgraphResponse(url, response.statusCode ?? 0, response.statusMessage ?? '', new ResponseHeaders(response.headers), Buffer.concat(chunks)));
        });
      });
      request.end(body);
    });
  return Object.assign(fetcher, { close: () => agent.destroy() });
}
