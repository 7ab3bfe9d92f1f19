import type DataLoader from 'dataloader';
import type { RiskPrediction } from '../../src/graphql/prediction-types';
import type { SubgraphContext } from '../../src/subgraph-server';
import type { ChurnWatchEntry } from './schema';

export interface ChurnContext extends SubgraphContext {
  churnRisk: DataLoader<string, RiskPrediction | null>;
  watchlist: (first: number, minProbability: number) => Promise<ChurnWatchEntry[]>;
}
