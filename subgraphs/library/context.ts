import type { ApplyOptions, EventWriter } from '../../src/circulation';
import type { LiveMonitor } from '../../src/monitoring/monitor';
import type { SubgraphContext } from '../../src/subgraph-server';
import type { Store } from '../../src/store';
import type { LibraryLoaders } from './loaders';

export interface LibraryContext extends SubgraphContext {
  store: Store;
  loaders: LibraryLoaders;
  modelsDir: string;
  /** The library clock, read once per request (it moves with circulation events). */
  clock: () => Promise<string>;
  /** How this process writes: its clock mode and where outcomes are counted. */
  circulation: ApplyOptions;
  /** The process's one writer: events of concurrent requests share transactions. */
  writer: EventWriter;
  /** The live monitor's thread of this process (src/monitoring/monitor-thread), whose last snapshot `ModelInfo.health` reads; absent when it is off. */
  monitor?: Pick<LiveMonitor, 'health'>;
}
