/**
 * Which role may send which kind of operation, checked once the operation is known:
 * - mutations (circulation writes): staff and circulation only; others get 403 FORBIDDEN;
 * - the circulation role (the library's circulation system) reads nothing but the clock: any
 *   query selecting more is 403 FORBIDDEN. What a mutation answers is part of the write.
 * The library subgraph checks the mutation roles again; this refuses before any subgraph call.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type OperationDefinitionNode } from 'graphql';
import type { Role } from '../../src/config';
import { ErrorCode } from '../../src/errors';
import type { Identity } from '../../src/identity';
import { httpError } from '../errors';

export const MUTATION_ROLES: readonly Role[] = ['staff', 'circulation'];
/** Root query fields the circulation role may read. */
const CIRCULATION_QUERY_FIELDS = new Set(['clock', '__typename']);

function readsOnlyClock(operation: OperationDefinitionNode): boolean {
  return operation.selectionSet.selections.every((selection) => selection.kind === Kind.FIELD && CIRCULATION_QUERY_FIELDS.has(selection.name.value));
}

export function operationRoles(): ApolloServerPlugin<{ identity: Identity }> {
  return {
    async requestDidStart() {
      return {
        /** Fires after validation, when the operation's type is known; a throw here is answered with its status. */
        async didResolveOperation({ contextValue, operation }) {
          if (!operation) return;
          const { role } = contextValue.identity;
          if (operation.operation === 'mutation' && !MUTATION_ROLES.includes(role)) {
            throw httpError(403, ErrorCode.FORBIDDEN, `role ${role} may not send mutations; circulation writes are for ${MUTATION_ROLES.join(' and ')}`);
          }
          if (role === 'circulation' && operation.operation !== 'mutation' && !readsOnlyClock(operation)) {
            throw httpError(403, ErrorCode.FORBIDDEN, 'role circulation sends circulation mutations and reads nothing but Query.clock');
          }
        },
      };
    },
  };
}
