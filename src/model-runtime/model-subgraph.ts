/**
 * The composition root shared by the model subgraphs: opens the store, loads each model's
 * production version into a hot-reloading slot, lets the subgraph open its per-process
 * services (the memos its models serve from, watchlists, catalogues) and starts the subgraph
 * server. A subgraph is ready when its store answers and every slot holds a version.
 *
 * This runtime names no model: what a model serves from is declared by the model's module
 * (src/models/<name>) and opened by its subgraph through the `services` hook.
 */
import DataLoader from 'dataloader';
import type { GraphQLSchema } from 'graphql';
import type { Config, SubgraphName } from '../config';
import type { Identity } from '../identity';
import { openBackgroundResults, type BackgroundResults } from '../jobs';
import { createLogger, type Logger } from '../logging';
import { createProcessMetrics, type ProcessMetrics } from '../metrics';
import { readClock } from '../circulation';
import { openStore, type Store } from '../store';
import { startSubgraphServer, type RunningSubgraph, type SubgraphContext } from '../subgraph-server';
import { readFallbackPointers, readProductionPointer } from '../registry';
import { AsOfMemo, AsOfValue, memoCarry, memoCompute, SlicePacer, type MemoSources, type Memos } from './as-of-memo';
import { RedisFeatureStore, type SharedFeatureStore } from './feature-store';
import { followChanges, type ChangeFollower, type Freshness } from './follow';
import { ModelSlot, type SlotSpec } from './model-slot';
import { NO_PREDICTION_LOGGING, openPredictionLogging, type PredictionLogging } from './prediction-logging';
import { RequestGate } from './request-gate';

export type { SlotSpec } from './model-slot';

export interface ModelSubgraphDeps extends Freshness {
  store: Store;
  /** The library clock the answers are as of; the change follower moves it together with the memos. */
  asOf: string;
  /** One hot-reloading slot per model the subgraph serves, by model name (see `slotOf`). */
  slots: Record<string, ModelSlot>;
  logger: Logger;
  metrics: ProcessMetrics;
  config: Config;
  /** Where every prediction the subgraph serves is recorded (a no-op with PREDICTION_LOG=off). */
  predictionLog: PredictionLogging;
  /** Where results over the whole library are computed (BullMQ with REDIS_URL, else in process). */
  background: BackgroundResults;
  /** The shared online feature store behind the memos' caches (FEATURE_STORE=redis), if any. */
  featureStore?: SharedFeatureStore;
  /** The requests in flight, which the memos' background work gives way to. */
  requests: RequestGate;
}

/** What a model subgraph keeps for the life of its process: memos, watchlists, catalogues. */
export interface SubgraphServices {
  /**
   * Fills what the services keep ahead of the first request, in the background after start, and
   * settles when that is done: caches filled, first background results computed (or failed).
   * Never rejects.
   */
  warm?: () => Promise<void>;
  /** Stops the services' timers, before the store closes. */
  stop?: () => void;
}

export interface ModelSubgraphSpec<TServices extends SubgraphServices, TContext extends SubgraphContext> {
  name: SubgraphName;
  schema: GraphQLSchema;
  /** The models the subgraph serves: each gets a slot, loaded before the server answers. */
  slots: readonly SlotSpec<unknown>[];
  /** Called once, when the store and the slots are open: the subgraph's memos and per-process services. */
  services: (deps: ModelSubgraphDeps) => TServices;
  /** Called for every request: the per-request loaders, over the process's services; `requestId` names the request in the prediction log. */
  createContext: (identity: Identity, services: TServices, requestId: string) => TContext;
}

/** What a model subgraph scores from: its store, one model's slot and the memos that model serves from. */
export interface ModelScoring<S, M extends MemoSources> {
  deps: ModelSubgraphDeps;
  slot: ModelSlot<S>;
  memos: Memos<M>;
}

/** The slot of `spec` and freshly opened memos of `memos`, owned by the caller. */
export function openScoring<S, M extends MemoSources>(deps: ModelSubgraphDeps, spec: SlotSpec<S>, memos: M): ModelScoring<S, M> {
  return { deps, slot: slotOf(deps, spec), memos: openMemos(deps, memos) };
}

/** The slot a subgraph declared with `spec`, typed by the spec's serving settings. */
export function slotOf<S>(deps: Pick<ModelSubgraphDeps, 'slots'>, spec: SlotSpec<S>): ModelSlot<S> {
  const slot = deps.slots[spec.model];
  if (!slot) throw new Error(`no slot for the ${spec.model} model was opened`);
  // The slot was built from this same spec (openModelDeps keys slots by spec.model), so its settings are S.
  return slot as ModelSlot<S>;
}

/**
 * A DataLoader that waits for every resolver of the current request to have asked before it
 * runs: `setImmediate` fires after all pending promise jobs, however many awaits deep the
 * resolvers are, so one `_entities` call becomes one batch.
 */
export function entityLoader<K, V>(batch: (keys: readonly K[]) => Promise<(V | Error)[]>): DataLoader<K, V> {
  return new DataLoader<K, V>(batch, { batchScheduleFn: (callback) => setImmediate(callback), maxBatchSize: 5000 });
}

/**
 * Opens what a model subgraph serves from: the store, its system date and one hot-reloading slot
 * per model. The subgraph server and the benchmark's in-process floor both start here, so the
 * floor measures exactly the serving path minus HTTP and GraphQL.
 */
export async function openModelDeps(
  config: Config,
  name: string,
  slotSpecs: readonly SlotSpec<unknown>[],
  { logger = createLogger(name, config.logLevel), metrics = createProcessMetrics(name) }: { logger?: Logger; metrics?: ProcessMetrics } = {},
): Promise<ModelSubgraphDeps> {
  // Once the memos are filled a model subgraph reads few rows: a small SQLite page cache (the
  // kernel still caches the file) keeps the pages read while filling them out of its RSS.
  const store = openStore(config.databaseUrl, { readonly: config.databaseUrl.startsWith('sqlite:'), cacheSizeKb: 4096 });
  const asOf = await readClock(store, { mode: config.clock });
  const slots: Record<string, ModelSlot> = {};
  for (const slotSpec of slotSpecs) {
    const slot = new ModelSlot<unknown>({
      ...slotSpec,
      locate: async () => readProductionPointer(config.modelsDir, slotSpec.model) ?? undefined,
      fallbacks: async () => readFallbackPointers(config.modelsDir, slotSpec.model),
      logger,
      metrics,
      reloadIntervalMs: config.modelReloadIntervalMs,
    });
    await slot.start();
    if (!slot.isReady()) logger.warn({ model: slotSpec.model, modelsDir: config.modelsDir }, 'no production version found yet; its fields answer MODEL_UNAVAILABLE until one is promoted');
    slots[slotSpec.model] = slot;
  }
  const background = openBackgroundResults({ redisUrl: config.redisUrl, keyPrefix: config.gateway.redisKeyPrefix, queue: `aggregates-${name}`, logger });
  const featureStore = openFeatureStore(config, metrics, logger);
  // Commands are not queued while disconnected: wait (briefly) for the first connection.
  await featureStore?.connected();
  const deps: ModelSubgraphDeps = { store, asOf, memos: new Set(), inputs: 0, slots, logger, metrics, config, predictionLog: NO_PREDICTION_LOGGING, background, featureStore, requests: new RequestGate() };
  deps.predictionLog = openPredictionLogging({ config: config.predictionLog, store, metrics, logger, asOf: () => deps.asOf });
  return deps;
}

/** The shared online feature store FEATURE_STORE=redis asks for, reporting to `metrics`; undefined with the in-process default. */
export function openFeatureStore(config: Pick<Config, 'features' | 'redisUrl' | 'gateway'>, metrics: ProcessMetrics, logger: Logger): RedisFeatureStore | undefined {
  if (config.features.store !== 'redis' || !config.redisUrl) return undefined;
  return new RedisFeatureStore({
    url: config.redisUrl,
    keyPrefix: config.gateway.redisKeyPrefix,
    ttlSeconds: config.features.ttlSeconds,
    commandTimeoutMs: config.features.commandTimeoutMs,
    logger,
    events: {
      hits: (memo, n) => metrics.featureStoreHits.inc({ memo }, n),
      error: (memo) => metrics.featureStoreErrors.inc({ memo }),
      refused: (memo, n) => metrics.featureStoreRefused.inc({ memo }, n),
    },
  });
}

/**
 * The memos a model serves from (its `MemoSources`), opened on the subgraph's store at its
 * as-of date, each a cache of at most `config.features.cacheEntries` entities per date in front
 * of the shared feature store (when there is one), reporting its size and its hits, misses and
 * evictions to the feature-cache metrics. The subgraph that opens them owns them; its change
 * follower (see ./follow) refreshes them. Their background work gives way to `requests` in flight.
 */
export function openMemos<T extends MemoSources>(
  deps: Pick<ModelSubgraphDeps, 'store' | 'asOf' | 'metrics' | 'memos'> & { config?: Pick<Config, 'features'>; featureStore?: SharedFeatureStore; requests?: RequestGate },
  sources: T,
): Memos<T> {
  const memos: Record<string, AsOfMemo<unknown>> = {};
  const { metrics } = deps;
  for (const [memo, source] of Object.entries(sources)) {
    const compute = memoCompute(source);
    const opened = new AsOfMemo((ids, asOf) => compute(deps.store, ids, asOf), deps.asOf, (size) => metrics.featureMemoEntries.set({ memo }, size), memo, new SlicePacer({ gate: deps.requests }), {
      maxEntries: deps.config?.features.cacheEntries,
      shared: deps.featureStore,
      carry: memoCarry(source),
      events: {
        hits: (n) => metrics.featureCacheHits.inc({ memo }, n),
        misses: (n) => metrics.featureCacheMisses.inc({ memo }, n),
        evictions: (n) => metrics.featureCacheEvictions.inc({ memo }, n),
      },
    });
    deps.memos.add(opened);
    memos[memo] = opened;
  }
  return memos as Memos<T>;
}

/**
 * A value of the whole library at the subgraph's as-of date (see AsOfValue), computed by
 * `compute` and rolled forward by the change follower when the clock moves.
 */
export function openAsOfValue<T>(deps: Pick<ModelSubgraphDeps, 'asOf' | 'memos'>, compute: (asOf: string) => Promise<T>): AsOfValue<T> {
  const value = new AsOfValue(compute, deps.asOf);
  deps.memos.add(value);
  return value;
}

/** Loan rows read per member the warm-up looks for: the most recent loans name the members most likely to be asked for. */
const WARM_ROWS_PER_MEMBER = 4;

/** When nobody asked whether the subgraph is ready: warm this long after it listens. */
const WARM_AFTER_MS = 2000;

/**
 * The up to `n` members with the most recent checkouts, newest first: one bounded read of the
 * checkout-date index, whatever the library's size. Members with no loans are not among them
 * (they are computed on first request).
 */
export async function recentlyActiveMembers(store: Store, n: number): Promise<number[]> {
  const rows = await store.db.selectFrom('loans').select('member_id').orderBy('checked_out_at', 'desc').limit(n * WARM_ROWS_PER_MEMBER).execute();
  const members = new Set<number>();
  for (const row of rows) {
    members.add(row.member_id);
    if (members.size >= n) break;
  }
  return [...members];
}

/**
 * Fills each of `memos` with as many members as its cache keeps (FEATURE_CACHE_ENTRIES), those
 * with the most recent activity first, a paced slice at a time (a request for a member not
 * reached yet computes it on the spot). Never the whole library: the subgraph answers any single
 * member without it. Settles when done; a failure is logged and leaves the rest to be computed on
 * first request.
 */
export async function warmMemos(deps: Pick<ModelSubgraphDeps, 'store' | 'logger'>, memos: Readonly<Record<string, Pick<AsOfMemo<unknown>, 'capacity' | 'warm'>>>): Promise<void> {
  const names = Object.keys(memos);
  if (names.length === 0) return;
  const started = Date.now();
  try {
    const capacity = Math.max(...Object.values(memos).map((m) => m.capacity));
    const members = await recentlyActiveMembers(deps.store, capacity);
    for (const memo of Object.values(memos)) await memo.warm(members);
    deps.logger.info({ memos: names, members: members.length, capacity, ms: Date.now() - started }, 'feature caches warmed with the most recently active members');
  } catch (error) {
    deps.logger.warn({ memos: names, err: (error as Error).message }, 'warming the feature caches stopped; members are computed on first request instead');
  }
}

/** Finishes a background run in progress, stops the slots' reload timers, releases their sessions, writes the queued prediction log and closes the store. */
export async function closeModelDeps(deps: ModelSubgraphDeps): Promise<void> {
  await deps.background.close();
  await Promise.all(Object.values(deps.slots).map((s) => s.stop()));
  await deps.predictionLog.close();
  await deps.featureStore?.close();
  await deps.store.close();
}

export interface RunningModelSubgraph<TServices extends SubgraphServices> extends RunningSubgraph {
  deps: ModelSubgraphDeps;
  services: TServices;
  follower: ChangeFollower;
  /**
   * Starts the warm-up now if no readiness probe has started it yet, and settles when it has
   * finished: what the readiness body's `warmed` reports. Never rejects.
   */
  warmed: () => Promise<void>;
}

/**
 * Opens the store and the slots, then listens. The readiness body says `warmed: true` once the
 * services' warm-up (started by the first "ready" answer) has finished, so whoever counts the
 * work of its requests can wait for that instead of meeting the warm-up's.
 */
export async function startModelSubgraph<TServices extends SubgraphServices, TContext extends SubgraphContext>(
  config: Config,
  spec: ModelSubgraphSpec<TServices, TContext>,
  port: number = config.ports[spec.name],
): Promise<RunningModelSubgraph<TServices>> {
  const deps = await openModelDeps(config, spec.name, spec.slots);
  const { logger, metrics, slots } = deps;
  const services = spec.services(deps);
  // Following starts from the newest change record before any memo is filled, so no change
  // between a value's computation and the follower's start goes unseen.
  const follower = await followChanges({ ...deps, freshness: deps, models: spec.slots.map((s) => s.model) });
  // Memos, the first background results and other per-process reads are slow on a large library
  // (at a million members, 7-10 s of CPU a process). They start once this subgraph has answered a
  // readiness probe "ready" (or WARM_AFTER_MS after it listens, when nobody probes): started at
  // listening, the whole graph's warming shared the cores with the probes, and at a million
  // members the gateway was ready after 29 s on a quiet two-core machine.
  let warming: Promise<void> | undefined;
  let warmed = false;
  let warmAnyway: NodeJS.Timeout | undefined;
  const warm = (): Promise<void> => {
    if (!warming) {
      clearTimeout(warmAnyway);
      warming = (services.warm?.() ?? Promise.resolve()).then(() => {
        warmed = true;
      });
    }
    return warming;
  };
  const running = await startSubgraphServer<TContext>(
    {
      name: spec.name,
      schema: spec.schema,
      config,
      logger,
      metrics,
      createContext: (identity, requestId) => spec.createContext(identity, services, requestId),
      requests: deps.requests,
      isReady: () => Object.values(slots).every((s) => s.isReady()),
      // Ready while falling back (an earlier version answers), but the body names the fallback.
      readinessDetail: () => {
        const models = Object.values(slots).map((s) => s.status());
        return { fallback: models.some((m) => m.fallback), models, warmed };
      },
      onReadinessAnswered: (ready) => {
        if (ready) setImmediate(() => void warm());
      },
      onStop: async () => {
        clearTimeout(warmAnyway);
        services.stop?.();
        await follower.stop();
        await closeModelDeps(deps);
      },
    },
    port,
  );
  if (!warming) {
    warmAnyway = setTimeout(() => void warm(), WARM_AFTER_MS);
    warmAnyway.unref();
  }
  return { ...running, deps, services, follower, warmed: warm };
}
