/**
 * The library subgraph (:4001): members, books, loans and branches from the store, and the
 * circulation mutations that change them.
 * `startLibrarySubgraph(config)` is its composition root.
 */
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../../src/config';
import type { Identity } from '../../src/identity';
import { createLogger } from '../../src/logging';
import { createProcessMetrics } from '../../src/metrics';
import { buildFederatedSchema } from '../../src/graphql/subgraph-schema';
import { Counter } from 'prom-client';
import { applyEvent, eventWriter, readClock, type ApplyOptions, type EventWriter } from '../../src/circulation';
import { openMigratedStore, type Store } from '../../src/store';
import { startSubgraphServer, type RunningSubgraph } from '../../src/subgraph-server';
import type { LibraryContext } from './context';
import { createLibraryLoaders } from './loaders';
import { BookResolver, LoanResolver, MemberResolver } from './resolvers';
import { ModelsResolver } from './models';
import { CalibrationResolver, JudgedPredictionResolver, ModelHealthResolver } from './health';
import { startMonitorThread } from '../../src/monitoring/monitor-thread';
import { CirculationResolver } from './circulation';

export type { LibraryContext } from './context';

export const libraryResolvers = [MemberResolver, BookResolver, LoanResolver, ModelsResolver, ModelHealthResolver, JudgedPredictionResolver, CalibrationResolver, CirculationResolver] as const;

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

export function createLibraryContext(
  store: Store,
  modelsDir: string,
  identity: Identity,
  circulation: ApplyOptions = {},
  writer: EventWriter = { write: (event) => applyEvent(store, event, circulation) },
  monitor?: LibraryContext['monitor'],
): LibraryContext {
  let clock: Promise<string> | undefined;
  return {
    identity,
    store,
    modelsDir,
    loaders: createLibraryLoaders(store),
    clock: () => (clock ??= readClock(store, circulation.clock)),
    circulation,
    writer,
    monitor,
  };
}

/**
 * The library subgraph is the store's writer: it opens the store writable and brings its
 * schema up to date before answering. It also runs the live monitor (src/monitoring/monitor)
 * every MONITOR_INTERVAL_MS on a worker thread of its own (src/monitoring/monitor-thread), off
 * the serving thread, writing judged predictions to the store; `Model.health` reads the last
 * snapshot the thread posted. SQLite runs in WAL mode, so the model subgraphs' read-only
 * connections see each committed write.
 */
export async function startLibrarySubgraph(config: Config, port: number = config.ports.library): Promise<RunningSubgraph> {
  const logger = createLogger('library', config.logLevel);
  const store = await openMigratedStore(config.databaseUrl, { backgroundCheckpoints: true });
  await readClock(store);
  const metrics = createProcessMetrics('library');
  const events = new Counter({
    name: 'circulation_events_total',
    help: 'Circulation events received, by type and outcome (applied, duplicate, rejected, conflict)',
    labelNames: ['type', 'outcome'],
    registers: [metrics.registry],
  });
  const circulation: ApplyOptions = {
    clock: { mode: config.clock },
    onOutcome: (type, outcome) => events.inc({ type, outcome }),
  };
  const writer = eventWriter(store, circulation);
  // The monitor runs on a thread of its own with its own connection (src/monitoring/monitor-thread):
  // its runs never hold up a request or a circulation write of this thread, and its statements
  // never queue on this thread's connection (SQLite's WAL lets both work).
  const monitor = config.monitor.intervalMs > 0
    ? startMonitorThread({ databaseUrl: config.databaseUrl, modelsDir: config.modelsDir, clock: config.clock, intervalMs: config.monitor.intervalMs, logLevel: config.logLevel, busyTimeoutMs: 2000 }, { metrics, logger })
    : undefined;
  return startSubgraphServer<LibraryContext>(
    {
      name: 'library',
      schema: await buildLibrarySchema(),
      config,
      logger,
      metrics,
      createContext: (identity) => createLibraryContext(store, config.modelsDir, identity, circulation, writer, monitor),
      onStop: async () => {
        await monitor?.stop();
        await store.close();
      },
    },
    port,
  );
}
