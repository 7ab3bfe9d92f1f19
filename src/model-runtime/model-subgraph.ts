/**
 * The composition root shared by the model subgraphs: opens the store, loads each model's
 * production version into a hot-reloading slot, and starts the subgraph server. A subgraph is
 * ready when its store answers and every slot holds a version.
 */
import DataLoader from 'dataloader';
import type { GraphQLSchema } from 'graphql';
import type { Config, SubgraphName } from '../config';
import type { Identity } from '../identity';
import { createLogger, type Logger } from '../logging';
import { createProcessMetrics, type ProcessMetrics } from '../metrics';
import { openStore, readAsOf, type Store } from '../store';
import { startSubgraphServer, type RunningSubgraph, type SubgraphContext } from '../subgraph-server';
import { readProductionPointer } from '../registry';
import { memberActivityById, type MemberActivity } from '../features/member-activity';
import { memberOpenLoanFeatures, type MemberOpenLoans } from '../features/overdue';
import { borrowingHistories, type BorrowingHistory } from '../features/recommendations';
import { AsOfMemo } from './as-of-memo';
import { ModelSlot, type LoadedModel } from './model-slot';

export interface ModelSubgraphDeps {
  store: Store;
  asOf: string;
  slots: Record<string, ModelSlot>;
  logger: Logger;
  metrics: ProcessMetrics;
  config: Config;
  /**
   * Per-member feature inputs at `asOf`, computed by the feature functions on first use and
   * kept (see AsOfMemo). Absent, the subgraphs read the store on every request (tests compare
   * both paths).
   */
  memos?: ServingMemos;
  /** Settles when the memos the subgraph serves from hold every member (see `openModelDeps`). */
  memosWarmed?: Promise<void>;
}

export type MemoName = keyof ServingMemos;

export interface ServingMemos {
  /** `loadMemberActivity` per member: churn and segmentation features. */
  memberActivity: AsOfMemo<MemberActivity>;
  /** `memberOpenLoanFeatures` per member: Member.overdueRisk. */
  openLoans: AsOfMemo<MemberOpenLoans>;
  /** `borrowingHistories` per member: Member.recommendations. */
  borrowingHistory: AsOfMemo<BorrowingHistory>;
}

export function createServingMemos(store: Store, asOf: string, onSize?: (memo: MemoName, size: number) => void): ServingMemos {
  return {
    memberActivity: new AsOfMemo((ids) => memberActivityById(store, ids, asOf), (size) => onSize?.('memberActivity', size), 'memberActivity'),
    openLoans: new AsOfMemo((ids) => memberOpenLoanFeatures(store, ids, asOf), (size) => onSize?.('openLoans', size), 'openLoans'),
    borrowingHistory: new AsOfMemo((ids) => borrowingHistoriesById(store, ids, asOf), (size) => onSize?.('borrowingHistory', size), 'borrowingHistory'),
  };
}

export interface SlotSpec {
  model: string;
  extraGraphs?: string[];
  artefacts?: string[];
  validate?: (candidate: LoadedModel) => Promise<void> | void;
}

export interface ModelSubgraphSpec<TContext extends SubgraphContext> {
  name: SubgraphName;
  schema: GraphQLSchema;
  slots: SlotSpec[];
  /** Memos the subgraph's fields read, filled for every member in the background after start. */
  memos?: MemoName[];
  createContext: (identity: Identity, deps: ModelSubgraphDeps) => TContext;
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
 * Opens what a model subgraph serves from: the store, its system date, one hot-reloading slot
 * per model, and the per-member feature memos; those named in `warm` start filling for every
 * member in the background (a request for a member not reached yet computes it on the spot).
 * The subgraph server and the benchmark's in-process floor both start here, so the floor
 * measures exactly the serving path minus HTTP and GraphQL.
 */
export async function openModelDeps(
  config: Config,
  name: string,
  slotSpecs: readonly SlotSpec[],
  { warm = [], logger = createLogger(name, config.logLevel), metrics = createProcessMetrics(name) }: { warm?: readonly MemoName[]; logger?: Logger; metrics?: ProcessMetrics } = {},
): Promise<ModelSubgraphDeps> {
  // Once the memos are filled a model subgraph reads few rows: a small SQLite page cache (the
  // kernel still caches the file) keeps ~50 MB of pages read while filling them out of its RSS.
  const store = openStore(config.databaseUrl, { readonly: config.databaseUrl.startsWith('sqlite:'), cacheSizeKb: 4096 });
  const asOf = await readAsOf(store);
  const slots: Record<string, ModelSlot> = {};
  for (const slotSpec of slotSpecs) {
    const slot = new ModelSlot({
      name: slotSpec.model,
      locate: async () => readProductionPointer(config.modelsDir, slotSpec.model) ?? undefined,
      logger,
      metrics,
      reloadIntervalMs: config.modelReloadIntervalMs,
      extraGraphs: slotSpec.extraGraphs,
      artefacts: slotSpec.artefacts,
      validate: slotSpec.validate,
    });
    await slot.start();
    if (!slot.isReady()) logger.warn({ model: slotSpec.model, modelsDir: config.modelsDir }, 'no production version found yet; its fields answer MODEL_UNAVAILABLE until one is promoted');
    slots[slotSpec.model] = slot;
  }
  const memos = createServingMemos(store, asOf, (memo, size) => metrics.featureMemoEntries.set({ memo }, size));
  return { store, asOf, slots, logger, metrics, config, memos, memosWarmed: warmMemos(store, memos, warm, logger) };
}

async function borrowingHistoriesById(store: Store, memberIds: readonly number[], asOf: string): Promise<Map<number, BorrowingHistory>> {
  const found = new Map<number, BorrowingHistory>();
  for (const history of await borrowingHistories(store, memberIds, asOf)) if (history) found.set(history.memberId, history);
  return found;
}

async function warmMemos(store: Store, memos: ServingMemos, names: readonly MemoName[], logger: Logger): Promise<void> {
  if (names.length === 0) return;
  const started = Date.now();
  try {
    const members = (await store.db.selectFrom('members').select('id').orderBy('id').execute()).map((m) => m.id);
    for (const name of names) await memos[name].warm(members);
    logger.info({ memos: names, members: members.length, ms: Date.now() - started }, 'feature memos filled');
  } catch (error) {
    logger.warn({ memos: names, err: (error as Error).message }, 'filling the feature memos stopped; members are computed on first request instead');
  }
}

/** Stops the slots' reload timers, releases their sessions and closes the store. */
export async function closeModelDeps(deps: ModelSubgraphDeps): Promise<void> {
  await Promise.all(Object.values(deps.slots).map((s) => s.stop()));
  await deps.store.close();
}

export async function startModelSubgraph<TContext extends SubgraphContext>(
  config: Config,
  spec: ModelSubgraphSpec<TContext>,
  port: number = config.ports[spec.name],
): Promise<RunningSubgraph & { deps: ModelSubgraphDeps }> {
  const deps = await openModelDeps(config, spec.name, spec.slots, { warm: spec.memos });
  const { logger, metrics, slots } = deps;
  const running = await startSubgraphServer<TContext>(
    {
      name: spec.name,
      schema: spec.schema,
      config,
      logger,
      metrics,
      createContext: (identity) => spec.createContext(identity, deps),
      isReady: () => Object.values(slots).every((s) => s.isReady()),
      onStop: () => closeModelDeps(deps),
    },
    port,
  );
  return { ...running, deps };
}
