/**
 * Load against the gateway, loopback only:
 * - `closedLoop`: autocannon with N connections, each sending its next request when the
 *   previous answer arrives (latency and peak throughput at a fixed concurrency);
 * - `fixedRate`: an open-loop generator sending at a steady rate whatever the answers do, its
 *   latency measured from the moment each request was due, so a stall shows in p99 instead of
 *   silently lowering the rate (autocannon's rate mode waits on its connections).
 * A request counts as failed on a transport error, a non-2xx status or a GraphQL `errors` entry.
 */
import http from 'node:http';
import autocannon from 'autocannon';
import type { ScenarioRequest } from './scenarios';

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** The first few failures, to say what went wrong. */
  errorSamples: string[];
  seconds: number;
  requestsPerSecond: number;
  /** Milliseconds. */
  latency: LatencySummary;
}

export interface LoadTarget {
  url: string;
  /** The i-th request of the run. */
  next: (i: number) => ScenarioRequest;
  /** A bearer token for a role, varied by request so no identity meets its rate limit. */
  tokenFor: (role: ScenarioRequest['role'], i: number) => string;
}

export function summarise(latencies: number[]): LatencySummary {
  if (latencies.length === 0) return { p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(latencies).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[sorted.length - 1]!, mean: sum / sorted.length };
}

class Failures {
  count = 0;
  samples: string[] = [];
  add(message: string): void {
    this.count++;
    if (this.samples.length < 3 && !this.samples.includes(message)) this.samples.push(message);
  }
}

/** The reason an answer failed, or undefined when it is a complete answer. */
function failureOf(status: number, body: string): string | undefined {
  if (status < 200 || status >= 300) return `HTTP ${status}: ${body.slice(0, 200)}`;
  if (body.includes('"errors"')) return `GraphQL errors: ${body.slice(body.indexOf('"errors"'), body.indexOf('"errors"') + 300)}`;
  return undefined;
}

export function closedLoop(target: LoadTarget, connections: number, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const failures = new Failures();
  let i = 0;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        connections,
        duration: seconds,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            setupRequest: (request) => {
              const next = target.next(i);
              const headers = { 'content-type': 'application/json', authorization: `Bearer ${target.tokenFor(next.role, i)}` };
              i++;
              return { ...request, method: 'POST', headers, body: next.body };
            },
            onResponse: (status, body) => {
              const failure = failureOf(status, body);
              if (failure) failures.add(failure);
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        const answered = latencies.length;
        resolve({
          requests: answered,
          errors: failures.count + result.errors,
          errorSamples: failures.samples,
          seconds: result.duration,
          requestsPerSecond: answered / result.duration,
          latency: summarise(latencies),
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
    instance.on('reqError', (error) => failures.add(`transport: ${error.message}`));
  });
}

export interface FixedRateOptions {
  rate: number;
  seconds: number;
  timeoutMs?: number;
  /** Called about once a second with the requests answered so far (long runs report progress). */
  onTick?: (elapsedSeconds: number) => void;
}

export async function fixedRate(target: LoadTarget, { rate, seconds, timeoutMs = 10_000, onTick }: FixedRateOptions): Promise<LoadResult> {
  // Idle sockets are closed after 4 s, before the gateway's 5 s keep-alive timeout can close one
  // under a request being sent (an ECONNRESET that would count as a failed request).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512, timeout: 4000 });
  const url = new URL(target.url);
  const latencies: number[] = [];
  const failures = new Failures();
  const total = Math.round(rate * seconds);
  const interval = 1000 / rate;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  let lastTick = 0;

  const send = (i: number, due: number) =>
    new Promise<void>((done) => {
      const next = target.next(i);
      const request = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          agent,
          timeout: timeoutMs,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${target.tokenFor(next.role, i)}`, 'content-length': Buffer.byteLength(next.body) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            latencies.push(performance.now() - due);
            const failure = failureOf(response.statusCode ?? 0, Buffer.concat(chunks).toString());
            if (failure) failures.add(failure);
            done();
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      request.on('error', (error) => {
        failures.add(`transport: ${error.message}`);
        done();
      });
      request.end(next.body);
    });

  for (let i = 0; i < total; i++) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(send(i, due));
    const elapsed = (performance.now() - start) / 1000;
    if (onTick && elapsed - lastTick >= 1) {
      lastTick = Math.floor(elapsed);
      onTick(elapsed);
    }
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    requests: latencies.length,
    errors: failures.count,
    errorSamples: failures.samples,
    seconds: elapsed,
    requestsPerSecond: latencies.length / elapsed,
    latency: summarise(latencies),
  };
}
