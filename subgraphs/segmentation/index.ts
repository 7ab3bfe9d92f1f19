/**
 * The segmentation subgraph (:4005). Member.segment for every member of a request costs one
 * feature extraction and one inference run; the segment overview costs one inference run per
 * paced slice of members, per model version and change of its inputs. Names, descriptions and profiles come from the version's metadata.serving,
 * so a promoted or rolled-back version swaps them together with the centroids.
 */
import type { GraphQLSchema } from 'graphql';
import { Tensor } from 'onnxruntime-node';
import type { Config } from '../../src/config';
import { SEGMENTATION_FEATURES, segmentationFeatureBatch, type SegmentationFeatureBatch } from '../../src/features/segmentation';
import type { ModelRef } from '../../src/graphql/prediction-types';
import { buildFederatedSchema } from '../../src/graphql/subgraph-schema';
import type { Identity } from '../../src/identity';
import { SEGMENTATION_INPUT, SEGMENTATION_OUTPUTS, type FeatureRole } from '../../src/ml/kmeans';
import type { ModelSlot } from '../../src/model-runtime/model-slot';
import { recorded } from '../../src/model-runtime/prediction-logging';
import { refreshedRanking } from '../../src/model-runtime/watchlist';
import { entityLoader, openScoring, startModelSubgraph, warmMemos, type ModelScoring, type ModelSubgraphDeps, type SubgraphServices } from '../../src/model-runtime/model-subgraph';
import { SEGMENTATION_MEMOS, SEGMENTATION_MODEL, SEGMENTATION_SLOT, type SegmentationServing } from '../../src/models/segmentation';
import { parseId } from '../../src/util/ids';
import type { SegmentationContext } from './context';
import { Member, MemberSegmentResolver, SegmentsResolver, type Segment, type SegmentProfile, type SegmentSummary } from './schema';

/** A segment summary as the background job stores it: without its age, which each answer adds. */
type ComputedSummary = Omit<SegmentSummary, 'computedAt' | 'ageSeconds'>;

export type { SegmentationContext } from './context';

export function buildSegmentationSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [MemberSegmentResolver, SegmentsResolver], orphanedTypes: [Member] },
    { Member: { __resolveReference: (ref) => Object.assign(new Member(), { id: ref.id }) } },
  );
}

/** What assigning segments reads: the store, the model's slot and the memos it serves from. */
export type SegmentationScoring = ModelScoring<SegmentationServing, typeof SEGMENTATION_MEMOS>;

/** The segmentation subgraph's per-process state. */
export interface SegmentationServices extends SegmentationScoring, SubgraphServices {
  overview: SegmentOverview;
}

/** Segment id of each row of a feature batch, in one inference run. */
async function assignSegments(slot: ModelSlot<SegmentationServing>, batch: SegmentationFeatureBatch): Promise<{ ids: number[]; serving: SegmentationServing; model: ModelRef }> {
  const n = batch.memberIds.length;
  const d = SEGMENTATION_FEATURES.length;
  const { result: ids, model } = await slot.run(
    n,
    () => ({ [SEGMENTATION_INPUT]: new Tensor('float32', batch.values, [n, d]) }),
    (outputs) => {
      const segment = outputs[SEGMENTATION_OUTPUTS.segment];
      if (!segment) throw new Error(`${slot.name} answered without a "${SEGMENTATION_OUTPUTS.segment}" output`);
      return Array.from(segment.data as BigInt64Array, Number);
    },
  );
  return { ids, serving: model.serving, model: model.ref };
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
export async function predictSegments({ deps, slot, memos }: SegmentationScoring, keys: readonly string[]): Promise<(Segment | null)[]> {
  const ids = keys.map(parseId);
  const known = ids.filter((id): id is number => id !== undefined);
  deps.metrics.featureQueries.inc({ model: SEGMENTATION_MODEL });
  const batch = segmentationFeatureBatch(await memos.memberActivity.load(known));
  // Nobody to assign: answer null without touching the model, so unknown ids never cost a run.
  if (batch.memberIds.length === 0) return keys.map(() => null);
  const { ids: segmentIds, serving, model } = await assignSegments(slot, batch);
  const d = SEGMENTATION_FEATURES.length;
  let k = 0;
  return ids.map((id) => {
    if (id === undefined) return null;
    const row = batch.rowOf[k++] ?? -1;
    const segment = serving.segments[segmentIds[row] ?? -1];
    if (row < 0 || !segment) return null;
    const value = (column: number): number => batch.values[row * d + column] ?? NaN;
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
  /** The last summaries the background job computed, each carrying their age. */
  summaries: () => Promise<SegmentSummary[]>;
  /** Asks for the first run, ahead of the first request, and settles when it is done; never rejects. */
  warm: () => Promise<void>;
  stop: () => void;
}

/**
 * Sizes, shares and profiles of every segment over all members. The members are read a paced
 * slice at a time (AsOfMemo.scan: what the member cache holds, the rest straight from the feature
 * function without keeping it), each slice assigned in one inference run and added to running
 * totals, so a run holds one slice and the totals whatever the library's size, and requests keep
 * being answered meanwhile. It is computed in the background as a ranking is (see
 * refreshedRanking): per version, and when its inputs changed at most once per interval, and
 * served from the last result with its age. A promotion landing mid-run fails the run, which the
 * background job runs again for the new version.
 */
export function createSegmentOverview({ deps, slot, memos }: SegmentationScoring): SegmentOverview {
  const summarise = async (): Promise<{ version: string; summaries: ComputedSummary[] }> => {
    const ids = (await deps.store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
    deps.metrics.featureQueries.inc({ model: SEGMENTATION_MODEL });
    const d = SEGMENTATION_FEATURES.length;
    let run: { serving: SegmentationServing; model: ModelRef; totals: { size: number; sums: Float64Array }[] } | undefined;
    let n = 0;
    await memos.memberActivity.scan(ids, async (values) => {
      const batch = segmentationFeatureBatch(values);
      if (batch.memberIds.length === 0) return;
      const { ids: segments, serving, model } = await assignSegments(slot, batch);
      if (run && run.model.version !== model.version) throw new Error(`the model version changed from ${run.model.version} to ${model.version} during the run`);
      run ??= { serving, model, totals: serving.segments.map(() => ({ size: 0, sums: new Float64Array(d) })) };
      const { totals } = run;
      segments.forEach((segment, row) => {
        const total = totals[segment];
        if (!total) throw new Error(`${model.name} ${model.version} answered segment ${segment}; it names ${totals.length}`);
        total.size += 1;
        batch.values.subarray(row * d, (row + 1) * d).forEach((value, j) => {
          total.sums[j] = (total.sums[j] ?? 0) + value;
        });
      });
      n += batch.memberIds.length;
    });
    if (!run) {
      const current = slot.current();
      const model = current.ref;
      return { version: current.version, summaries: current.serving.segments.map((s) => ({ name: s.name, description: s.description, size: 0, share: 0, profile: null, model })) };
    }
    const { serving, model, totals } = run;
    const sizeOf = (s: number): number => totals[s]?.size ?? 0;
    const profile = (s: number): SegmentProfile | null => {
      const total = totals[s];
      if (!total || total.size === 0) return null;
      const meanOf = (column: number): number => (total.sums[column] ?? NaN) / total.size;
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
      summaries: serving.segments.map((s) => ({ name: s.name, description: s.description, size: sizeOf(s.id), share: sizeOf(s.id) / n, profile: profile(s.id), model })),
    };
  };

  const ranking = refreshedRanking('segments', slot, deps, async () => {
    const { version, summaries: value } = await summarise();
    return { version, value };
  });

  const summaries = async (): Promise<SegmentSummary[]> => {
    const { value, computedAt, ageSeconds } = await ranking.current();
    return value.map((summary) => ({ ...summary, computedAt: new Date(computedAt), ageSeconds }));
  };

  return { summaries, warm: ranking.warm, stop: ranking.stop };
}

/** The segmentation subgraph's memos and segment overview, once per process. */
export function createSegmentationServices(deps: ModelSubgraphDeps): SegmentationServices {
  const scoring = openScoring(deps, SEGMENTATION_SLOT, SEGMENTATION_MEMOS);
  const overview = createSegmentOverview(scoring);
  // The member cache's warm-up (the most recently active members) and the first overview run
  // start at once; requests meanwhile are answered from the cache or the feature function.
  const warm = async (): Promise<void> => {
    await Promise.all([warmMemos(deps, scoring.memos), overview.warm()]);
  };
  return { ...scoring, overview, warm, stop: overview.stop };
}

export function createSegmentationContext(identity: Identity, services: SegmentationServices, requestId: string): SegmentationContext {
  const segment = entityLoader(async (keys: readonly string[]) =>
    recorded(services.deps.predictionLog, requestId, await predictSegments(services, keys), (s, i) => ({
      model: s.model,
      entityKind: 'member',
      entityId: keys[i] ?? '',
      label: s.name,
      features: { recency: s.rfm.recency, frequency: s.rfm.frequency, monetary: s.rfm.monetary, engagement: s.engagement, tenureDays: s.tenureDays },
    })),
  );
  return { identity, segment, segments: services.overview.summaries };
}

export async function startSegmentationSubgraph(config: Config, port?: number) {
  return startModelSubgraph(
    config,
    { name: 'segmentation', schema: await buildSegmentationSchema(), slots: [SEGMENTATION_SLOT], services: createSegmentationServices, createContext: createSegmentationContext },
    port,
  );
}
