/**
 * Persisted queries, resolved before Apollo sees the request.
 *
 * Partners run only operations registered in `schema/persisted-queries.json`, named by id
 * (`extensions.persistedQuery.sha256Hash`, or `documentId`/`id` in a POST body): a partner
 * request carrying a document is refused with FORBIDDEN, an unknown id with
 * PERSISTED_QUERY_NOT_FOUND. Staff and analysts may use the manifest ids too, and automatic
 * persisted queries (APQ): a hash alone is looked up in the cache (Redis when configured, so
 * every gateway shares it); a hash with its document registers it, but only once Apollo has
 * parsed and validated the document and every limit has passed (the `registration` plugin,
 * at the start of execution), so nothing that fails to run is ever stored. The cache is bounded
 * per subject and in total (see ./cache). Apollo's own APQ is off: every request reaches it as a
 * plain document.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode } from '../../src/errors';
import { subjectOf, type Identity } from '../../src/identity';
import { httpError } from '../errors';
import type { IncomingOperation, OperationStep } from '../operations';
import type { ApqCache } from './cache';
import { operationId, type PersistedOperation } from './manifest';

export { loadManifest, manifestPath, operationsDir, type PersistedOperation } from './manifest';
export { ENTRY_OVERHEAD_BYTES, MemoryApqCache, RedisApqCache, type ApqBounds, type ApqCache } from './cache';

const DOCUMENT_ID = /^(?:sha256:)?([0-9a-f]{64})$/i;
/**
 * The request extension that asks for registration once the operation is about to execute. A
 * client may set it itself: the plugin registers only under the document's own hash, which is
 * what sending the hash with the document asks for anyway.
 */
export const APQ_REGISTRATION = 'apqRegistration';

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
  apqCache: ApqCache;
  /** Fires for each registration handed to the APQ cache (which may decline a document above its size bound). */
  onRegistered?: () => void;
}

export interface PersistedQuerySteps {
  /** Gives every operation its document, or refuses it. */
  resolve: OperationStep;
  /** Apollo plugin storing documents sent with their hash, once they are about to execute. */
  registration: ApolloServerPlugin<{ identity: Identity }>;
}

/** How many operations of a request body ask to register a document (each counts against the rate limit). */
export function registrationCount(body: unknown): number {
  const pieces: unknown[] = Array.isArray(body) ? body : [body];
  return pieces.filter((piece) => {
    if (typeof piece !== 'object' || piece === null) return false;
    const { query, extensions } = piece as IncomingOperation;
    return typeof query === 'string' && typeof extensions === 'object' && extensions !== null && 'persistedQuery' in extensions;
  }).length;
}

export function persistedQueries({ manifest, apqCache, onRegistered }: PersistedQueriesOptions): PersistedQuerySteps {
  return {
    resolve: async (operation: IncomingOperation, identity: Identity) => {
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
        if (!manifest.has(id)) operation.extensions = { ...operation.extensions, [APQ_REGISTRATION]: id };
        return;
      }
      const registered = manifest.get(id);
      if (registered) return settle(operation, registered.body);
      if (isPartner) throw httpError(404, ErrorCode.PERSISTED_QUERY_NOT_FOUND, `no registered operation has id "${id}"`);
      const cached = await apqCache.get(id);
      // The message Apollo's APQ clients look for before they resend the full document.
      if (cached === undefined) throw httpError(200, ErrorCode.PERSISTED_QUERY_NOT_FOUND, 'PersistedQueryNotFound');
      settle(operation, cached);
    },
    registration: {
      async requestDidStart({ request }) {
        const id = request.extensions?.[APQ_REGISTRATION];
        const query = request.query;
        if (typeof id !== 'string' || typeof query !== 'string') return;
        return {
          /** Fires only once parsing, validation and every didResolveOperation check (the limits) passed. */
          async executionDidStart({ contextValue }) {
            if (operationId(query) !== id) return;
            await apqCache.register(id, query, subjectOf(contextValue.identity));
            onRegistered?.();
          },
        };
      },
    },
  };
}
