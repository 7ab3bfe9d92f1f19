import type { SubgraphContext } from '../../src/subgraph-server';
import type { Store } from '../../src/store';
import type { LibraryLoaders } from './loaders';

export interface LibraryContext extends SubgraphContext {
  store: Store;
  loaders: LibraryLoaders;
  modelsDir: string;
  /** The system date (last simulated day). */
  asOf: string;
}
