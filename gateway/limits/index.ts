/**
 * Query limits, checked before the work they guard against is done:
 * - HTTP: body size (413 PAYLOAD_TOO_LARGE, enforced while reading, so an oversized body is
 *   never held in memory) and operations per batch (400 BATCH_TOO_LARGE);
 * - before Apollo parses (an operation step): document size (413 PAYLOAD_TOO_LARGE), then
 *   tokens, depth and aliases (400 QUERY_TOO_COMPLEX), measured on a parse that stops at the
 *   token limit and remembered per document, so GraphQL validation (whose field-merging check
 *   grows with the square of the aliases) never runs on a document built to be expensive;
 * - before execution: `first` below zero or above the list maximum (400 BAD_USER_INPUT), the
 *   estimated response size and the estimated cost (400 QUERY_TOO_COMPLEX, variables included;
 *   the cost check only measures with `demandControl: 'measure'`), and introspection for
 *   partners (403 FORBIDDEN). An accepted operation's cost is then charged (see `charge`).
 *
 * Every refusal by a limit carries the same details: `extensions.limit` (which limit),
 * `allowed` and, when known, `found` (see `limitDetails`).
 */
import type { ApolloServerPlugin } from '@apollo/server';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { GraphQLError, parse } from 'graphql';
import type { GatewayConfig } from '../../src/config';
import { ErrorCode } from '../../src/errors';
import type { Identity } from '../../src/identity';
import { DocumentMemo } from '../document-memo';
import { httpError, sendError } from '../errors';
import type { OperationStep } from '../operations';
import { documentShape, estimatedNodes, STANDARD_INTROSPECTION_DEPTH, type DocumentShape } from './analysis';

export { documentShape, estimatedNodes, STANDARD_INTROSPECTION_DEPTH } from './analysis';

export type QueryLimits = Pick<GatewayConfig, 'maxDepth' | 'maxAliases' | 'maxTokens' | 'maxDocumentBytes' | 'maxListSize' | 'maxEstimatedNodes' | 'maxOperationCost' | 'demandControl'>;
export type HttpLimits = Pick<GatewayConfig, 'maxBodyBytes' | 'maxBatchOperations'>;

/** Which limit refused a request, in `extensions.limit`, for clients and for /metrics. */
export type LimitName =
  | 'bodyBytes' | 'batchOperations' | 'documentBytes' | 'tokens' | 'depth' | 'aliases' | 'introspectionDepth' | 'listSize'
  | 'estimatedNodes' | 'cost' | 'introspection' | 'rate' | 'costRate' | 'concurrency';

/** The details every limit refusal carries in `extensions`. */
export interface LimitDetails {
  limit: LimitName;
  allowed: number;
  found?: number;
}

export function limitDetails(limit: LimitName, allowed: number, found?: number): LimitDetails {
  return found === undefined ? { limit, allowed } : { limit, allowed, found };
}

export interface LimitEvents {
  /** Fires for each request a limit refuses. */
  onRefused?(limit: LimitName): void;
  /** Fires with the estimated cost of each operation that reached the cost check. */
  onCost?(cost: number): void;
}

function tooComplex(limit: LimitName, message: string, allowed: number, found: number): GraphQLError {
  return httpError(400, ErrorCode.QUERY_TOO_COMPLEX, message, { ...limitDetails(limit, allowed, found) });
}

/** Express middleware: the JSON body parser with the size limit, then the batch limit. */
export function httpLimits({ maxBodyBytes, maxBatchOperations }: HttpLimits, events: LimitEvents = {}): RequestHandler[] {
  return [
    express.json({ limit: maxBodyBytes }),
    (req, res, next) => {
      if (Array.isArray(req.body) && req.body.length > maxBatchOperations) {
        events.onRefused?.('batchOperations');
        sendError(res, 400, ErrorCode.BATCH_TOO_LARGE, `a batch may hold at most ${maxBatchOperations} operations; this one holds ${req.body.length}`, { ...limitDetails('batchOperations', maxBatchOperations, req.body.length) });
        return;
      }
      next();
    },
  ];
}

/** Express error handler for what the body parser refuses, answered in the GraphQL error shape. */
export function bodyErrors({ maxBodyBytes }: HttpLimits, events: LimitEvents = {}): ErrorRequestHandler {
  return (error: { type?: string; status?: number; message?: string }, _req, res, next) => {
    if (error.type === 'entity.too.large') {
      events.onRefused?.('bodyBytes');
      sendError(res, 413, ErrorCode.PAYLOAD_TOO_LARGE, `request body larger than ${maxBodyBytes} bytes`, { ...limitDetails('bodyBytes', maxBodyBytes) });
    } else if (error.type === 'entity.parse.failed' || error.type === 'charset.unsupported' || error.type === 'encoding.unsupported') {
      sendError(res, 400, ErrorCode.BAD_USER_INPUT, `request body is not valid JSON: ${error.message ?? ''}`.trim());
    } else next(error);
  };
}

type Verdict = { shape: DocumentShape } | { refusal: GraphQLError };

/** Measures a document without letting it cost more than the token limit to parse. */
function measure(source: string, limits: QueryLimits): Verdict {
  const bytes = Buffer.byteLength(source, 'utf8');
  if (bytes > limits.maxDocumentBytes) {
    return { refusal: httpError(413, ErrorCode.PAYLOAD_TOO_LARGE, `GraphQL document is ${bytes} bytes; at most ${limits.maxDocumentBytes} are accepted`, { ...limitDetails('documentBytes', limits.maxDocumentBytes, bytes) }) };
  }
  let shape: DocumentShape;
  try {
    shape = documentShape(parse(source, { maxTokens: limits.maxTokens, noLocation: true }));
  } catch (error) {
    if (error instanceof GraphQLError && /contains more tha[nt] \d+ tokens/.test(error.message)) {
      return { refusal: tooComplex('tokens', `GraphQL document has more than ${limits.maxTokens} tokens`, limits.maxTokens, limits.maxTokens + 1) };
    }
    // Any other syntax error is Apollo's to report, as GRAPHQL_PARSE_FAILED with its location.
    return { shape: { depth: 0, aliases: 0, introspectionDepth: 0 } };
  }
  if (shape.depth > limits.maxDepth) return { refusal: tooComplex('depth', `query depth ${shape.depth} exceeds the maximum of ${limits.maxDepth}`, limits.maxDepth, shape.depth) };
  if (shape.aliases > limits.maxAliases) return { refusal: tooComplex('aliases', `query uses ${shape.aliases} aliases; at most ${limits.maxAliases} are allowed`, limits.maxAliases, shape.aliases) };
  if (shape.introspectionDepth > STANDARD_INTROSPECTION_DEPTH) {
    return { refusal: tooComplex('introspectionDepth', `introspection depth ${shape.introspectionDepth} exceeds that of the standard introspection query (${STANDARD_INTROSPECTION_DEPTH})`, STANDARD_INTROSPECTION_DEPTH, shape.introspectionDepth) };
  }
  return { shape };
}

/**
 * Operation step (see ../operations): document size, tokens, depth and aliases, checked on a
 * parse that stops at the token limit, before Apollo parses and validates the document.
 */
export function documentLimits(limits: QueryLimits, events: LimitEvents = {}): OperationStep {
  const verdicts = new DocumentMemo<Verdict>(1000);
  return (operation) => {
    if (typeof operation.query !== 'string') return;
    const source = operation.query;
    // Too large to be worth hashing: refused on its size alone.
    const verdict = Buffer.byteLength(source, 'utf8') > limits.maxDocumentBytes ? measure(source, limits) : verdicts.get(source, () => measure(source, limits));
    if ('refusal' in verdict) {
      events.onRefused?.(verdict.refusal.extensions.limit as LimitName);
      throw verdict.refusal;
    }
  };
}

interface WithIdentity {
  identity: Identity;
}

/** Charges an accepted operation's estimated cost to its subject (the rate limit); throws to refuse it. */
export type CostCharge = (identity: Identity, cost: number) => Promise<void>;

/** Apollo plugin for the limits that need the validated operation and its variables. */
export function queryLimits(limits: QueryLimits, events: LimitEvents = {}, charge?: CostCharge): ApolloServerPlugin<WithIdentity> {
  const refuse = (error: GraphQLError): never => {
    events.onRefused?.(error.extensions.limit as LimitName);
    throw error;
  };
  return {
    async requestDidStart() {
      return {
        /** Fires after validation, when the operation and its variables are known; a throw here is answered with its status. */
        async didResolveOperation({ contextValue, document, operation, schema, request }) {
          if (!operation) return;
          if (contextValue.identity.role === 'partner' && documentShape(document).introspectionDepth > 0) {
            // Partners reach here only through registered operations; this keeps it so if one ever introspects.
            refuse(httpError(403, ErrorCode.FORBIDDEN, 'introspection is available to staff and analysts only', { ...limitDetails('introspection', 0) }));
          }
          const cost = estimatedNodes(schema, document, operation, request.variables ?? {});
          // An argument value outside its documented range is bad input, not a complex query.
          if (cost.negativeList) {
            refuse(httpError(400, ErrorCode.BAD_USER_INPUT, `${cost.negativeList.field}(first: ${cost.negativeList.size}): first must be between 0 and ${limits.maxListSize}`, {
              ...limitDetails('listSize', limits.maxListSize, cost.negativeList.size),
            }));
          }
          if (cost.largestList && cost.largestList.size > limits.maxListSize) {
            refuse(httpError(400, ErrorCode.BAD_USER_INPUT, `${cost.largestList.field}(first: ${cost.largestList.size}) asks for more than ${limits.maxListSize} items`, {
              ...limitDetails('listSize', limits.maxListSize, cost.largestList.size),
            }));
          }
          if (cost.nodes > limits.maxEstimatedNodes) {
            refuse(tooComplex('estimatedNodes', `query would return about ${cost.nodes} values (list sizes multiplied along each path); at most ${limits.maxEstimatedNodes} are allowed`, limits.maxEstimatedNodes, cost.nodes));
          }
          events.onCost?.(cost.cost);
          if (limits.demandControl === 'measure') return;
          if (cost.cost > limits.maxOperationCost) {
            refuse(tooComplex('cost', `query has an estimated cost of ${cost.cost} (objects 1, leaves 0, times the size of every list above them); at most ${limits.maxOperationCost} is allowed`, limits.maxOperationCost, cost.cost));
          }
          await charge?.(contextValue.identity, cost.cost);
        },
      };
    },
  };
}
