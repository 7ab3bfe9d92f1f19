import { describe, expect, it } from '@jest/globals';
import { buildSchema, getIntrospectionQuery, parse, type OperationDefinitionNode } from 'graphql';
import { loadConfig } from '../../../src/config';
import { loadSupergraph } from '../../subgraphs';
import { ASSUMED_UNBOUNDED_LIST_SIZE, documentShape, estimatedNodes, STANDARD_INTROSPECTION_DEPTH } from '../analysis';

describe('documentShape', () => {
  it('counts field depth, aliases and introspection depth', () => {
    expect(documentShape(parse('{ member(id: 1) { loans { book { title } } } }'))).toEqual({ depth: 4, aliases: 0, introspectionDepth: 0 });
    expect(documentShape(parse('{ a: member(id: 1) { b: id } c: __typename }'))).toEqual({ depth: 2, aliases: 3, introspectionDepth: 0 });
    expect(documentShape(parse('{ __schema { types { name } } models { name } }'))).toEqual({ depth: 2, aliases: 0, introspectionDepth: 3 });
  });

  it('follows fragments and inline fragments, counting a fragment once per spread', () => {
    const document = parse(`
      query { member(id: 1) { ...M ...M ... on Member { loans { id } } } }
      fragment M on Member { x: id loans { book { title } } }`);
    expect(documentShape(document)).toEqual({ depth: 4, aliases: 2, introspectionDepth: 0 });
  });

  it('measures a fragment bomb in its own size, not its expansion', () => {
    const levels = 40;
    const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ${i === levels - 1 ? 'a: __typename' : `...F${i + 1} ...F${i + 1}`} }`);
    const started = Date.now();
    const shape = documentShape(parse(`{ ...F0 } ${fragments.join(' ')}`));
    expect(Date.now() - started).toBeLessThan(200);
    expect(shape.aliases).toBe(2 ** (levels - 1));
  });

  it('does not loop on a fragment cycle (validation reports it later)', () => {
    expect(documentShape(parse('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }')).depth).toBe(1);
  });

  it('knows how deep the standard introspection query goes', () => {
    expect(STANDARD_INTROSPECTION_DEPTH).toBe(documentShape(parse(getIntrospectionQuery())).introspectionDepth);
    expect(STANDARD_INTROSPECTION_DEPTH).toBeGreaterThan(12);
  });
});

describe('estimatedNodes', () => {
  const schema = buildSchema(loadSupergraph(loadConfig({ NODE_ENV: 'test' })), { assumeValidSDL: true });
  const cost = (source: string, variables: Record<string, unknown> = {}) => {
    const document = parse(source);
    return estimatedNodes(schema, document, document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition')!, variables);
  };

  it('multiplies list sizes along each path: literal, variable, variable default, schema default', () => {
    expect(cost('{ members(first: 10) { nodes { id } } }').nodes).toBe(10 * (1 + 1 + 1));
    expect(cost('query ($n: Int) { members(first: $n) { nodes { id } } }', { n: 4 }).nodes).toBe(4 * 3);
    expect(cost('query ($n: Int = 7) { members(first: $n) { nodes { id } } }').nodes).toBe(7 * 3);
    expect(cost('{ members { nodes { id } } }').nodes).toBe(20 * 3);
    expect(cost('{ member(id: 1) { loans { id } } }').nodes).toBe(1 + ASSUMED_UNBOUNDED_LIST_SIZE * 2);
  });

  it('reports the largest `first` asked for and where', () => {
    expect(cost('{ members(first: 3) { nodes { loans(first: 900) { id } } } }').largestList).toEqual({ field: 'Member.loans', size: 900 });
  });
});
