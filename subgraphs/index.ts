/**
 * Every subgraph of the graph, by name: how to build its schema (for composition) and how to
 * start it (for `npm start` and for starting one alone).
 */
import type { GraphQLSchema } from 'graphql';
import type { Config, SubgraphName } from '../src/config';
import type { RunningSubgraph } from '../src/subgraph-server';
import { buildChurnSchema, startChurnSubgraph } from './churn';
import { buildDemandSchema, startDemandSubgraph } from './demand';
import { buildLibrarySchema, startLibrarySubgraph } from './library';
import { buildOverdueSchema, startOverdueSubgraph } from './overdue';
import { buildRecommendationsSchema, startRecommendationsSubgraph } from './recommendations';
import { buildSegmentationSchema, startSegmentationSubgraph } from './segmentation';

export interface SubgraphEntry {
  buildSchema: () => Promise<GraphQLSchema>;
  start: (config: Config, port?: number) => Promise<RunningSubgraph>;
}

export const SUBGRAPHS: Partial<Record<SubgraphName, SubgraphEntry>> = {
  library: { buildSchema: buildLibrarySchema, start: startLibrarySubgraph },
  overdue: { buildSchema: buildOverdueSchema, start: startOverdueSubgraph },
  churn: { buildSchema: buildChurnSchema, start: startChurnSubgraph },
  recommendations: { buildSchema: buildRecommendationsSchema, start: startRecommendationsSubgraph },
  segmentation: { buildSchema: buildSegmentationSchema, start: startSegmentationSubgraph },
  demand: { buildSchema: buildDemandSchema, start: startDemandSubgraph },
};

export function subgraphEntry(name: string): SubgraphEntry {
  const entry = SUBGRAPHS[name as SubgraphName];
  if (!entry) throw new Error(`unknown subgraph "${name}"; known: ${Object.keys(SUBGRAPHS).join(', ')}`);
  return entry;
}
