/**
 * The floor of scenarios 1 and 2: the same feature extraction and inference runs the model
 * subgraphs perform for the same members, called in this process through each subgraph's own
 * batch function, with no HTTP and no GraphQL. Models run one after another here; in the graph
 * they run in parallel processes, so the floor of a request is between the slowest model and
 * the sum.
 */
import type { Config, SubgraphName } from '../src/config';
import { createLogger } from '../src/logging';
import { closeModelDeps, openModelDeps, type MemoName, type ModelSubgraphDeps, type SlotSpec } from '../src/model-runtime/model-subgraph';
import { predictChurn } from '../subgraphs/churn';
import { predictOverdue } from '../subgraphs/overdue';
import { createCatalogue, recommendForMembers, validateRecommendationsVersion, type Catalogue } from '../subgraphs/recommendations';
import { predictSegments, validateSegmentationVersion } from '../subgraphs/segmentation';
import { summarise, type LatencySummary } from './load';

interface FloorModel {
  subgraph: SubgraphName;
  /** The model slots its subgraph opens (the same spec as the subgraph's). */
  slots: SlotSpec[];
  /** The memos its subgraph fills at start (the floor measures them filled, as a warmed subgraph serves). */
  memos: MemoName[];
  /** The batch function the subgraph's member loader calls, for member ids. */
  predictMembers: (deps: ModelSubgraphDeps, memberIds: string[]) => Promise<unknown>;
}

const catalogues = new WeakMap<ModelSubgraphDeps, Catalogue>();
function catalogueOf(deps: ModelSubgraphDeps): Catalogue {
  let catalogue = catalogues.get(deps);
  if (!catalogue) catalogues.set(deps, (catalogue = createCatalogue(deps.store)));
  return catalogue;
}

/** Member-level predictions of each model subgraph, as its member loader asks for them. */
const FLOOR_MODELS: FloorModel[] = [
  { subgraph: 'overdue', slots: [{ model: 'overdue' }], memos: ['openLoans'], predictMembers: (deps, ids) => predictOverdue(deps, ids.map((id) => `M:${id}` as const)) },
  { subgraph: 'churn', slots: [{ model: 'churn' }], memos: ['memberActivity'], predictMembers: (deps, ids) => predictChurn(deps, ids) },
  { subgraph: 'segmentation', slots: [{ model: 'segmentation', validate: validateSegmentationVersion }], memos: ['memberActivity'], predictMembers: (deps, ids) => predictSegments(deps, ids) },
  {
    subgraph: 'recommendations',
    slots: [{ model: 'recommendations', extraGraphs: ['similar'], artefacts: ['index'], validate: validateRecommendationsVersion }],
    memos: ['borrowingHistory'],
    predictMembers: (deps, ids) => recommendForMembers(deps, catalogueOf(deps), ids, 5),
  },
];

export interface FloorResult {
  batchSize: number;
  iterations: number;
  /** Milliseconds per call, by model subgraph. */
  models: Record<string, LatencySummary>;
  /** Every model one after another (the single-process cost of one request's predictions). */
  sequential: LatencySummary;
  /** The slowest model of each iteration (the floor of perfectly parallel subgraphs). */
  slowest: LatencySummary;
  /** Model subgraphs of the scenario that have no floor function yet. */
  notMeasured: string[];
}

export interface Floor {
  measure(memberBatch: (i: number) => string[], seconds: number): Promise<FloorResult>;
  close(): Promise<void>;
}

export async function openFloor(config: Config, models: readonly SubgraphName[]): Promise<Floor> {
  const logger = createLogger('bench-floor', 'warn');
  const measured = FLOOR_MODELS.filter((m) => models.includes(m.subgraph));
  const deps = new Map<SubgraphName, ModelSubgraphDeps>();
  for (const model of measured) deps.set(model.subgraph, await openModelDeps(config, `bench-floor-${model.subgraph}`, model.slots, { warm: model.memos, logger }));
  await Promise.all([...deps.values()].map((d) => d.memosWarmed));
  const notMeasured = models.filter((m) => !measured.some((f) => f.subgraph === m));

  return {
    async measure(memberBatch, seconds) {
      const perModel = new Map<string, number[]>(measured.map((m) => [m.subgraph, []]));
      const sequential: number[] = [];
      const slowest: number[] = [];
      const warmup = 20;
      let deadline = Infinity;
      let i = 0;
      for (; performance.now() < deadline; i++) {
        if (i === warmup) deadline = performance.now() + seconds * 1000;
        const ids = memberBatch(i);
        let sum = 0;
        let max = 0;
        for (const model of measured) {
          const start = performance.now();
          await model.predictMembers(deps.get(model.subgraph)!, ids);
          const ms = performance.now() - start;
          if (i >= warmup) perModel.get(model.subgraph)!.push(ms);
          sum += ms;
          max = Math.max(max, ms);
        }
        if (i >= warmup) {
          sequential.push(sum);
          slowest.push(max);
        }
      }
      return {
        batchSize: memberBatch(0).length,
        iterations: i - warmup,
        models: Object.fromEntries([...perModel].map(([name, ms]) => [name, summarise(ms)])),
        sequential: summarise(sequential),
        slowest: summarise(slowest),
        notMeasured,
      };
    },
    async close() {
      await Promise.all([...deps.values()].map(closeModelDeps));
    },
  };
}
