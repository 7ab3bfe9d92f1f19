/**
 * OpenTelemetry traces, exported over OTLP/HTTP when an endpoint is configured
 * (OTEL_EXPORTER_OTLP_ENDPOINT, read in src/config). Off by default, and then free: the SDK is
 * never loaded, `inSpan` calls its function directly and nothing touches request headers.
 *
 * The trace of one query: the gateway's own spans (@apollo/gateway creates `gateway.request`,
 * `gateway.fetch` per subgraph call, ... through @opentelemetry/api), W3C trace context
 * (`traceparent`) on every subgraph request, a server span per subgraph request, and inside it
 * the feature reads and inference runs.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Tracer } from '@opentelemetry/api';
import type http from 'node:http';

interface Tracing {
  tracer: Tracer;
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/**
 * Starts exporting this process's spans to `endpoint` (an OTLP/HTTP base URL; spans go to
 * `<endpoint>/v1/traces`) as `service`. Once per process: later calls keep the first setup.
 * Returns how to flush and stop; a no-op without an endpoint.
 */
export function startTracing(endpoint: string | undefined, service: string): { shutdown(): Promise<void> } {
  if (!endpoint) return { shutdown: async () => undefined };
  if (!active) {
    // Loaded here only: a process without an endpoint never loads the SDK.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
    const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
    const { Resource } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const provider = new NodeTracerProvider({
      resource: new Resource({ 'service.name': service, 'service.namespace': 'shelfmark' }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` }), { scheduledDelayMillis: 500 })],
    });
    // Sets the global tracer provider, the W3C trace-context propagator and an AsyncLocalStorage context manager.
    provider.register();
    active = {
      tracer: trace.getTracer('shelfmark'),
      shutdown: async () => {
        await provider.shutdown();
        trace.disable();
        propagation.disable();
        context.disable();
        active = undefined;
      },
    };
  }
  const running = active;
  return { shutdown: () => running.shutdown() };
}

export function tracingOn(): boolean {
  return active !== undefined;
}

/**
 * Runs `fn` inside a child span of the active span. Without tracing, or outside any trace
 * (background work such as filling memos), `fn` runs as it is.
 */
export async function inSpan<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  if (!active || !trace.getActiveSpan()) return fn();
  return active.tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Adds the active trace context (`traceparent`, `tracestate`) to an outgoing request's headers. */
export function injectTraceContext(headers: Record<string, string | number>): void {
  if (active) propagation.inject(context.active(), headers);
}

/**
 * Handles one incoming request inside a server span that continues the caller's trace (from
 * its `traceparent`); the span ends when the response is finished.
 */
export function serveInSpan(name: string, attributes: Attributes, req: http.IncomingMessage, res: http.ServerResponse, handle: () => Promise<void>): Promise<void> {
  if (!active) return handle();
  const parent = propagation.extract(context.active(), req.headers);
  const span = active.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
  res.once('close', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  return context.with(trace.setSpan(parent, span), handle);
}
