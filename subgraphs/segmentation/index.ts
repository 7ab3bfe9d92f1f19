/**
 * The segmentation subgraph (:4005). Member.segment for every member of a request costs one
 * feature extraction and one inference run; the segment overview costs one run over all members
 * per model version. Names, descriptions and profiles come from the version's metadata.serving,
 * so a promoted or rolled-back version swaps them together with the centroids.
 */
import type { GraphQLSchema } from 'graphql';
import { Tensor } from 'onnxruntime-node';
import type { Config } from '../../src/config';
import {
  SEGMENTATION_FEATURES,
  SEGMENTATION_FEATURE_NAMES,
  segmentationFeatureBatch,
  segmentationFeatures,
  segmentationFeaturesInChunks,
  type SegmentationFeatureBatch,
} from '../../src/features/segmentation';
import type { ModelRef } from '../../src/graphql/prediction-types';
import { buildFederatedSchema } from '../../src/graphql/subgraph-schema';
import type { Identity } from '../../src/identity';
import { SEGMENTATION_INPUT, SEGMENTATION_OUTPUTS, type FeatureRole } from '../../src/ml/kmeans';
import type { LoadedModel, ModelSlot } from '../../src/model-runtime/model-slot';
import { entityLoader, startModelSubgraph, type ModelSubgraphDeps } from '../../src/model-runtime/model-subgraph';
import { checkFeatureNames } from '../../src/model-runtime/risk';
import { segmentationServing, type SegmentationServing } from '../../src/training/segmentation';
import { parseId } from '../../src/util/ids';
import type { SegmentationContext } from './context';
import { Member, MemberSegmentResolver, SegmentsResolver, type Segment, type SegmentProfile, type SegmentSummary } from './schema';

export type { SegmentationContext } from './context';

const MODEL = 'segmentation';

export function buildSegmentationSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [MemberSegmentResolver, SegmentsResolver], orphanedTypes: [Member] },
    { Member: { __resolveReference: (ref) => Object.assign(new Member(), { id: ref.id }) } },
  );
}

const servingByVersion = new WeakMap<LoadedModel, SegmentationServing>();

/** The version's segment names and profiles, read once per loaded version. */
function servingOf(model: LoadedModel): SegmentationServing {
  let serving = servingByVersion.get(model);
  if (!serving) {
    serving = segmentationServing(model.metadata.serving, SEGMENTATION_FEATURE_NAMES);
    servingByVersion.set(model, serving);
  }
  return serving;
}

/** Refuses a version this subgraph could not serve: other features, or segments the metadata does not name. */
export function validateSegmentationVersion(model: LoadedModel): void {
  checkFeatureNames(model, SEGMENTATION_FEATURE_NAMES);
  const serving = servingOf(model);
  const distances = model.metadata.outputs.find((o) => o.name === SEGMENTATION_OUTPUTS.distances) as { shape?: (number | string)[] } | undefined;
  if (!model.metadata.outputs.some((o) => o.name === SEGMENTATION_OUTPUTS.segment)) {
    throw new Error(`${model.name} ${model.version}: metadata lists no "${SEGMENTATION_OUTPUTS.segment}" output`);
  }
  const k = distances?.shape?.[1];
  if (typeof k === 'number' && k !== serving.segments.length) {
    throw new Error(`${model.name} ${model.version}: the graph has ${k} centroids but metadata.serving names ${serving.segments.length} segments`);
  }
}

/** Segment id of each row of a feature batch, in one inference run. */
async function assignSegments(slot: ModelSlot, batch: SegmentationFeatureBatch): Promise<{ ids: number[]; serving: SegmentationServing; model: ModelRef }> {
  const n = batch.memberIds.length;
  const d = SEGMENTATION_FEATURES.length;
  const { result, model } = await slot.run(
    n,
    () => ({ [SEGMENTATION_INPUT]: new Tensor('float32', batch.values, [n, d]) }),
    (outputs, m) => ({ ids: Array.from(outputs[SEGMENTATION_OUTPUTS.segment]!.data as BigInt64Array, Number), serving: servingOf(m) }),
  );
  return { ...result, model: { name: model.name, version: model.version } };
}

const columnOf = (role: FeatureRole): number => SEGMENTATION_FEATURES.findIndex((f) => f.role === role);
const COLUMN = {
  recency: columnOf('recency'),
  frequency: columnOf('frequency'),
  monetary: columnOf('monetary'),
  engagement: columnOf('engagement'),
  tenure: columnOf('tenure'),
};

/** Segment of each requested member id, in key order; null for ids that are not members on the system date. */
export async function predictSegments(deps: ModelSubgraphDeps, keys: readonly string[]): Promise<(Segment | null)[]> {
  const ids = keys.map(parseId);
  const known = ids.filter((id): id is number => id !== undefined);
  deps.metrics.featureQueries.inc({ model: MODEL });
  const batch = deps.memos ? segmentationFeatureBatch(await deps.memos.memberActivity.load(known)) : await segmentationFeatures(deps.store, known, deps.asOf);
  // Nobody to assign: answer null without touching the model, so unknown ids never cost a run.
  if (batch.memberIds.length === 0) return keys.map(() => null);
  const { ids: segmentIds, serving, model } = await assignSegments(deps.slots[MODEL]!, batch);
  const d = SEGMENTATION_FEATURES.length;
  let k = 0;
  return ids.map((id) => {
    if (id === undefined) return null;
    const row = batch.rowOf[k++]!;
    if (row < 0) return null;
    const value = (column: number): number => batch.values[row * d + column]!;
    const segment = serving.segments[segmentIds[row]!]!;
    return {
      name: segment.name,
      description: segment.description,
      rfm: { recency: value(COLUMN.recency), frequency: value(COLUMN.frequency), monetary: value(COLUMN.monetary) },
      engagement: value(COLUMN.engagement),
      tenureDays: Math.round(value(COLUMN.tenure)),
      model,
    };
  });
}

export interface SegmentOverview {
  /** The summaries for the version in production, computed at most once per version. */
  summaries: () => Promise<SegmentSummary[]>;
  /** Computes ahead of the first request; failures are logged, and the next request tries again. */
  warm: () => Promise<void>;
}

/**
 * Sizes, shares and profiles of every segment over all members. The features are read once per
 * process, in chunks so requests keep being answered meanwhile (the system date is fixed, so
 * they cannot change); each model version then costs one run over them, so after a hot reload
 * the overview is ready within one run's time.
 */
export function createSegmentOverview(deps: ModelSubgraphDeps): SegmentOverview {
  const slot = deps.slots[MODEL]!;
  let features: Promise<SegmentationFeatureBatch> | undefined;
  let cache: { version: string; summaries: SegmentSummary[] } | undefined;
  let pending: Promise<{ version: string; summaries: SegmentSummary[] }> | undefined;

  const allMembers = (): Promise<SegmentationFeatureBatch> => {
    features ??= (async () => {
      const ids = (await deps.store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
      deps.metrics.featureQueries.inc({ model: MODEL });
      // The member memo is filled at start with every member's activity: reading it all again
      // from the store cost seconds and ~100 MB of transient heap. `warm` fills what is not there
      // yet a slice at a time (nothing, once the start-up fill is done), so the event loop stays free.
      if (deps.memos) {
        await deps.memos.memberActivity.warm(ids);
        return segmentationFeatureBatch(await deps.memos.memberActivity.load(ids));
      }
      return segmentationFeaturesInChunks(deps.store, ids, deps.asOf);
    })().catch((error: unknown) => {
      features = undefined;
      throw error;
    });
    return features;
  };

  const summarise = async (): Promise<{ version: string; summaries: SegmentSummary[] }> => {
    const batch = await allMembers();
    const n = batch.memberIds.length;
    if (n === 0) {
      const current = slot.current();
      const model = { name: current.name, version: current.version };
      return { version: current.version, summaries: servingOf(current).segments.map((s) => ({ name: s.name, description: s.description, size: 0, share: 0, profile: null, model })) };
    }
    const { ids, serving, model } = await assignSegments(slot, batch);
    const d = SEGMENTATION_FEATURES.length;
    const sizes = new Array<number>(serving.segments.length).fill(0);
    const sums = serving.segments.map(() => new Float64Array(d));
    ids.forEach((segment, row) => {
      sizes[segment]! += 1;
      for (let j = 0; j < d; j++) sums[segment]![j]! += batch.values[row * d + j]!;
    });
    const profile = (s: number): SegmentProfile | null => {
      if (sizes[s] === 0) return null;
      const meanOf = (column: number): number => sums[s]![column]! / sizes[s]!;
      return {
        recency: meanOf(COLUMN.recency),
        frequency: meanOf(COLUMN.frequency),
        monetary: meanOf(COLUMN.monetary),
        engagement: meanOf(COLUMN.engagement),
        tenureDays: meanOf(COLUMN.tenure),
      };
    };
    return {
      version: model.version,
      summaries: serving.segments.map((s) => ({ name: s.name, description: s.description, size: sizes[s.id]!, share: sizes[s.id]! / n, profile: profile(s.id), model })),
    };
  };

  const summaries = async (): Promise<SegmentSummary[]> => {
    const version = slot.current().version;
    if (cache?.version === version) return cache.summaries;
    pending ??= summarise().finally(() => {
      pending = undefined;
    });
    cache = await pending;
    return cache.summaries;
  };

  const warm = async (): Promise<void> => {
    try {
      if (slot.isReady()) await summaries();
      else await allMembers();
    } catch (error) {
      deps.logger.warn({ model: MODEL, err: (error as Error).message }, 'could not compute the segment overview ahead of the first request');
    }
  };

  return { summaries, warm };
}

export function createSegmentationContext(identity: Identity, deps: ModelSubgraphDeps, overview: SegmentOverview): SegmentationContext {
  return { identity, segment: entityLoader((keys) => predictSegments(deps, keys)), segments: overview.summaries };
}

export async function startSegmentationSubgraph(config: Config, port?: number) {
  let overview: SegmentOverview | undefined;
  const running = await startModelSubgraph<SegmentationContext>(
    config,
    {
      name: 'segmentation',
      schema: await buildSegmentationSchema(),
      slots: [{ model: MODEL, validate: validateSegmentationVersion }],
      memos: ['memberActivity'],
      createContext: (identity, deps) => createSegmentationContext(identity, deps, (overview ??= createSegmentOverview(deps))),
    },
    port,
  );
  // Reading every member's features takes seconds on a large library: longer than the gateway
  // waits for a subgraph, so the first `segments` request must not be the one that pays.
  overview ??= createSegmentOverview(running.deps);
  void overview.warm();
  return running;
}
