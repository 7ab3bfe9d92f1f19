import type DataLoader from 'dataloader';
import type { SubgraphContext } from '../../src/subgraph-server';
import type { CollectionForecast, DemandForecast } from './schema';

export interface DemandContext extends SubgraphContext {
  /**
   * Keys `<horizonWeeks>:<book id>`: every Book.demandForecast of one request, whatever its
   * horizon, shares one feature query and one inference run.
   */
  demandForecast: DataLoader<string, DemandForecast | null>;
  collectionForecast: (genre: string | null, branchId: string | null, horizonMonths: number) => Promise<CollectionForecast | null>;
}
