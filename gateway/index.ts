/**
 * The gateway (:4000): Apollo Server running @apollo/gateway from the committed supergraph.
 * This is its composition root; each concern lives in its own folder:
 *
 *   /graphql  authenticate (auth/) → requests in flight per subject (concurrency/) → body size
 *             and batch limits (limits/) → rate limit
 *             (rate-limit/) → per operation: persisted-query resolution (persisted-queries/)
 *             and document limits (limits/) → Apollo, with the plugins for who may send
 *             which operation (roles/), operation limits and estimated cost, charged to the
 *             per-second cost budget (cost-rate/) and to the rate limit (limits/, rate-limit/),
 *             APQ registration of documents that validated
 *             (persisted-queries/) and partial answers (availability/)
 *   GET /     GraphiQL from the gateway's own bundle (graphiql/)
 *   /health/live, /health/ready (200 only when every subgraph answered the last background check, health/), /metrics
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
import { DEVELOPMENT_INTERNAL_SECRET, DEVELOPMENT_JWT_SECRET, type Config, type GatewayConfig, type SubgraphName } from '../src/config';
import { ErrorCode } from '../src/errors';
import { IDENTITY_HEADER, InternalTokenSigner, type Identity } from '../src/identity';
import { REQUEST_ID_HEADER, requestIdOf } from '../src/subgraph-server';
import { createLogger, type Logger } from '../src/logging';
import { createProcessMetrics, metricsHandler } from '../src/metrics';
import { startTracing } from '../src/tracing';
import { authenticate, identityOf } from './auth';
import { availability, fieldOwnership, SubgraphDataSource } from './availability';
import { concurrencyLimit } from './concurrency';
import { costRate } from './cost-rate';
import { createErrorFormatter, sendError } from './errors';
import { exampleTabs, examplesDir, graphiql } from './graphiql';
import { bodyErrors, documentLimits, httpLimits, queryLimits, type LimitEvents } from './limits';
import { healthRoutes, readinessMonitor } from './health';
import { listMaximums } from './list-maximums';
import { mediaTypeStatus } from './media-types';
import { createGatewayMetrics, type GatewayMetrics } from './metrics';
import { operationChoice } from './operation-choice';
import { operationSteps } from './operations';
import { loadManifest, manifestPath, MemoryApqCache, operationsDir, persistedQueries, RedisApqCache, registrationCount, type ApqBounds, type ApqCache, type PersistedOperation } from './persisted-queries';
import { costCharge, CountGenerations, MemoryWindowCounter, operationCount, RedisWindowCounter, ResilientWindowCounter, rateLimit } from './rate-limit';
import { connectGatewayRedis, type GatewayRedis } from './redis';
import { replicaSet } from './replicas';
import { operationRoles } from './roles';
import { hasMutations, loadSupergraph, subgraphsIn } from './subgraphs';

export interface GatewayContext {
  identity: Identity;
  /** The identity signed for each subgraph the request reaches, once per request and subgraph. */
  internalTokens: Map<string, string>;
  /** Names the request to every subgraph it reaches (the prediction log records it): the client's x-request-id, or a fresh one. */
  requestId: string;
}

export interface RunningGateway {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** How long start-up waits for the rate limit to merge into Redis's counts before serving (degraded until it has). */
const MERGE_AT_START_MS = 2000;

/**
 * Rate-limit counting in Redis, degraded to each gateway's share of the allowance while Redis is
 * unusable, and merged back into Redis before counting there again (see rate-limit/resilient).
 */
async function resilientCounter(redis: GatewayRedis, limits: GatewayConfig, counters: GatewayMetrics): Promise<ResilientWindowCounter> {
  const counter = new ResilientWindowCounter(
    new RedisWindowCounter(redis.run, limits.redisKeyPrefix),
    new CountGenerations(redis.run, limits.redisKeyPrefix, { instances: limits.instances, waitMs: limits.rateLimitMergeWaitMs }),
    redis.isReady,
    { onFallback: (reason) => counters.redisFallbacks.inc({ use: 'rate_limit', reason }) },
    { share: limits.degradedPercent / 100 / limits.instances },
  );
  // Not awaited: other users of Redis need not wait while the rate limit waits for the other gateways.
  redis.onRecovered(async () => void counter.sync());
  if (redis.isReady()) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([counter.sync(), new Promise((resolve) => (timer = setTimeout(resolve, MERGE_AT_START_MS)))]);
    clearTimeout(timer);
  }
  return counter;
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
    ? await connectGatewayRedis({
        url: config.redisUrl,
        commandTimeoutMs: limits.redisCommandTimeoutMs,
        logger,
        breaker: { failures: limits.redisBreakerFailures, cooldownMs: limits.redisBreakerCooldownMs },
        onBreakerChange: (state) => counters.redisBreakerOpen.set(state === 'closed' ? 0 : 1),
      })
    : undefined;
  const counter = redis ? await resilientCounter(redis, limits, counters) : new MemoryWindowCounter();
  const apqBounds: ApqBounds = { maxDocumentBytes: limits.apqMaxDocumentBytes, maxPerSubject: limits.apqMaxPerSubject, maxBytes: limits.apqMaxBytes, ttlSeconds: limits.apqTtlSeconds };
  const apqCache: ApqCache = redis
    ? new RedisApqCache(redis.run, limits.redisKeyPrefix, redis.isReady, apqBounds, new MemoryApqCache(apqBounds), () => counters.redisFallbacks.inc({ use: 'apq', reason: 'error' }))
    : new MemoryApqCache(apqBounds);
  const limitEvents: LimitEvents = { onRefused: (limit) => counters.limitRefusals.inc({ limit }), onCost: (cost) => counters.operationCost.observe(cost) };
  const onLimited = (identity: Identity) => counters.rateLimited.inc({ role: identity.role });
  if (limits.demandControl === 'enforce' && limits.costBurst < limits.maxOperationCost) {
    throw new Error(`GATEWAY_COST_BURST (${limits.costBurst}) must be at least GATEWAY_MAX_OPERATION_COST (${limits.maxOperationCost}), or the most expensive operation allowed could never run`);
  }
  const chargeCostRate = costRate({
    ratePerSecond: limits.costRatePerSecond,
    burst: limits.costBurst,
    redis: redis ? { redis, keyPrefix: limits.redisKeyPrefix } : undefined,
    degradedShare: limits.degradedPercent / 100 / limits.instances,
    onLimited: (identity) => {
      onLimited(identity);
      counters.limitRefusals.inc({ limit: 'costRate' });
    },
    onFallback: (reason) => counters.redisFallbacks.inc({ use: 'cost_rate', reason }),
  });
  const chargeRateLimit = costCharge({ limits: config.rateLimits, counter, costPerRequest: limits.costPerRequest, onLimited });
  const persisted = persistedQueries({ manifest: readManifest(config, logger), apqCache, onRegistered: () => counters.apqRegistrations.inc() });

  const replicas = new Map(subgraphs.map((name) => [name, replicaSet(config.subgraphUrls[name])]));
  const internalSigner = new InternalTokenSigner(config.internalSecret, { subgraphDeadlineMs: config.subgraphTimeoutMs });
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name }) =>
      new SubgraphDataSource<GatewayContext & Record<string, unknown>>({
        name,
        replicas: replicas.get(name as SubgraphName) ?? replicaSet(config.subgraphUrls[name as SubgraphName]),
        onFailover: () => counters.subgraphFailovers.inc({ subgraph: name }),
        timeoutMs: config.subgraphTimeoutMs,
        maxResponseBytes: limits.maxSubgraphResponseBytes,
        logger,
        prepare: (headers, context) => {
          const { identity, internalTokens, requestId } = context as Partial<GatewayContext>;
          if (requestId) headers.set(REQUEST_ID_HEADER, requestId);
          if (!identity || !internalTokens) return;
          let token = internalTokens.get(name);
          if (token === undefined) internalTokens.set(name, (token = internalSigner.tokenFor(identity, name)));
          headers.set(IDENTITY_HEADER, token);
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
      queryLimits(limits, limitEvents, async (identity, cost) => {
        // The per-second budget first, so an operation it refuses spends nothing of the hour's.
        await chargeCostRate(identity, cost);
        await chargeRateLimit(identity, cost);
      }),
      persisted.registration,
      availability({ ownership: fieldOwnership(supergraphSdl), onUnavailable: (subgraph) => counters.subgraphUnavailable.inc({ subgraph }) }),
    ],
  });
  await server.start();

  const readiness = readinessMonitor({
    subgraphs: Object.fromEntries(subgraphs.map((name) => [name, config.subgraphUrls[name]])),
    onReplica: (name, url, ready) => {
      const set = replicas.get(name as SubgraphName);
      if (ready) set?.markUp(url);
      else set?.markDown(url);
    },
    intervalMs: limits.readinessIntervalMs,
    timeoutMs: Math.min(1000, limits.readinessIntervalMs),
  });
  // Redis down degrades (in-process fallbacks) but does not make the gateway unready.
  healthRoutes(app, readiness, () => ({ redis: redis ? (redis.isReady() ? 'ready' : 'unavailable') : 'not configured' }));
  app.get('/metrics', metricsHandler(metrics.registry, { token: config.metricsToken, loopbackOnlyWithoutToken: config.isProduction }));
  app.use(
    '/graphql',
    (_req, res, next) => {
      const end = metrics.httpRequestSeconds.startTimer({ route: '/graphql' });
      res.on('finish', () => end({ status: String(res.statusCode) }));
      next();
    },
    authenticate({ jwt: config.jwt, onRefused: () => counters.authFailures.inc() }),
    concurrencyLimit({ maxPerSubject: limits.maxConcurrentPerSubject, onRefused: () => counters.limitRefusals.inc({ limit: 'concurrency' }) }),
    ...httpLimits(limits, limitEvents),
    rateLimit({ limits: config.rateLimits, counter, requestCost: (body) => operationCount(body) + registrationCount(body), onLimited }),
    operationSteps(persisted.resolve, documentLimits(limits, limitEvents), operationChoice({ hasMutations: hasMutations(supergraphSdl) })),
    expressMiddleware(server, {
      context: async ({ req, res }) => {
        const identity = identityOf(res.locals);
        return { identity, internalTokens: new Map(), requestId: requestIdOf(req.headers[REQUEST_ID_HEADER]) };
      },
    }),
  );
  app.use('/graphql', bodyErrors(limits, limitEvents));
  // After /graphql, whose requests then never walk GraphiQL's routes (none of which they match).
  app.use(graphiql({ projectRoot: config.projectRoot, tabs: [...exampleTabs(examplesDir(config.projectRoot)), ...exampleTabs(operationsDir(config.projectRoot))] }));
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
      // Unready first, so load balancers move traffic away before connections close.
      readiness.drain();
      if (limits.shutdownDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, limits.shutdownDelayMs));
      readiness.stop();
      await server.stop();
      counter.close();
      await redis?.close();
      await tracing.shutdown();
    },
  };
}
