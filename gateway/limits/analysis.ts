/**
 * What a GraphQL document would cost, measured before anything expensive runs on it.
 *
 * `documentShape` needs only the document (depth, aliases, introspection); `estimatedNodes`
 * also needs the schema and the variables (list sizes multiplied along each path). Both visit
 * each fragment once whatever the number of spreads, so a document built to explode when its
 * fragments are expanded costs its own size to measure, and a fragment cycle (which validation
 * rejects later) cannot loop.
 */
import {
  getIntrospectionQuery,
  getNamedType,
  isObjectType,
  isInterfaceType,
  isLeafType,
  Kind,
  parse,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

export interface DocumentShape {
  /** Deepest nesting of fields, introspection subtrees counted as one level. */
  depth: number;
  /** Aliased fields, each fragment counted as many times as it is spread. */
  aliases: number;
  /** Deepest nesting inside `__schema`/`__type` (0 when the document does not introspect). */
  introspectionDepth: number;
}

const INTROSPECTION_ROOTS = new Set(['__schema', '__type']);

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

export function documentShape(document: DocumentNode): DocumentShape {
  const fragments = fragmentsOf(document);
  const memo = new Map<string, DocumentShape>();
  const inProgress = new Set<string>();
  const none: DocumentShape = { depth: 0, aliases: 0, introspectionDepth: 0 };

  const fragmentShape = (name: string): DocumentShape => {
    const known = memo.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    if (!fragment || inProgress.has(name)) return none;
    inProgress.add(name);
    const shape = selectionShape(fragment.selectionSet);
    inProgress.delete(name);
    memo.set(name, shape);
    return shape;
  };

  const selectionShape = (selectionSet: SelectionSetNode | undefined): DocumentShape => {
    const total = { ...none };
    for (const selection of selectionSet?.selections ?? []) {
      let inner: DocumentShape;
      let levels = 0;
      if (selection.kind === Kind.FIELD) {
        levels = 1;
        const sub = selectionShape(selection.selectionSet);
        if (selection.alias) total.aliases += 1;
        if (INTROSPECTION_ROOTS.has(selection.name.value)) {
          inner = { depth: 0, aliases: sub.aliases, introspectionDepth: 1 + sub.depth };
        } else inner = sub;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) inner = selectionShape(selection.selectionSet);
      else inner = fragmentShape(selection.name.value);
      total.depth = Math.max(total.depth, levels + inner.depth);
      total.aliases += inner.aliases;
      total.introspectionDepth = Math.max(total.introspectionDepth, inner.introspectionDepth);
    }
    return total;
  };

  const total = { ...none };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const shape = selectionShape(definition.selectionSet);
    total.depth = Math.max(total.depth, shape.depth);
    total.aliases = Math.max(total.aliases, shape.aliases);
    total.introspectionDepth = Math.max(total.introspectionDepth, shape.introspectionDepth);
  }
  return total;
}

/**
 * How deep the standard introspection query (every option on, as GraphiQL and other IDEs send
 * it) goes: introspection is allowed that deep and no deeper, whatever the depth limit.
 */
export const STANDARD_INTROSPECTION_DEPTH = documentShape(
  parse(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true })),
).introspectionDepth;

export interface ListCost {
  /** Estimated response nodes: each field counts once per element of every list above it. */
  nodes: number;
  /**
   * Estimated cost in the manner of Apollo Router's demand control (`@cost`/`@listSize`), with
   * the list sizes taken from this gateway's own reading of the schema rather than directives:
   * each object (or interface) counts 1 and each leaf 0, times the size of every list above it;
   * a field's size is its `first` argument (its `@listSize` slicing argument), or the schema's
   * default for it, or ASSUMED_UNBOUNDED_LIST_SIZE.
   */
  cost: number;
  /** The largest `first` asked for, and on which field. */
  largestList: { field: string; size: number } | undefined;
  /** A negative `first`, and on which field (never a valid list size). */
  negativeList: { field: string; size: number } | undefined;
}

/** A list field's size when the client gives no `first` and the schema no default. */
export const ASSUMED_UNBOUNDED_LIST_SIZE = 50;
const LIST_ARGUMENT = 'first';

interface Tally {
  nodes: number;
  cost: number;
}

function valueOf(node: ValueNode, variables: Record<string, unknown>, operation: OperationDefinitionNode): unknown {
  if (node.kind === Kind.INT) return Number(node.value);
  if (node.kind === Kind.NULL) return null;
  if (node.kind === Kind.VARIABLE) {
    const name = node.name.value;
    if (name in variables) return variables[name];
    const definition = operation.variableDefinitions?.find((d) => d.variable.name.value === name);
    return definition?.defaultValue ? valueOf(definition.defaultValue, {}, operation) : undefined;
  }
  return undefined;
}

export function estimatedNodes(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown> = {}): ListCost {
  const fragments = fragmentsOf(document);
  const memo = new Map<string, Tally>();
  const inProgress = new Set<string>();
  let largestList: ListCost['largestList'];
  let negativeList: ListCost['negativeList'];
  const none: Tally = { nodes: 0, cost: 0 };

  const fragmentNodes = (name: string): Tally => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    const fragment = fragments.get(name);
    const type = fragment && schema.getType(fragment.typeCondition.name.value);
    if (!fragment || !type || inProgress.has(name)) return none;
    inProgress.add(name);
    const tally = selectionNodes(fragment.selectionSet, type as GraphQLCompositeType);
    inProgress.delete(name);
    memo.set(name, tally);
    return tally;
  };

  const selectionNodes = (selectionSet: SelectionSetNode | undefined, parent: GraphQLCompositeType): Tally => {
    const total = { nodes: 0, cost: 0 };
    const add = (tally: Tally) => {
      total.nodes += tally.nodes;
      total.cost += tally.cost;
    };
    for (const selection of selectionSet?.selections ?? []) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        add(fragmentNodes(selection.name.value));
        continue;
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        if (type) add(selectionNodes(selection.selectionSet, type as GraphQLCompositeType));
        continue;
      }
      const fieldName = selection.name.value;
      const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[fieldName] : undefined;
      if (!field || INTROSPECTION_ROOTS.has(fieldName)) {
        add({ nodes: 1, cost: 0 });
        continue;
      }
      let multiplier = 1;
      const listArgument = field.args.find((a) => a.name === LIST_ARGUMENT);
      if (listArgument) {
        const given = selection.arguments?.find((a) => a.name.value === LIST_ARGUMENT);
        const value = given ? valueOf(given.value, variables, operation) : undefined;
        const size = typeof value === 'number' ? value : typeof listArgument.defaultValue === 'number' ? listArgument.defaultValue : ASSUMED_UNBOUNDED_LIST_SIZE;
        multiplier = Math.max(size, 0);
        if (size < 0 && (!negativeList || size < negativeList.size)) negativeList = { field: `${parent.name}.${fieldName}`, size };
        if (!largestList || multiplier > largestList.size) largestList = { field: `${parent.name}.${fieldName}`, size: multiplier };
      }
      const child = getNamedType(field.type);
      const below = selection.selectionSet ? selectionNodes(selection.selectionSet, child as GraphQLCompositeType) : none;
      add({ nodes: multiplier * (1 + below.nodes), cost: multiplier * ((isLeafType(child) ? 0 : 1) + below.cost) });
    }
    return total;
  };

  const root = schema.getRootType(operation.operation);
  const total = root ? selectionNodes(operation.selectionSet, root) : none;
  return { nodes: total.nodes, cost: total.cost, largestList, negativeList };
}
