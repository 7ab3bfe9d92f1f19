/**
 * Every error code a Shelfmark client can meet, in `extensions.code`. One enum, used by the
 * gateway, the subgraphs and the command-line tools alike.
 */
import { GraphQLError } from 'graphql';

export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  RATE_LIMITED = 'RATE_LIMITED',
  PERSISTED_QUERY_NOT_FOUND = 'PERSISTED_QUERY_NOT_FOUND',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  /** A circulation event reuses an applied event's id with other content. */
  EVENT_CONFLICT = 'EVENT_CONFLICT',
  MODEL_UNAVAILABLE = 'MODEL_UNAVAILABLE',
  /**
   * A result over the whole library (segments, a watchlist) has not been computed yet since the
   * graph started: retry after `extensions.retryAfterSeconds`. Later answers carry their age.
   */
  AGGREGATE_PENDING = 'AGGREGATE_PENDING',
  /** A subgraph that serves no model (the library) did not answer in time. */
  SUBGRAPH_UNAVAILABLE = 'SUBGRAPH_UNAVAILABLE',
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  /** The request body or the GraphQL document is larger than the gateway accepts (HTTP 413). */
  PAYLOAD_TOO_LARGE = 'PAYLOAD_TOO_LARGE',
  /** An HTTP request batches more operations than the gateway accepts. */
  BATCH_TOO_LARGE = 'BATCH_TOO_LARGE',
  /** The request's `operationName` names no operation of its document (or of the registered one). */
  OPERATION_NOT_FOUND = 'OPERATION_NOT_FOUND',
  /** The document defines several operations and the request does not say which one to run. */
  OPERATION_NAME_REQUIRED = 'OPERATION_NAME_REQUIRED',
  /** A subscription, or a mutation on a graph that has none: the graph cannot run that kind of operation. */
  OPERATION_TYPE_NOT_SUPPORTED = 'OPERATION_TYPE_NOT_SUPPORTED',
  /** The process is stopping: HTTP 503 with `Connection: close`; retry, and another instance answers. */
  SHUTTING_DOWN = 'SHUTTING_DOWN',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

export function shelfmarkError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

export function badUserInput(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return shelfmarkError(ErrorCode.BAD_USER_INPUT, message, extensions);
}
