/**
 * Builds an Apollo Federation 2 subgraph schema from type-graphql classes.
 *
 * type-graphql writes federation directives (`@key`, `@shareable`, `@provides`) onto the classes; this
 * prints that schema with its directives, adds the federation `@link`, and lets
 * `@apollo/subgraph` add `_entities`/`_service`. Reference resolvers are passed per entity.
 */
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { parse, type GraphQLSchema } from 'graphql';
import { buildSchema, createResolversMap, type BuildSchemaOptions } from 'type-graphql';

export const FEDERATION_LINK =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@shareable", "@external", "@requires", "@provides"])';

/** `__resolveReference` for each entity type the subgraph can resolve from its key. */
export type ReferenceResolvers = Record<string, { __resolveReference: (reference: { id: string }, context: never) => unknown }>;

export async function buildFederatedSchema(
  options: Omit<BuildSchemaOptions, 'skipCheck' | 'validate'>,
  referenceResolvers: ReferenceResolvers = {},
): Promise<GraphQLSchema> {
  const schema = await buildSchema({ ...options, skipCheck: true, validate: false });
  const typeDefs = parse(`${FEDERATION_LINK}\n${printSchemaWithDirectives(schema)}`);
  const resolvers = createResolversMap(schema) as GraphQLResolverMap<unknown>;
  for (const [typeName, reference] of Object.entries(referenceResolvers)) {
    resolvers[typeName] = { ...(resolvers[typeName] as object), ...reference } as GraphQLResolverMap<unknown>[string];
  }
  return buildSubgraphSchema({ typeDefs, resolvers });
}

/** The subgraph's SDL as composition sees it (what `_service { sdl }` answers). */
export async function subgraphSdl(options: Omit<BuildSchemaOptions, 'skipCheck' | 'validate'>): Promise<string> {
  const schema = await buildSchema({ ...options, skipCheck: true, validate: false });
  return `${FEDERATION_LINK}\n${printSchemaWithDirectives(schema)}`;
}
