import { describe, expect, it } from '@jest/globals';
import { buildSchema, parse, type OperationDefinitionNode } from 'graphql';
import { loadConfig } from '../../../src/config';
import { loadSupergraph } from '../../subgraphs';
import { fieldOwnership, unresolvedFields } from '..';

const supergraph = loadSupergraph(loadConfig({ NODE_ENV: 'test' }));
const ownership = fieldOwnership(supergraph);
const schema = buildSchema(supergraph, { assumeValidSDL: true });

function missing(source: string, failed: string[]) {
  const document = parse(source);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition')!;
  return Object.fromEntries(unresolvedFields(ownership, schema, document, operation, new Set(failed)));
}

describe('fieldOwnership (from the committed supergraph)', () => {
  it('reads owners from @join__field, and from @join__type when a field has none', () => {
    expect([...ownership.ownersOf('Member', 'churnRisk')]).toEqual(['churn']);
    expect([...ownership.ownersOf('Query', 'member')]).toEqual(['library']);
    expect([...ownership.ownersOf('Book', 'title')]).toEqual(['library']);
    expect(ownership.ownersOf('Member', 'id').has('library')).toBe(true);
    expect(ownership.ownersOf('Member', 'id').has('churn')).toBe(true);
    expect(ownership.ownersOf('Nope', 'nothing').size).toBe(0);
  });
});

describe('unresolvedFields', () => {
  it('names the topmost fields of the failed subgraph only, once each', () => {
    expect(missing('{ members(first: 2) { nodes { id churnRisk { level factors { feature } } } } member(id: 1) { churnRisk { level } } }', ['churn'])).toEqual({
      churn: ['Member.churnRisk'],
    });
  });

  it('a field every owner of which failed is named; a field another subgraph can still resolve is not', () => {
    expect(missing('{ member(id: 1) { id churnRisk { level } } book(id: 1) { title } }', ['library'])).toEqual({ library: ['Query.book', 'Query.member'] });
  });

  it('follows fragments and inline fragments', () => {
    expect(missing('{ member(id: 1) { ...Risk } } fragment Risk on Member { ... on Member { churnRisk { level } } }', ['churn'])).toEqual({ churn: ['Member.churnRisk'] });
  });

  it('names nothing when the operation does not touch the failed subgraph', () => {
    expect(missing('{ book(id: 1) { title } }', ['churn'])).toEqual({});
  });
});
