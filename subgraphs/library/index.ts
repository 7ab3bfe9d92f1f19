/**
 * The library subgraph (:4001): members, books, loans and branches from the store.
 * `startLibrarySubgraph(config)` is its composition root.
 */
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../../src/config';
import type { Identity } from '../../src/identity';
import { createLogger } from '../../src/logging';
import { createProcessMetrics } from '../../src/metrics';
import { buildFederatedSchema } from '../../src/graphql/subgraph-schema';
import { openStore, readAsOf, type Store } from '../../src/store';
import { startSubgraphServer, type RunningSubgraph } from '../../src/subgraph-server';
import type { LibraryContext } from './context';
import { createLibraryLoaders } from './loaders';
import { BookResolver, LoanResolver, MemberResolver } from './resolvers';
import { ModelsResolver } from './models';

export type { LibraryContext } from './context';

export const libraryResolvers = [MemberResolver, BookResolver, LoanResolver, ModelsResolver] as const;

export function buildLibrarySchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: libraryResolvers },
    {
      Member: { __resolveReference: (ref, ctx: LibraryContext) => ctx.loaders.member.load(ref.id) },
      Book: { __resolveReference: (ref, ctx: LibraryContext) => ctx.loaders.book.load(ref.id) },
      Loan: { __resolveReference: (ref, ctx: LibraryContext) => ctx.loaders.loan.load(ref.id) },
      Branch: { __resolveReference: (ref, ctx: LibraryContext) => ctx.loaders.branch.load(ref.id) },
    },
  );
}

export function createLibraryContext(store: Store, asOf: string, modelsDir: string, identity: Identity): LibraryContext {
  return { identity, store, asOf, modelsDir, loaders: createLibraryLoaders(store) };
}

export async function startLibrarySubgraph(config: Config, port: number = config.ports.library): Promise<RunningSubgraph> {
  const logger = createLogger('library', config.logLevel);
  const store = openStore(config.databaseUrl, { readonly: config.databaseUrl.startsWith('sqlite:') });
  const asOf = await readAsOf(store);
  return startSubgraphServer<LibraryContext>(
    {
      name: 'library',
      schema: await buildLibrarySchema(),
      config,
      logger,
      metrics: createProcessMetrics('library'),
      createContext: (identity) => createLibraryContext(store, asOf, config.modelsDir, identity),
      onStop: () => store.close(),
    },
    port,
  );
}
