/**
 * The gateway (:4000): Apollo Server running @apollo/gateway from the committed supergraph.
 * It authenticates the client, relays a signed identity to each subgraph, and answers
 * /health/live, /health/ready and /metrics.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError } from 'graphql';
import type { Config, SubgraphName } from '../src/config';
import { ErrorCode } from '../src/errors';
import { IDENTITY_HEADER, signInternalIdentity, type Identity } from '../src/identity';
import { createLogger, type Logger } from '../src/logging';
import { createProcessMetrics } from '../src/metrics';
import { AuthenticationError, bearerToken, verifyClientToken } from './auth';
import { healthUrl, loadSupergraph, subgraphsIn } from './subgraphs';

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

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } } });
}

export async function startGateway(config: Config, port: number = config.ports.gateway, logger: Logger = createLogger('gateway', config.logLevel)): Promise<RunningGateway> {
  const supergraphSdl = loadSupergraph(config);
  const subgraphs = subgraphsIn(supergraphSdl);
  const metrics = createProcessMetrics('gateway');

  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name }) =>
      new RemoteGraphQLDataSource<GatewayContext>({
        url: config.subgraphUrls[name as SubgraphName],
        fetcher: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(config.subgraphTimeoutMs) }),
        willSendRequest: ({ request, context }) => {
          request.http?.headers.set(IDENTITY_HEADER, context.internalToken);
        },
      }),
  });

  const app = express();
  const httpServer = http.createServer(app);
  const server = new ApolloServer<GatewayContext>({
    gateway,
    csrfPrevention: true,
    includeStacktraceInErrorResponses: !config.isProduction,
    introspection: true,
    logger,
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), ApolloServerPluginLandingPageDisabled()],
  });
  await server.start();

  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    const checks = await Promise.all(subgraphs.map(async (name) => [name, await subgraphReady(config.subgraphUrls[name], 1000)] as const));
    const ready = checks.every(([, ok]) => ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', subgraphs: Object.fromEntries(checks) });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(
    '/graphql',
    (_req, res, next) => {
      const end = metrics.httpRequestSeconds.startTimer({ route: '/graphql' });
      res.on('finish', () => end({ status: String(res.statusCode) }));
      next();
    },
    express.json({ limit: '1mb' }),
    expressMiddleware(server, {
      context: async ({ req }) => {
        try {
          const identity = verifyClientToken(bearerToken(req.headers.authorization), config.jwt);
          return { identity, internalToken: signInternalIdentity(identity, config.internalSecret) };
        } catch (error) {
          if (error instanceof AuthenticationError) throw unauthenticated(error.message);
          throw error;
        }
      },
    }),
  );

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, config.host, () => resolve());
  });
  const actualPort = (httpServer.address() as AddressInfo).port;
  const url = `http://${config.host}:${actualPort}/graphql`;
  logger.info({ url, subgraphs }, `gateway listening at ${url}`);
  return { url, port: actualPort, stop: () => server.stop() };
}
