/**
 * How the gateway refuses a request and what a client may see of an error.
 *
 * Refusals made before Apollo runs (authentication, rate limits, batch and body size) answer in
 * the same shape as GraphQL errors, `{ errors: [{ message, extensions: { code } }] }`, so a
 * client handles every refusal one way. Errors whose code is not a known, client-facing code are
 * masked as INTERNAL_SERVER_ERROR; the details go to the log, never to the client.
 */
import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import type { Response } from 'express';
import { unwrapResolverError } from '@apollo/server/errors';
import { ErrorCode } from '../src/errors';
import type { Logger } from '../src/logging';

/** A GraphQL error that also sets the HTTP status (and headers) of the answer. */
export function httpError(status: number, code: ErrorCode, message: string, extensions: Record<string, unknown> = {}, headers: Record<string, string> = {}): GraphQLError {
  return new GraphQLError(message, {
    extensions: { ...extensions, code, http: { status, headers: new Map(Object.entries(headers)) } },
  });
}

/**
 * Answers an HTTP request with one GraphQL-shaped error, for refusals made before Apollo runs,
 * as `mediaType` (application/json unless the client asked for application/graphql-response+json).
 */
export function sendError(res: Response, status: number, code: ErrorCode, message: string, extensions: Record<string, unknown> = {}, mediaType = 'application/json'): void {
  res.status(status).type(mediaType).send(JSON.stringify({ errors: [{ message, extensions: { ...extensions, code } }] }));
}

/** Codes a client is meant to read: Shelfmark's own and Apollo's request-level ones. */
const CLIENT_FACING_CODES = new Set<string>([
  ...Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR),
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

/** Extensions that are the gateway's plumbing, never shown to a client. */
const INTERNAL_EXTENSIONS = new Set(['stacktrace', 'exception', 'http']);

/**
 * Apollo's `formatError`: known codes pass with their message and extensions (stack traces
 * stripped); anything else becomes INTERNAL_SERVER_ERROR and is logged with its details.
 */
export function createErrorFormatter(logger: Logger, { logDetails }: { logDetails: boolean }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && CLIENT_FACING_CODES.has(code)) {
      const extensions = Object.fromEntries(Object.entries(formatted.extensions ?? {}).filter(([key]) => !INTERNAL_EXTENSIONS.has(key)));
      return { ...formatted, extensions };
    }
    const original = unwrapResolverError(error);
    if (logDetails) logger.error({ err: original, path: formatted.path, code }, 'unexpected error, masked as INTERNAL_SERVER_ERROR');
    else logger.error({ message: formatted.message, path: formatted.path, code }, 'unexpected error, masked as INTERNAL_SERVER_ERROR');
    return {
      message: 'Internal server error',
      ...(formatted.path ? { path: formatted.path } : {}),
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}
