/**
 * Per-field list maximums: a field whose description documents its own maximum ("at most 50")
 * refuses a larger `first` at the gateway, with that maximum in the message (400
 * BAD_USER_INPUT, `extensions.limit = "listSize"`), before the gateway-wide list limit (which is
 * larger) could name a figure the field would not honour. The description is the contract
 * clients read in GraphiQL's Docs, so what is documented is what is enforced.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { getNamedType, isObjectType, Kind, type GraphQLSchema, type OperationDefinitionNode, type SelectionSetNode, type FragmentDefinitionNode, type ValueNode, type DocumentNode } from 'graphql';
import { ErrorCode } from '../../src/errors';
import { httpError } from '../errors';

const LIST_ARGUMENT = 'first';
/** "at most 50" in a field's description, or "first: at most 500". */
const DOCUMENTED_MAXIMUM = /\bat most (\d+)\b/;

/** `Type.field` → the maximum its description documents, for every field taking `first`. */
export function documentedMaximums(schema: GraphQLSchema): Map<string, number> {
  const maximums = new Map<string, number>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (!field.args.some((argument) => argument.name === LIST_ARGUMENT)) continue;
      const maximum = DOCUMENTED_MAXIMUM.exec(field.description ?? '')?.[1];
      if (maximum !== undefined) maximums.set(`${type.name}.${field.name}`, Number(maximum));
    }
  }
  return maximums;
}

function argumentValue(node: ValueNode, variables: Record<string, unknown>): unknown {
  if (node.kind === Kind.INT) return Number(node.value);
  if (node.kind === Kind.VARIABLE) return variables[node.name.value];
  return undefined;
}

interface OverMaximum {
  field: string;
  found: number;
  allowed: number;
}

/** The first field of the operation asking for more than its documented maximum. */
function overMaximum(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown>, maximums: Map<string, number>): OverMaximum | undefined {
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const visited = new Set<string>();
  const walk = (selectionSet: SelectionSetNode, typeName: string): OverMaximum | undefined => {
    const type = schema.getType(typeName);
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || visited.has(fragment.name.value)) continue;
        visited.add(fragment.name.value);
        const found = walk(fragment.selectionSet, fragment.typeCondition.name.value);
        if (found) return found;
        continue;
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const found = walk(selection.selectionSet, selection.typeCondition?.name.value ?? typeName);
        if (found) return found;
        continue;
      }
      const field = isObjectType(type) ? type.getFields()[selection.name.value] : undefined;
      if (!field) continue;
      const key = `${typeName}.${field.name}`;
      const allowed = maximums.get(key);
      const given = selection.arguments?.find((argument) => argument.name.value === LIST_ARGUMENT);
      const value = given ? argumentValue(given.value, variables) : undefined;
      if (allowed !== undefined && typeof value === 'number' && value > allowed) return { field: key, found: value, allowed };
      if (selection.selectionSet) {
        const found = walk(selection.selectionSet, getNamedType(field.type).name);
        if (found) return found;
      }
    }
    return undefined;
  };
  const root = schema.getRootType(operation.operation);
  return root ? walk(operation.selectionSet, root.name) : undefined;
}

/**
 * Apollo plugin; list it before the gateway-wide query limits so a field's own maximum is the one
 * named. Fields documenting `gatewayMaximum` or more are left to the gateway-wide limit.
 */
export function listMaximums({ gatewayMaximum }: { gatewayMaximum: number }): ApolloServerPlugin {
  const bySchema = new WeakMap<GraphQLSchema, Map<string, number>>();
  const maximumsOf = (schema: GraphQLSchema) => {
    let maximums = bySchema.get(schema);
    if (!maximums) {
      maximums = new Map([...documentedMaximums(schema)].filter(([, maximum]) => maximum < gatewayMaximum));
      bySchema.set(schema, maximums);
    }
    return maximums;
  };
  return {
    async requestDidStart() {
      return {
        /** Fires after validation, when the operation and its variables are known; a throw here is answered with its status. */
        async didResolveOperation({ document, operation, schema, request }) {
          if (!operation) return;
          const over = overMaximum(schema, document, operation, request.variables ?? {}, maximumsOf(schema));
          if (!over) return;
          throw httpError(400, ErrorCode.BAD_USER_INPUT, `${over.field}(first: ${over.found}) asks for more than ${over.allowed} items, the most this field gives`, {
            limit: 'listSize', argumentName: LIST_ARGUMENT, allowed: over.allowed, found: over.found,
          });
        },
      };
    },
  };
}
