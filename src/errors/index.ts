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
  MODEL_UNAVAILABLE = 'MODEL_UNAVAILABLE',
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

export function shelfmarkError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { ...extensions, code } });
}

export function badUserInput(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return shelfmarkError(ErrorCode.BAD_USER_INPUT, message, extensions);
}
