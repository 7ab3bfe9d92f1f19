import type DataLoader from 'dataloader';
import type { SubgraphContext } from '../../src/subgraph-server';
import type { Segment, SegmentSummary } from './schema';

export interface SegmentationContext extends SubgraphContext {
  /** By member id: every Member.segment of one request shares one feature query and one run. */
  segment: DataLoader<string, Segment | null>;
  segments: () => Promise<SegmentSummary[]>;
}
