/**
 * One Apollo Server per subgraph, with the endpoints every Shelfmark process has:
 * POST /graphql (only for requests carrying the gateway's signed identity), GET /health/live,
 * GET /health/ready and GET /metrics.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, HeaderMap, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { Config, SubgraphName } from '../config';
import { ErrorCode } from '../errors';
import { IDENTITY_HEADER, IdentityError, VerifiedTokens, verifyInternalIdentity, type Identity } from '../identity';
import type { Logger } from '../logging';
import { metricsHandler, type ProcessMetrics } from '../metrics';
import { inRequestScope, observeRequestRuns, type RequestRuns } from '../metrics/request-runs';
import { serveInSpan, startTracing } from '../tracing';

export interface SubgraphContext extends BaseContext {
  identity: Identity;
}

/** The header a caller may name its request with; the prediction log records it. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** The caller's request id when it is a plain token of at most 128 characters, or a fresh one. */
export function requestIdOf(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given !== undefined && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

export interface SubgraphServerOptions<TContext extends SubgraphContext> {
  name: SubgraphName;
  schema: GraphQLSchema;
  config: Config;
  logger: Logger;
  metrics: ProcessMetrics;
  /** Builds the per-request context (its DataLoaders) once the identity is verified. */
  createContext: (identity: Identity, requestId: string) => TContext;
  /** Readiness: resolves true when the subgraph can answer (store open, model loaded). */
  isReady?: () => boolean | Promise<boolean>;
  /** More for the readiness body (what each model serves, say), beside status and subgraph. */
  readinessDetail?: () => Record<string, unknown>;
  /** Called after each readiness probe is answered, with what it answered. */
  onReadinessAnswered?: (ready: boolean) => void;
  /** Called when the server stops, after in-flight requests finish. */
  onStop?: () => Promise<void>;
  /** Told when each GraphQL request starts; the returned function is called when its answer is sent or the connection closes. */
  requests?: { begin(): () => void };
}

export interface RunningSubgraph {
  name: SubgraphName;
  url: string;
  port: number;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 2 * 1024 * 1024;

/**
 * A request's body, read to its end: 'too large' as soon as it passes `maxBytes` (the rest left
 * unread), 'broken' when the client aborts or the stream fails. Plain events rather than an
 * async iterator, which costs more than the read itself for a body of one packet.
 */
function requestBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | 'too large' | 'broken'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (outcome: Buffer | 'too large' | 'broken') => {
      req.removeListener('data', onData);
      req.removeListener('end', onEnd);
      req.removeListener('error', onBroken);
      req.removeListener('close', onBroken);
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        finish('too large');
      } else chunks.push(chunk);
    };
    const onEnd = () => finish(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks));
    const onBroken = () => finish('broken');
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onBroken);
    req.once('close', onBroken);
  });
}

/**
 * POST /graphql with a JSON body, the only request the gateway sends, straight to Apollo:
 * express's router, body-parser and content negotiation cost a share of a subgraph's busy time
 * (BENCHMARKS.md), paid on each of the up to six subgraph calls of one member query. Everything else
 * (health, metrics, GET /graphql, other content types) still goes through express.
 */
function postHandler<TContext extends BaseContext>(server: ApolloServer<TContext>, contextOf: (headers: http.IncomingHttpHeaders) => Promise<TContext>) {
  const reply = (res: http.ServerResponse, status: number, message: string) => {
    // A refused body is left unread: the connection must close, or the client waits on it for ever.
    res.writeHead(status, { 'content-type': 'application/json', ...(status === 413 ? { connection: 'close' } : {}) });
    res.end(JSON.stringify({ errors: [{ message, extensions: { code: ErrorCode.BAD_USER_INPUT } }] }));
  };
  return async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (Number(req.headers['content-length']) > MAX_BODY_BYTES) return reply(res, 413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    const read = await requestBody(req, MAX_BODY_BYTES);
    if (read === 'too large') return reply(res, 413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    if (read === 'broken') {
      if (!res.headersSent) res.destroy();
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(read.toString('utf8'));
    } catch (error) {
      return reply(res, 400, `request body is not JSON: ${(error as Error).message}`);
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    try {
      const answer = await server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: 'POST', headers, search: '', body },
        context: () => contextOf(req.headers),
      });
      for (const [key, value] of answer.headers) res.setHeader(key, value);
      res.statusCode = answer.status ?? 200;
      if (answer.body.kind === 'complete') {
        res.end(answer.body.string);
        return;
      }
      for await (const chunk of answer.body.asyncIterator) res.write(chunk);
      res.end();
    } catch (error) {
      // Apollo answers every GraphQL failure itself; reaching here means the response broke.
      if (res.headersSent) res.destroy(error as Error);
      else {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }] }));
      }
    }
  };
}

export async function startSubgraphServer<TContext extends SubgraphContext>(
  options: SubgraphServerOptions<TContext>,
  port: number,
): Promise<RunningSubgraph> {
  const { name, config, logger, metrics } = options;
  const tracing = startTracing(config.otlpEndpoint, name);
  const app = express();
  const httpServer = http.createServer();
  httpServer.keepAliveTimeout = 65_000;

  const server = new ApolloServer<TContext>({
    schema: options.schema,
    // Both default plugins hook every resolved field; the gateway neither asks for federated
    // traces nor caches responses, so they cost time on every page for nothing (BENCHMARKS.md).
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), ApolloServerPluginCacheControlDisabled(), ApolloServerPluginInlineTraceDisabled()],
    includeStacktraceInErrorResponses: !config.isProduction,
    csrfPrevention: true,
    logger,
  });
  await server.start();

  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok', subgraph: name });
  });
  app.get('/health/ready', async (_req, res) => {
    const ready = options.isReady ? await options.isReady() : true;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', subgraph: name, ...options.readinessDetail?.() });
    options.onReadinessAnswered?.(ready);
  });
  app.get('/metrics', metricsHandler(metrics.registry, { token: config.metricsToken, loopbackOnlyWithoutToken: config.isProduction }));
  const verifiedIdentities = new VerifiedTokens();
  const contextOf = async (headers: http.IncomingHttpHeaders): Promise<TContext> => {
    const header = headers[IDENTITY_HEADER];
    try {
      const identity = verifyInternalIdentity(Array.isArray(header) ? header[0] : header, config.internalSecret, name, verifiedIdentities);
      return options.createContext(identity, requestIdOf(headers[REQUEST_ID_HEADER]));
    } catch (error) {
      if (!(error instanceof IdentityError)) throw error;
      throw new GraphQLError(error.message, {
        extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
      });
    }
  };
  /** Times the request and opens its scope of inference runs; `serve` runs inside that scope. */
  const timeRequest = <T>(res: http.ServerResponse, serve: () => T): T => {
    const end = metrics.httpRequestSeconds.startTimer({ route: '/graphql' });
    const ended = options.requests?.begin();
    const runs: RequestRuns = new Map();
    res.on('finish', () => end({ status: String(res.statusCode) }));
    res.once('close', () => {
      observeRequestRuns(metrics.requestInferenceRuns, runs);
      ended?.();
    });
    return inRequestScope(runs, serve);
  };
  app.use(
    '/graphql',
    (_req, res, next) => timeRequest(res, next),
    express.json({ limit: MAX_BODY_BYTES }),
    expressMiddleware(server, { context: ({ req }) => contextOf(req.headers) }),
  );
  const graphqlPost = postHandler(server, contextOf);
  httpServer.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.method === 'POST' && req.url === '/graphql' && /^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
      void timeRequest(res, () => serveInSpan('POST /graphql', { 'shelfmark.subgraph': name }, req, res, () => graphqlPost(req, res)));
    } else app(req, res);
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, config.host, () => resolve());
  });
  const actualPort = (httpServer.address() as AddressInfo).port;
  const url = `http://${config.host}:${actualPort}/graphql`;
  logger.info({ url }, `${name} subgraph listening at ${url}`);
  return {
    name,
    url,
    port: actualPort,
    stop: async () => {
      await server.stop();
      await options.onStop?.();
      await tracing.shutdown();
    },
  };
}
