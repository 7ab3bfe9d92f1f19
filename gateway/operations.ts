/**
 * The operations an HTTP request carries, as one list whatever the transport: a POST body
 * (one operation, or a JSON array of them) or the search parameters of a GET. Checks that must
 * run before Apollo parses a document (persisted-query resolution, document limits) are steps
 * over this list; Apollo Server turns any error thrown before parsing into a bare 500, so
 * refusals are answered here, each with its own status and code.
 */
import type { Request, RequestHandler } from 'express';
import { GraphQLError } from 'graphql';
import { ErrorCode } from '../src/errors';
import type { Identity } from '../src/identity';
import { identityOf } from './auth';
import { sendError } from './errors';
import { isRequestErrorCode, requestErrorStatus, responseMediaType } from './media-types';

/** One GraphQL operation as sent; steps may fill in `query` and edit `extensions`. */
export interface IncomingOperation {
  query?: string;
  operationName?: string;
  variables?: unknown;
  extensions?: Record<string, unknown>;
  /** Other members of a POST body (e.g. `documentId`), passed on untouched unless a step uses them. */
  [member: string]: unknown;
}

/**
 * A check or rewrite of one operation. Throws a GraphQLError with `extensions.code` (and
 * `extensions.http.status`) to refuse the whole request.
 */
export type OperationStep = (operation: IncomingOperation, identity: Identity) => void | Promise<void>;

function jsonParameter(value: string | null, name: string): unknown {
  if (value === null) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    throw new GraphQLError(`the "${name}" parameter is not valid JSON`, { extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } } });
  }
}

function fromSearch(search: URLSearchParams): IncomingOperation {
  const operation: IncomingOperation = {};
  const query = search.get('query');
  if (query !== null) operation.query = query;
  const operationName = search.get('operationName');
  if (operationName !== null) operation.operationName = operationName;
  const extensions = jsonParameter(search.get('extensions'), 'extensions');
  if (extensions && typeof extensions === 'object') operation.extensions = extensions as Record<string, unknown>;
  return operation;
}

function toSearch(operation: IncomingOperation, search: URLSearchParams): URLSearchParams {
  const next = new URLSearchParams(search);
  if (operation.query !== undefined) next.set('query', operation.query);
  if (operation.extensions && Object.keys(operation.extensions).length > 0) next.set('extensions', JSON.stringify(operation.extensions));
  else next.delete('extensions');
  return next;
}

/** Refusal details for the client: the error's code and extensions, without the HTTP plumbing. */
function refusalOf(error: GraphQLError): { status: number; code: ErrorCode; extensions: Record<string, unknown> } {
  const { http, code, ...extensions } = error.extensions as { http?: { status?: number }; code?: ErrorCode };
  return { status: http?.status ?? 400, code: code ?? ErrorCode.BAD_USER_INPUT, extensions };
}

function isOperation(piece: unknown): piece is IncomingOperation {
  return typeof piece === 'object' && piece !== null && !Array.isArray(piece);
}

/** Express middleware running `steps` over every operation of the request, in order; after `authenticate` and the body parser. */
export function operationSteps(...steps: OperationStep[]): RequestHandler {
  const run = async (operation: IncomingOperation, identity: Identity) => {
    for (const step of steps) await step(operation, identity);
  };
  return async (req: Request, res, next) => {
    const identity = identityOf(res.locals);
    try {
      if (req.method === 'GET') {
        const url = new URL(req.url, 'http://gateway.invalid');
        const operation = fromSearch(url.searchParams);
        await run(operation, identity);
        req.url = `${url.pathname}?${toSearch(operation, url.searchParams)}`;
      } else if (req.method === 'POST') {
        const pieces: unknown[] = Array.isArray(req.body) ? req.body : [req.body];
        // Apollo reports malformed pieces (not objects) with its own 400.
        await Promise.all(pieces.filter(isOperation).map((piece) => run(piece, identity)));
      }
    } catch (error) {
      if (!(error instanceof GraphQLError)) {
        next(error);
        return;
      }
      const { status, code, extensions } = refusalOf(error);
      const mediaType = responseMediaType(req.get('accept'));
      sendError(res, isRequestErrorCode(code) ? requestErrorStatus(status, mediaType) : status, code, error.message, extensions, mediaType);
      return;
    }
    next();
  };
}
