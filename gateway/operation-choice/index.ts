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
import { DocumentMemo } from '../document-memo';
import { httpError } from '../errors';
import type { IncomingOperation, OperationStep } from '../operations';

export interface GraphOperations {
  /** Whether the graph's schema has a Mutation root type (it may gain or lose one by recomposition). */
  hasMutations: boolean;
}

/** What the choice needs of one operation of a document. */
interface DefinedOperation {
  name: string | undefined;
  type: OperationTypeNode;
}

/** The operations a document defines, or undefined when it does not parse. */
function operationsOf(query: string): DefinedOperation[] | undefined {
  let document: DocumentNode;
  try {
    document = parse(query, { noLocation: true });
  } catch {
    return undefined;
  }
  return document.definitions
    .filter((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)
    .map((definition) => ({ name: definition.name?.value, type: definition.operation }));
}

function nameList(operations: DefinedOperation[]): string {
  const names = operations.map((operation) => (operation.name !== undefined ? `"${operation.name}"` : 'an unnamed operation'));
  return names.join(', ');
}

function chosenOperation(operations: DefinedOperation[], operationName: unknown): DefinedOperation | undefined {
  if (typeof operationName === 'string' && operationName !== '') {
    const named = operations.find((operation) => operation.name === operationName);
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
export function operationChoice(graph: GraphOperations, documentsKept = 1000): OperationStep {
  const documents = new DocumentMemo<DefinedOperation[] | undefined>(documentsKept);
  return (operation: IncomingOperation) => {
    const { query } = operation;
    if (typeof query !== 'string') return;
    const operations = documents.get(query, () => operationsOf(query));
    if (!operations) return;
    const chosen = chosenOperation(operations, operation.operationName);
    if (chosen) refuseUnsupported(chosen.type, graph);
  };
}
