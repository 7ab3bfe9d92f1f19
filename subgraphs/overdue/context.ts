import type DataLoader from 'dataloader';
import type { RiskPrediction } from '../../src/graphql/prediction-types';
import type { SubgraphContext } from '../../src/subgraph-server';
import type { OverdueWatchEntry } from './schema';

export interface OverdueContext extends SubgraphContext {
  /** Keys `L:<loan id>` and `M:<member id>`: loan and member risks of a request share one batch. */
  overdueRisk: DataLoader<`L:${string}` | `M:${string}`, RiskPrediction | null>;
  watchlist: (first: number, minProbability: number) => Promise<OverdueWatchEntry[]>;
}
