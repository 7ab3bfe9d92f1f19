/** The subgraphs the gateway composes, read from the supergraph so nothing is listed twice. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildSchema } from 'graphql';
import { SUBGRAPH_NAMES, type Config, type SubgraphName } from '../src/config';

export function supergraphPath(config: Config): string {
  return path.join(config.projectRoot, 'schema', 'supergraph.graphql');
}

export function loadSupergraph(config: Config): string {
  return readFileSync(supergraphPath(config), 'utf8');
}

/** Subgraph names declared in the supergraph's `join__Graph` enum. */
export function subgraphsIn(supergraphSdl: string): SubgraphName[] {
  const names = [...supergraphSdl.matchAll(/join__graph\(name: "([a-z]+)"/g)].map((m) => m[1]!);
  return names.filter((n): n is SubgraphName => (SUBGRAPH_NAMES as readonly string[]).includes(n));
}

export function healthUrl(graphqlUrl: string, check: 'live' | 'ready'): string {
  return graphqlUrl.replace(/\/graphql$/, `/health/${check}`);
}

/** Whether the supergraph's schema has a Mutation root type. */
export function hasMutations(supergraphSdl: string): boolean {
  const schema = buildSchema(supergraphSdl, { assumeValidSDL: true });
  return Boolean(schema.getMutationType());
}
