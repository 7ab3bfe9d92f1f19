/**
 * The floor of scenarios 1 and 2: the same feature extraction and inference runs the model
 * subgraphs perform for the same members, called in this process through each subgraph's own
 * batch function, with no HTTP and no GraphQL. Models run one after another here; in the graph
 * they run in parallel processes, so the floor of a request is between the slowest model and
 * the sum.
 */
import type { Config, SubgraphName } from '../src/config';
import { createLogger } from '../src/logging';
import { closeModelDeps, openModelDeps, type ModelSubgraphDeps, type SlotSpec, type SubgraphServices } from '../src/model-runtime/model-subgraph';
import { createChurnServices, predictChurn } from '../subgraphs/churn';
import { CHURN_SLOT } from '../src/models/churn';
import { OVERDUE_SLOT } from '../src/models/overdue';
import { SEGMENTATION_SLOT } from '../src/models/segmentation';
import { createOverdueServices, predictOverdue } from '../subgraphs/overdue';
import { createRecommendationsServices, recommendForMembers, RECOMMENDATIONS_SUBGRAPH_SLOT } from '../subgraphs/recommendations';
import { createSegmentationServices, predictSegments } from '../subgraphs/segmentation';
import { summarise, type LatencySummary } from './load';

/** One model subgraph's member predictions, opened in this process. */
interface OpenFloorModel {
  subgraph: SubgraphName;
  deps: ModelSubgraphDeps;
  /** Settles when the memos its subgraph serves from are filled (the floor measures them filled, as a warmed subgraph serves). */
  warmed: Promise<void>;
  /** The batch function the subgraph's member loader calls, for member ids. */
  predictMembers: (memberIds: string[]) => Promise<unknown>;
}

interface FloorModel {
  subgraph: SubgraphName;
  open: (config: Config, logger: ReturnType<typeof createLogger>) => Promise<OpenFloorModel>;
}

/** A floor model from the subgraph's own slot specs, services and batch function. */
function floorModel<T extends SubgraphServices>(
  subgraph: SubgraphName,
  slots: readonly SlotSpec<unknown>[],
  services: (deps: ModelSubgraphDeps) => T,
  predictMembers: (services: T, memberIds: string[]) => Promise<unknown>,
): FloorModel {
  return {
    subgraph,
    async open(config, logger) {
      const deps = await openModelDeps(config, `bench-floor-${subgraph}`, slots, { logger });
      const opened = services(deps);
      return { subgraph, deps, warmed: opened.warm?.() ?? Promise.resolve(), predictMembers: (ids) => predictMembers(opened, ids) };
    },
  };
}

/** Member-level predictions of each model subgraph, as its member loader asks for them. */
const FLOOR_MODELS: FloorModel[] = [
  floorModel('overdue', [OVERDUE_SLOT], createOverdueServices, (s, ids) => predictOverdue(s, ids.map((id) => `M:${id}` as const))),
  floorModel('churn', [CHURN_SLOT], createChurnServices, predictChurn),
  floorModel('segmentation', [SEGMENTATION_SLOT], createSegmentationServices, predictSegments),
  floorModel('recommendations', [RECOMMENDATIONS_SUBGRAPH_SLOT], createRecommendationsServices, (s, ids) => recommendForMembers(s, ids, 5)),
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
  const measured: OpenFloorModel[] = [];
  for (const model of FLOOR_MODELS) if (models.includes(model.subgraph)) measured.push(await model.open(config, logger));
  await Promise.all(measured.map((m) => m.warmed));
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
          await model.predictMembers(ids);
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
      await Promise.all(measured.map((m) => closeModelDeps(m.deps)));
    },
  };
}
