/**
 * Which subgraphs resolve each field, read from the supergraph's join directives (never from a
 * hand-kept list): a field's owners are the graphs of its `@join__field` directives that do not
 * mark it `external`; a field without one belongs to every graph of its type's `@join__type`.
 */
import {
  Kind,
  parse,
  type ConstDirectiveNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  getNamedType,
  isInterfaceType,
  isObjectType,
} from 'graphql';

export interface FieldOwnership {
  /** Subgraph names (as in `@join__graph(name:)`) that resolve `Type.field`; empty when unknown. */
  ownersOf(typeName: string, fieldName: string): ReadonlySet<string>;
}

function argument(directive: ConstDirectiveNode, name: string): string | boolean | undefined {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  if (!value) return undefined;
  if (value.kind === Kind.ENUM || value.kind === Kind.STRING) return value.value;
  if (value.kind === Kind.BOOLEAN) return value.value;
  return undefined;
}

export function fieldOwnership(supergraphSdl: string): FieldOwnership {
  const document = parse(supergraphSdl, { noLocation: true });
  const graphNames = new Map<string, string>();
  const owners = new Map<string, Map<string, Set<string>>>();

  for (const definition of document.definitions) {
    if (definition.kind === Kind.ENUM_TYPE_DEFINITION && definition.name.value === 'join__Graph') {
      for (const value of definition.values ?? []) {
        const name = value.directives?.find((d) => d.name.value === 'join__graph');
        const graphName = name && argument(name, 'name');
        if (typeof graphName === 'string') graphNames.set(value.name.value, graphName);
      }
    }
  }
  const graphName = (enumValue: string | boolean | undefined): string | undefined => (typeof enumValue === 'string' ? graphNames.get(enumValue) : undefined);

  for (const definition of document.definitions) {
    if (
      definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      definition.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
      definition.kind !== Kind.OBJECT_TYPE_EXTENSION &&
      definition.kind !== Kind.INTERFACE_TYPE_EXTENSION
    ) continue;
    const typeGraphs = new Set(
      (definition.directives ?? []).filter((d) => d.name.value === 'join__type').map((d) => graphName(argument(d, 'graph'))).filter((g): g is string => g !== undefined),
    );
    const fields = owners.get(definition.name.value) ?? new Map<string, Set<string>>();
    for (const field of (definition.fields ?? [])) {
      const joins = (field.directives ?? []).filter((d) => d.name.value === 'join__field');
      const named = joins.filter((d) => argument(d, 'graph') !== undefined);
      const fieldGraphs = named.length === 0
        ? new Set(typeGraphs)
        : new Set(named.filter((d) => argument(d, 'external') !== true).map((d) => graphName(argument(d, 'graph'))).filter((g): g is string => g !== undefined));
      fields.set(field.name.value, fieldGraphs);
    }
    owners.set(definition.name.value, fields);
  }

  const empty: ReadonlySet<string> = new Set();
  return { ownersOf: (typeName, fieldName) => owners.get(typeName)?.get(fieldName) ?? empty };
}

/**
 * The fields of an operation that none of their subgraphs could answer, as `Type.field`, grouped
 * by failed subgraph. Only the topmost such field of a branch is named: when `Member.churnRisk`
 * is missing, its `probability` is missing because of it.
 */
export function unresolvedFields(
  ownership: FieldOwnership,
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  failed: ReadonlySet<string>,
): Map<string, string[]> {
  const bySubgraph = new Map<string, Set<string>>();
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const visited = new Set<string>();

  const walk = (selectionSet: SelectionSetNode | undefined, parent: GraphQLCompositeType): void => {
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        const type = fragment && schema.getType(fragment.typeCondition.name.value);
        // A fragment's fields are the same wherever it is spread: name them once.
        if (fragment && type && !visited.has(fragment.name.value)) {
          visited.add(fragment.name.value);
          walk(fragment.selectionSet, type as GraphQLCompositeType);
        }
        continue;
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (type) walk(selection.selectionSet, type as GraphQLCompositeType);
        continue;
      }
      const fieldName = selection.name.value;
      if (fieldName.startsWith('__')) continue;
      const owners = ownership.ownersOf(parent.name, fieldName);
      if (owners.size > 0 && [...owners].every((o) => failed.has(o))) {
        for (const owner of owners) {
          const fields = bySubgraph.get(owner) ?? new Set<string>();
          fields.add(`${parent.name}.${fieldName}`);
          bySubgraph.set(owner, fields);
        }
        continue;
      }
      const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[fieldName] : undefined;
      if (field && selection.selectionSet) walk(selection.selectionSet, getNamedType(field.type) as GraphQLCompositeType);
    }
  };

  const root = schema.getRootType(operation.operation);
  if (root) walk(operation.selectionSet, root);
  return new Map([...bySubgraph].map(([subgraph, fields]) => [subgraph, [...fields].sort()]));
}
