/**
 * One Apollo Server per subgraph, with the endpoints every Shelfmark process has:
 * POST /graphql (only for requests carrying the gateway's signed identity), GET /health/live,
 * GET /health/ready and GET /metrics.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { Config, SubgraphName } from '../config';
import { ErrorCode } from '../errors';
import { IDENTITY_HEADER, IdentityError, verifyInternalIdentity, type Identity } from '../identity';
import type { Logger } from '../logging';
import type { ProcessMetrics } from '../metrics';

export interface SubgraphContext extends BaseContext {
  identity: Identity;
}

export interface SubgraphServerOptions<TContext extends SubgraphContext> {
  name: SubgraphName;
  schema: GraphQLSchema;
  config: Config;
  logger: Logger;
  metrics: ProcessMetrics;
  /** Builds the per-request context (its DataLoaders) once the identity is verified. */
  createContext: (identity: Identity) => TContext;
  /** Readiness: resolves true when the subgraph can answer (store open, model loaded). */
  isReady?: () => boolean | Promise<boolean>;
  /** Called when the server stops, after in-flight requests finish. */
  onStop?: () => Promise<void>;
}

export interface RunningSubgraph {
  name: SubgraphName;
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startSubgraphServer<TContext extends SubgraphContext>(
  options: SubgraphServerOptions<TContext>,
  port: number,
): Promise<RunningSubgraph> {
  const { name, config, logger, metrics } = options;
  const app = express();
  const httpServer = http.createServer(app);
  httpServer.keepAliveTimeout = 65_000;

  const server = new ApolloServer<TContext>({
    schema: options.schema,
    // Both default plugins hook every resolved field; the gateway neither asks for federated
    // traces nor caches responses, so they cost time (about 5% of a 100-member page) for nothing.
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
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', subgraph: name });
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
    express.json({ limit: '2mb' }),
    expressMiddleware(server, {
      context: async ({ req }) => {
        const header = req.headers[IDENTITY_HEADER];
        try {
          const identity = verifyInternalIdentity(Array.isArray(header) ? header[0] : header, config.internalSecret);
          return options.createContext(identity);
        } catch (error) {
          if (!(error instanceof IdentityError)) throw error;
          throw new GraphQLError(error.message, {
            extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } },
          });
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
  logger.info({ url }, `${name} subgraph listening at ${url}`);
  return {
    name,
    url,
    port: actualPort,
    stop: async () => {
      await server.stop();
      await options.onStop?.();
    },
  };
}
