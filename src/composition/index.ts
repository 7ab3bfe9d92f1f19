/**
 * Offline composition of the supergraph with @apollo/composition. The committed
 * schema/supergraph.graphql is this function's output; a test recomposes and compares.
 */
import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { DEFAULT_PORTS, type SubgraphName } from '../config';
import { SUBGRAPHS } from '../../subgraphs';

export async function composeSupergraph(): Promise<string> {
  const services = [];
  for (const [name, entry] of Object.entries(SUBGRAPHS)) {
    const schema = await entry.buildSchema();
    services.push({
      name,
      // Routers use these addresses unless told otherwise; the gateway overrides them from config.
      url: `http://localhost:${DEFAULT_PORTS[name as SubgraphName]}/graphql`,
      typeDefs: parse(printSubgraphSchema(schema)),
    });
  }
  const result = composeServices(services);
  if (result.errors) {
    throw new Error(`composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  }
  return result.supergraphSdl;
}
