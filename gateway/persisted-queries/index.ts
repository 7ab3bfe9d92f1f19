/**
 * Persisted queries, resolved before Apollo sees the request.
 *
 * Partners run only operations registered in `schema/persisted-queries.json`, named by id
 * (`extensions.persistedQuery.sha256Hash`, or `documentId`/`id` in a POST body): a partner
 * request carrying a document is refused with FORBIDDEN, an unknown id with
 * PERSISTED_QUERY_NOT_FOUND. Staff and analysts may use the manifest ids too, and automatic
 * persisted queries (APQ): a hash alone is looked up in the cache (Redis when configured, so
 * every gateway shares it); a hash with its document registers it, once the document has passed
 * the document limits. Apollo's own APQ is off: every request reaches it as a plain document.
 */
import { ErrorCode } from '../../src/errors';
import type { Identity } from '../../src/identity';
import { httpError } from '../errors';
import type { IncomingOperation, OperationStep } from '../operations';
import type { KeyValueCache } from './cache';
import { operationId, type PersistedOperation } from './manifest';

export { loadManifest, manifestPath, operationsDir, type PersistedOperation } from './manifest';
export { MemoryKeyValueCache, RedisKeyValueCache, type KeyValueCache } from './cache';

/** Same key space as Apollo Server's APQ cache, so clients and caches shared with it agree. */
const APQ_PREFIX = 'apq:';
const DOCUMENT_ID = /^(?:sha256:)?([0-9a-f]{64})$/i;
/** Marks an operation whose document is to be registered once it has passed the limits. */
const REGISTER = Symbol('register in the APQ cache');

type Resolved = IncomingOperation & { [REGISTER]?: string };

/** The id an operation names: the APQ extension, or `documentId`/`id` (with or without `sha256:`). */
function requestedId(operation: IncomingOperation): string | undefined {
  const persisted = operation.extensions?.persistedQuery as { version?: unknown; sha256Hash?: unknown } | undefined;
  if (persisted) {
    if (persisted.version !== 1) throw httpError(400, ErrorCode.BAD_USER_INPUT, 'unsupported persisted query version: send extensions.persistedQuery.version = 1');
    if (typeof persisted.sha256Hash !== 'string') throw httpError(400, ErrorCode.BAD_USER_INPUT, 'extensions.persistedQuery.sha256Hash must be a string');
    return persisted.sha256Hash;
  }
  // With a document, `id` may mean something else to the client; only the extension names a hash.
  const named = operation.query === undefined ? (operation.documentId ?? operation.id) : undefined;
  if (typeof named !== 'string') return undefined;
  return DOCUMENT_ID.exec(named)?.[1]?.toLowerCase() ?? named;
}

/** Leaves a plain document behind: no persisted-query extension, no id members. */
function settle(operation: IncomingOperation, query: string): void {
  operation.query = query;
  if (operation.extensions) {
    const { persistedQuery: _resolved, ...rest } = operation.extensions;
    operation.extensions = rest;
  }
  delete operation.documentId;
  delete operation.id;
}

export interface PersistedQueriesOptions {
  manifest: ReadonlyMap<string, PersistedOperation>;
  apqCache: KeyValueCache;
  apqTtlSeconds: number;
}

export interface PersistedQuerySteps {
  /** Gives every operation its document, or refuses it. */
  resolve: OperationStep;
  /** Stores documents sent with their hash; run after the document limits. */
  register: OperationStep;
}

export function persistedQueries({ manifest, apqCache, apqTtlSeconds }: PersistedQueriesOptions): PersistedQuerySteps {
  return {
    resolve: async (operation: Resolved, identity: Identity) => {
      const id = requestedId(operation);
      const isPartner = identity.role === 'partner';
      if (isPartner && operation.query !== undefined) {
        throw httpError(403, ErrorCode.FORBIDDEN, 'partners may run only registered operations: send the id of an operation in schema/persisted-queries.json (extensions.persistedQuery.sha256Hash or documentId), without a query');
      }
      if (id === undefined) {
        if (isPartner) throw httpError(400, ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'no operation id: send extensions.persistedQuery.sha256Hash or documentId of a registered operation');
        return;
      }
      if (operation.query !== undefined) {
        if (operationId(operation.query) !== id) throw httpError(400, ErrorCode.BAD_USER_INPUT, 'provided sha does not match query');
        const query = operation.query;
        settle(operation, query);
        if (!manifest.has(id)) operation[REGISTER] = id;
        return;
      }
      const registered = manifest.get(id);
      if (registered) return settle(operation, registered.body);
      if (isPartner) throw httpError(404, ErrorCode.PERSISTED_QUERY_NOT_FOUND, `no registered operation has id "${id}"`);
      const cached = await apqCache.get(APQ_PREFIX + id);
      // The message Apollo's APQ clients look for before they resend the full document.
      if (cached === undefined) throw httpError(200, ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'PersistedQueryNotFound');
      settle(operation, cached);
    },
    register: async (operation: Resolved) => {
      const id = operation[REGISTER];
      if (id !== undefined && operation.query !== undefined) await apqCache.set(APQ_PREFIX + id, operation.query, { ttl: apqTtlSeconds });
    },
  };
}
