import { describe, expect, it } from '@jest/globals';
import { buildSchema, GraphQLError, parse, type OperationDefinitionNode } from 'graphql';
import { loadConfig, type Role } from '../../../src/config';
import { loadSupergraph } from '../../subgraphs';
import { queryLimits, type LimitName, type QueryLimits } from '..';

const config = loadConfig({ NODE_ENV: 'test' });
const schema = buildSchema(loadSupergraph(config), { assumeValidSDL: true });

/** Runs the plugin's didResolveOperation as Apollo would, and returns the refusal, if any. */
async function refusalFor(role: Role, source: string, variables: Record<string, unknown> = {}, limits: QueryLimits = config.gateway, charged: number[] = []) {
  const refused: LimitName[] = [];
  const plugin = queryLimits(limits, { onRefused: (limit) => refused.push(limit) }, async (_identity, cost) => {
    charged.push(cost);
  });
  const document = parse(source);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
  // The hooks read only these members of Apollo's request context.
  const requestContext = { contextValue: { identity: { sub: 'x', role } }, document, operation, schema, request: { variables } } as never;
  const listener = await plugin.requestDidStart!(requestContext);
  try {
    await listener!.didResolveOperation!(requestContext);
    return { refused, error: undefined };
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    return { refused, error: { message: error.message, extensions: error.extensions } };
  }
}

describe('queryLimits plugin', () => {
  it('refuses introspection to partners only', async () => {
    const introspection = '{ __schema { queryType { name } } }';
    expect((await refusalFor('partner', introspection)).error).toMatchObject({ message: 'introspection is available to staff and analysts only', extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
    expect((await refusalFor('analyst', introspection)).error).toBeUndefined();
    expect((await refusalFor('staff', '{ __type(name: "Member") { name } }')).error).toBeUndefined();
    expect((await refusalFor('partner', '{ models { name __typename } }')).error).toBeUndefined();
  });

  it('refuses list sizes above the maximum, given as variables too, and says which limit', async () => {
    const { error, refused } = await refusalFor('analyst', 'query ($n: Int) { books(first: $n) { nodes { title } } }', { n: 501 });
    expect(error).toMatchObject({ message: 'Query.books(first: 501) asks for more than 500 items', extensions: { code: 'BAD_USER_INPUT', limit: 'listSize', allowed: 500, found: 501 } });
    expect(refused).toEqual(['listSize']);
  });

  it('refuses a negative first like one above the maximum, with the same details', async () => {
    const { error, refused } = await refusalFor('analyst', '{ members(first: -1) { nodes { id } } }');
    expect(error).toMatchObject({ message: 'Query.members(first: -1): first must be between 0 and 500', extensions: { code: 'BAD_USER_INPUT', limit: 'listSize', allowed: 500, found: -1 } });
    expect(refused).toEqual(['listSize']);
  });

  const expensive = '{ members(first: 500) { nodes { recommendations(first: 49) { score } } } }';

  it('refuses an operation whose estimated cost is above the maximum, and charges the ones it accepts', async () => {
    const charged: number[] = [];
    const { error, refused } = await refusalFor('analyst', expensive, {}, config.gateway, charged);
    // members: 500 × (connection 1 + nodes (1 + 49 recommendations × 1)); score is a leaf.
    expect(error).toMatchObject({ extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'cost', allowed: 10_000, found: 25_500 } });
    expect(refused).toEqual(['cost']);
    expect(charged).toEqual([]);
    expect((await refusalFor('analyst', '{ members(first: 20) { nodes { churnRisk { probability } } } }', {}, config.gateway, charged)).error).toBeUndefined();
    expect(charged).toEqual([60]);
  });

  it('in measure mode reports the cost and neither refuses nor charges', async () => {
    const charged: number[] = [];
    const measure = { ...config.gateway, demandControl: 'measure' as const };
    expect((await refusalFor('analyst', expensive, {}, measure, charged)).error).toBeUndefined();
    expect(charged).toEqual([]);
  });
});
