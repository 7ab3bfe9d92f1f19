/**
 * Persisted queries. Partners run only operations registered in `schema/persisted-queries.json`,
 * named by id (`extensions.persistedQuery.sha256Hash`, or `documentId`/`id` in a POST body);
 * a partner request carrying a document is refused with FORBIDDEN, an unknown id with
 * PERSISTED_QUERY_NOT_FOUND. Staff and analysts may also use the manifest ids, and automatic
 * persisted queries (Apollo's APQ, with the cache from `./cache`).
 */
import type { ApolloServerPlugin, GraphQLRequest } from '@apollo/server';
import type { RequestHandler } from 'express';
import { ErrorCode } from '../../src/errors';
import type { Identity } from '../../src/identity';
import { httpError } from '../errors';
import type { PersistedOperation } from './manifest';

export { loadManifest, manifestPath, type PersistedOperation } from './manifest';
export { MemoryKeyValueCache, RedisKeyValueCache, type KeyValueCache } from './cache';

interface WithIdentity {
  identity: Identity;
}

function persistedHash(request: GraphQLRequest): string | undefined {
  const persisted = request.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined;
  return typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash : undefined;
}

/** The request without its persisted-query extension, so Apollo runs it as a plain document. */
function withoutPersistedQuery(request: GraphQLRequest): GraphQLRequest['extensions'] {
  const { persistedQuery: _registered, ...rest } = request.extensions ?? {};
  return rest;
}

export interface PersistedQueriesOptions {
  manifest: ReadonlyMap<string, PersistedOperation>;
}

/** Apollo plugin; runs before Apollo's own APQ lookup, so manifest ids never reach the APQ cache. */
export function persistedQueries({ manifest }: PersistedQueriesOptions): ApolloServerPlugin<WithIdentity> {
  return {
    /** Fires for each operation before Apollo resolves its document: the only place a partner's request is shaped. */
    async requestDidStart({ request, contextValue }) {
      const hash = persistedHash(request);
      const isPartner = contextValue.identity.role === 'partner';
      if (isPartner && request.query !== undefined) {
        throw httpError(403, ErrorCode.FORBIDDEN, 'partners may run only registered operations: send the id of an operation in schema/persisted-queries.json (extensions.persistedQuery.sha256Hash or documentId), without a query');
      }
      if (isPartner && hash === undefined) {
        throw httpError(400, ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'no operation id: send extensions.persistedQuery.sha256Hash or documentId of a registered operation');
      }
      if (hash === undefined || request.query !== undefined) return;
      const registered = manifest.get(hash);
      if (registered) {
        request.query = registered.body;
        request.extensions = withoutPersistedQuery(request);
        return;
      }
      if (isPartner) throw httpError(404, ErrorCode.PERSISTED_QUERY_NOT_FOUND, `no registered operation has id "${hash}"`);
      // Staff and analysts: Apollo looks the hash up in the APQ cache next.
    },
  };
}

const DOCUMENT_ID = /^(?:sha256:)?([0-9a-f]{64})$/i;

/**
 * Express middleware: a POST body naming an operation by `documentId` (GraphQL over HTTP) or
 * `id` becomes the `extensions.persistedQuery` form Apollo and the plugin above understand.
 */
export function documentIdAliases(): RequestHandler {
  const rewrite = (piece: unknown): unknown => {
    if (typeof piece !== 'object' || piece === null || 'query' in piece) return piece;
    const { documentId, id, ...rest } = piece as Record<string, unknown>;
    const named = documentId ?? id;
    if (typeof named !== 'string') return piece;
    const match = DOCUMENT_ID.exec(named);
    const sha256Hash = match ? match[1]!.toLowerCase() : named;
    const extensions = (rest.extensions ?? {}) as Record<string, unknown>;
    return { ...rest, extensions: { ...extensions, persistedQuery: { version: 1, sha256Hash } } };
  };
  return (req, _res, next) => {
    if (req.method === 'POST' && req.body !== undefined) req.body = Array.isArray(req.body) ? req.body.map(rewrite) : rewrite(req.body);
    next();
  };
}
