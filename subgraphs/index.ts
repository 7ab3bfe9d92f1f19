/**
 * Every subgraph of the graph, by name: how to build its schema (for composition) and how to
 * start it (for `npm start` and for starting one alone).
 */
import type { GraphQLSchema } from 'graphql';
import { SUBGRAPH_NAMES, type Config, type SubgraphName } from '../src/config';
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

export const SUBGRAPHS: Record<SubgraphName, SubgraphEntry> = {
  library: { buildSchema: buildLibrarySchema, start: startLibrarySubgraph },
  overdue: { buildSchema: buildOverdueSchema, start: startOverdueSubgraph },
  churn: { buildSchema: buildChurnSchema, start: startChurnSubgraph },
  recommendations: { buildSchema: buildRecommendationsSchema, start: startRecommendationsSubgraph },
  segmentation: { buildSchema: buildSegmentationSchema, start: startSegmentationSubgraph },
  demand: { buildSchema: buildDemandSchema, start: startDemandSubgraph },
};

export function subgraphEntry(name: string): SubgraphEntry {
  const known = SUBGRAPH_NAMES.find((n) => n === name);
  if (!known) throw new Error(`unknown subgraph "${name}"; known: ${SUBGRAPH_NAMES.join(', ')}`);
  return SUBGRAPHS[known];
}
