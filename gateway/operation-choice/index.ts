/**
 * Which operation of a document a request runs, checked before Apollo sees it: the gateway's
 * executor reports a wrong choice as an unexpected error, which would reach the client as
 * INTERNAL_SERVER_ERROR. Each mistake is refused with its own code (HTTP 400, or 200 for a
 * client that accepts only application/json; see media-types/):
 * - `operationName` names no operation of the document: OPERATION_NOT_FOUND;
 * - several operations and no `operationName`: OPERATION_NAME_REQUIRED;
 * - a subscription, or a mutation when the graph defines none: OPERATION_TYPE_NOT_SUPPORTED.
 * A document that does not parse is left to Apollo, which reports where it fails.
 */
import { Kind, OperationTypeNode, parse, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import { ErrorCode } from '../../src/errors';
import { httpError } from '../errors';
import type { IncomingOperation, OperationStep } from '../operations';

export interface GraphOperations {
  /** Whether the graph's schema has a Mutation root type (it may gain or lose one by recomposition). */
  hasMutations: boolean;
}

function parsed(query: string): DocumentNode | undefined {
  try {
    return parse(query, { noLocation: true });
  } catch {
    return undefined;
  }
}

function operationsOf(document: DocumentNode): OperationDefinitionNode[] {
  return document.definitions.filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION);
}

function nameList(operations: OperationDefinitionNode[]): string {
  const names = operations.map((operation) => (operation.name ? `"${operation.name.value}"` : 'an unnamed operation'));
  return names.join(', ');
}

function chosenOperation(operations: OperationDefinitionNode[], operationName: unknown): OperationDefinitionNode | undefined {
  if (typeof operationName === 'string' && operationName !== '') {
    const named = operations.find((operation) => operation.name?.value === operationName);
    if (!named) throw httpError(400, ErrorCode.OPERATION_NOT_FOUND, `the document defines no operation named "${operationName}"; it defines ${nameList(operations)}`);
    return named;
  }
  if (operations.length > 1) {
    throw httpError(400, ErrorCode.OPERATION_NAME_REQUIRED, `the document defines ${operations.length} operations (${nameList(operations)}): name each one and send operationName to say which to run`);
  }
  return operations[0];
}

function refuseUnsupported(type: OperationTypeNode, graph: GraphOperations): void {
  if (type === OperationTypeNode.SUBSCRIPTION) {
    throw httpError(400, ErrorCode.OPERATION_TYPE_NOT_SUPPORTED, 'this graph serves no subscriptions over HTTP: send a query or a mutation', { operationType: type });
  }
  if (type === OperationTypeNode.MUTATION && !graph.hasMutations) {
    throw httpError(400, ErrorCode.OPERATION_TYPE_NOT_SUPPORTED, 'this graph defines no mutations: send a query', { operationType: type });
  }
}

/** The operation step; run after the document limits, so the documents it parses are bounded. */
export function operationChoice(graph: GraphOperations): OperationStep {
  return (operation: IncomingOperation) => {
    if (typeof operation.query !== 'string') return;
    const document = parsed(operation.query);
    if (!document) return;
    const chosen = chosenOperation(operationsOf(document), operation.operationName);
    if (chosen) refuseUnsupported(chosen.operation, graph);
  };
}
