/**
 * The gateway (:4000): Apollo Server running @apollo/gateway from the committed supergraph.
 * This is its composition root; each concern lives in its own folder:
 *
 *   /graphql  authenticate (auth/) → body size and batch limits (limits/) → rate limit
 *             (rate-limit/) → per operation: persisted-query resolution (persisted-queries/)
 *             and document limits (limits/) → Apollo, with the plugins for who may send
 *             which operation (roles/), operation limits (limits/) and partial answers (availability/)
 *   GET /     GraphiQL from the gateway's own bundle (graphiql/)
 *   /health/live, /health/ready (200 only when every subgraph answers), /metrics
 *
 * Each subgraph request carries a short-lived identity token signed by the gateway; subgraphs
 * answer nothing without it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type ErrorRequestHandler } from 'express';
import { DEVELOPMENT_INTERNAL_SECRET, DEVELOPMENT_JWT_SECRET, type Config, type SubgraphName } from '../src/config';
import { ErrorCode } from '../src/errors';
import { IDENTITY_HEADER, signInternalIdentity, type Identity } from '../src/identity';
import { createLogger, type Logger } from '../src/logging';
import { createProcessMetrics } from '../src/metrics';
import { startTracing } from '../src/tracing';
import { authenticate, identityOf } from './auth';
import { availability, fieldOwnership, SubgraphDataSource } from './availability';
import { createErrorFormatter, sendError } from './errors';
import { exampleTabs, examplesDir, graphiql } from './graphiql';
import { bodyErrors, documentLimits, httpLimits, queryLimits, type LimitEvents } from './limits';
import { createGatewayMetrics } from './metrics';
import { listMaximums } from './list-maximums';
import { mediaTypeStatus } from './media-types';
import { operationChoice } from './operation-choice';
import { operationSteps } from './operations';
import { loadManifest, manifestPath, MemoryKeyValueCache, operationsDir, persistedQueries, RedisKeyValueCache, type KeyValueCache, type PersistedOperation } from './persisted-queries';
import { MemoryWindowCounter, RedisWindowCounter, ResilientWindowCounter, rateLimit, type WindowCounter } from './rate-limit';
import { connectGatewayRedis, type GatewayRedis } from './redis';
import { operationRoles } from './roles';
import { hasMutations, healthUrl, loadSupergraph, subgraphsIn } from './subgraphs';

export interface GatewayContext {
  identity: Identity;
  /** The identity signed for subgraphs, once per request. */
  internalToken: string;
}

export interface RunningGateway {
  url: string;
  port: number;
  stop(): Promise<void>;
}

async function subgraphReady(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const response = await fetch(healthUrl(url, 'ready'), { signal: AbortSignal.timeout(timeoutMs) });
    return response.ok;
  } catch {
    return false;
  }
}

/** Production must never run with a secret anyone can read in this repository. */
function refuseDevelopmentSecrets(config: Config): void {
  if (!config.isProduction) return;
  if (config.jwt.usesDevelopmentSecret || config.jwt.verifyKey === DEVELOPMENT_JWT_SECRET) {
    throw new Error('refusing to start with NODE_ENV=production and the development JWT secret: set JWT_SECRET or JWT_PUBLIC_KEY');
  }
  if (config.internalSecret === DEVELOPMENT_INTERNAL_SECRET) {
    throw new Error('refusing to start with NODE_ENV=production and the development INTERNAL_JWT_SECRET');
  }
}

function readManifest(config: Config, logger: Logger): ReadonlyMap<string, PersistedOperation> {
  const file = manifestPath(config.projectRoot);
  if (!existsSync(file)) {
    logger.warn({ file }, 'no persisted-query manifest: partners can run nothing until `npm run pq:manifest` writes one');
    return new Map();
  }
  return loadManifest(file);
}

export async function startGateway(config: Config, port: number = config.ports.gateway, logger: Logger = createLogger('gateway', config.logLevel)): Promise<RunningGateway> {
  refuseDevelopmentSecrets(config);
  const supergraphSdl = loadSupergraph(config);
  const subgraphs = subgraphsIn(supergraphSdl);
  const metrics = createProcessMetrics('gateway');
  const tracing = startTracing(config.otlpEndpoint, 'gateway');
  const counters = createGatewayMetrics(metrics.registry);
  const limits = config.gateway;

  const redis: GatewayRedis | undefined = config.redisUrl
    ? await connectGatewayRedis({ url: config.redisUrl, commandTimeoutMs: limits.redisCommandTimeoutMs, logger })
    : undefined;
  const memoryCounter = new MemoryWindowCounter();
  const counter: WindowCounter = redis
    ? new ResilientWindowCounter(new RedisWindowCounter(redis.run, limits.redisKeyPrefix), memoryCounter, redis.isReady, {
        onFallback: (reason) => counters.redisFallbacks.inc({ use: 'rate_limit', reason }),
      })
    : memoryCounter;
  const apqCache: KeyValueCache = redis
    ? new RedisKeyValueCache(redis.run, limits.redisKeyPrefix, redis.isReady, new MemoryKeyValueCache(), () => counters.redisFallbacks.inc({ use: 'apq', reason: 'error' }))
    : new MemoryKeyValueCache();
  const limitEvents: LimitEvents = { onRefused: (limit) => counters.limitRefusals.inc({ limit }) };
  const persisted = persistedQueries({ manifest: readManifest(config, logger), apqCache, apqTtlSeconds: limits.apqTtlSeconds });

  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name }) =>
      new SubgraphDataSource<GatewayContext & Record<string, unknown>>({
        name,
        url: config.subgraphUrls[name as SubgraphName],
        timeoutMs: config.subgraphTimeoutMs,
        logger,
        prepare: (headers, context) => {
          if (typeof context.internalToken === 'string') headers.set(IDENTITY_HEADER, context.internalToken);
        },
      }),
  });

  const app = express();
  app.disable('x-powered-by');
  // express hashes every response body for an ETag; no GraphQL client revalidates a POST, and a
  // 100-member page is ~140 KB of SHA-1 per request. (GraphiQL's static files keep their own.)
  app.set('etag', false);
  const httpServer = http.createServer(app);
  const server = new ApolloServer<GatewayContext>({
    gateway,
    csrfPrevention: true,
    // Details of unexpected errors go to the log (see createErrorFormatter), never to clients.
    includeStacktraceInErrorResponses: false,
    introspection: true,
    allowBatchedHttpRequests: true,
    // Persisted queries (manifest and APQ) are resolved before Apollo, in `persisted`.
    persistedQueries: false,
    formatError: createErrorFormatter(logger, { logDetails: !config.isProduction }),
    logger,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginLandingPageDisabled(),
      mediaTypeStatus(),
      operationRoles(),
      listMaximums({ gatewayMaximum: limits.maxListSize }),
      queryLimits(limits, limitEvents),
      availability({ ownership: fieldOwnership(supergraphSdl), onUnavailable: (subgraph) => counters.subgraphUnavailable.inc({ subgraph }) }),
    ],
  });
  await server.start();

  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    const checks = await Promise.all(subgraphs.map(async (name) => [name, await subgraphReady(config.subgraphUrls[name], 1000)] as const));
    const ready = checks.every(([, ok]) => ok);
    // Redis down degrades (in-process fallbacks) but does not make the gateway unready.
    const redisState = redis ? (redis.isReady() ? 'ready' : 'unavailable') : 'not configured';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', subgraphs: Object.fromEntries(checks), redis: redisState });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(graphiql({ projectRoot: config.projectRoot, tabs: [...exampleTabs(examplesDir(config.projectRoot)), ...exampleTabs(operationsDir(config.projectRoot))] }));
  app.use(
    '/graphql',
    (_req, res, next) => {
      const end = metrics.httpRequestSeconds.startTimer({ route: '/graphql' });
      res.on('finish', () => end({ status: String(res.statusCode) }));
      next();
    },
    authenticate({ jwt: config.jwt, onRefused: () => counters.authFailures.inc() }),
    ...httpLimits(limits, limitEvents),
    rateLimit({ limits: config.rateLimits, counter, onLimited: (identity) => counters.rateLimited.inc({ role: identity.role }) }),
    operationSteps(persisted.resolve, documentLimits(limits, limitEvents), operationChoice({ hasMutations: hasMutations(supergraphSdl) }), persisted.register),
    expressMiddleware(server, {
      context: async ({ res }) => {
        const identity = identityOf(res.locals);
        return { identity, internalToken: signInternalIdentity(identity, config.internalSecret) };
      },
    }),
  );
  app.use('/graphql', bodyErrors(limits, limitEvents));
  const unexpected: ErrorRequestHandler = (error: Error, req, res, _next) => {
    logger.error({ err: config.isProduction ? error.message : error, path: req.path }, 'unexpected error outside GraphQL execution');
    if (!res.headersSent) sendError(res, 500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
  };
  app.use(unexpected);

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, config.host, () => resolve());
  });
  const actualPort = (httpServer.address() as AddressInfo).port;
  const url = `http://${config.host}:${actualPort}/graphql`;
  logger.info({ url, subgraphs, redis: redis ? 'configured' : 'in-process' }, `gateway listening at ${url}`);
  return {
    url,
    port: actualPort,
    stop: async () => {
      await server.stop();
      memoryCounter.close();
      await redis?.close();
      await tracing.shutdown();
    },
  };
}
