import type DataLoader from 'dataloader';
import type { RiskPrediction } from '../../src/graphql/prediction-types';
import type { SubgraphContext } from '../../src/subgraph-server';

export interface ChurnContext extends SubgraphContext {
  churnRisk: DataLoader<string, RiskPrediction | null>;
}
