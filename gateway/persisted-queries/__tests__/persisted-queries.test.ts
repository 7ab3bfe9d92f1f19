import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GraphQLError } from 'graphql';
import { findProjectRoot, loadConfig } from '../../../src/config';
import type { Identity } from '../../../src/identity';
import { loadSupergraph } from '../../subgraphs';
import type { IncomingOperation } from '../../operations';
import { APQ_REGISTRATION, MemoryApqCache, persistedQueries, registrationCount } from '..';
import { buildManifest, loadManifest, manifestPath, operationId, operationsDir, serializeManifest } from '../manifest';

const root = findProjectRoot(__dirname);
const supergraph = loadSupergraph(loadConfig({ NODE_ENV: 'test' }));

const bounds = { maxDocumentBytes: 4096, maxPerSubject: 10, maxBytes: 1 << 20, ttlSeconds: 60 };

describe('schema/persisted-queries.json', () => {
  it('is what `npm run pq:manifest` builds from schema/operations/ with Apollo\'s generator (run it when this fails)', async () => {
    const built = serializeManifest(await buildManifest(operationsDir(root), supergraph));
    expect(readFileSync(manifestPath(root), 'utf8')).toBe(built);
  });

  it('is in the Apollo manifest format, each id the SHA-256 of its body', () => {
    const { operations } = JSON.parse(readFileSync(manifestPath(root), 'utf8')) as { operations: { id: string; type: string; body: string }[] };
    expect(operations.length).toBeGreaterThan(0);
    for (const operation of operations) {
      expect(operation.id).toBe(operationId(operation.body));
      expect(operation.type).toBe('query');
    }
  });

  it('also answers the ids of the same operations without __typename, as manifests made before Apollo\'s generator had them', () => {
    const manifest = loadManifest(manifestPath(root));
    // BookDetails' id in the manifest of e13bf39, whose bodies had no __typename.
    const older = manifest.get('6e3a17e95303cacf8d242245cc30fa8f891632b09a15d554f1d11f34c85e8bf6');
    expect(older?.name).toBe('BookDetails');
    expect(older?.body).toContain('__typename');
    expect(manifest.get(older?.id ?? '')).toBe(older);
  });
});

describe('buildManifest', () => {
  const dirWith = (files: Record<string, string>) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-operations-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    return dir;
  };

  it('refuses an operation the supergraph cannot run, naming the file', async () => {
    await expect(buildManifest(dirWith({ 'Bad.graphql': 'query Bad { member(id: "1") { shoeSize } }' }), supergraph)).rejects.toThrow('Bad.graphql: Cannot query field "shoeSize" on type "Member".');
  });

  it('refuses anonymous operations, files with two operations, and names registered twice', async () => {
    await expect(buildManifest(dirWith({ 'A.graphql': '{ models { name } }' }), supergraph)).rejects.toThrow('A.graphql: the operation needs a name');
    await expect(buildManifest(dirWith({ 'A.graphql': 'query A { models { name } } query B { models { name } }' }), supergraph)).rejects.toThrow('A.graphql: expected exactly one operation, found 2');
    await expect(buildManifest(dirWith({ 'A.graphql': 'query A { models { name } }', 'B.graphql': 'query A { models { version } }' }), supergraph)).rejects.toThrow('operation name A is registered twice');
  });

  it('gives each operation the body and id Apollo Client 4 sends: __typename in every selection', async () => {
    const manifest = await buildManifest(dirWith({ 'Models.graphql': 'query Models { models { name } }' }), supergraph);
    const body = 'query Models {\n  models {\n    name\n    __typename\n  }\n}';
    expect(manifest.operations).toEqual([{ id: operationId(body), name: 'Models', type: 'query', body }]);
  });
});

describe('loadManifest', () => {
  it('refuses a manifest whose id does not match its body', () => {
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'shelfmark-manifest-')), 'pq.json');
    writeFileSync(file, JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations: [{ id: 'f'.repeat(64), name: 'A', type: 'query', body: 'query A { models { name } }' }] }));
    expect(() => loadManifest(file)).toThrow(/operation A has id f{64}, but its body hashes to/);
  });
});

describe('persistedQueries steps', () => {
  const body = 'query Models { models { name } }';
  const id = operationId(body);
  const manifest = new Map([[id, { id, name: 'Models', type: 'query' as const, body }]]);
  const partner: Identity = { sub: 'p', role: 'partner' };
  const analyst: Identity = { sub: 'a', role: 'analyst' };
  const persisted = (sha256Hash: string): IncomingOperation => ({ extensions: { persistedQuery: { version: 1, sha256Hash } } });

  const refusal = async (step: Promise<void> | void) => {
    try {
      await step;
    } catch (error) {
      if (error instanceof GraphQLError) return { message: error.message, code: error.extensions.code, status: (error.extensions.http as { status: number }).status };
      throw error;
    }
    throw new Error('expected a refusal');
  };

  it('gives a partner the registered document for its id, and leaves no persisted-query extension', async () => {
    const { resolve } = persistedQueries({ manifest, apqCache: new MemoryApqCache(bounds) });
    const operation = persisted(id);
    await resolve(operation, partner);
    expect(operation).toEqual({ query: body, extensions: {} });
    const byDocumentId: IncomingOperation = { documentId: `sha256:${id.toUpperCase()}` };
    await resolve(byDocumentId, partner);
    expect(byDocumentId).toEqual({ query: body });
  });

  it('refuses a partner document, a partner request without id, and an unknown id', async () => {
    const { resolve } = persistedQueries({ manifest, apqCache: new MemoryApqCache(bounds) });
    expect(await refusal(resolve({ query: body }, partner))).toMatchObject({ code: 'FORBIDDEN', status: 403 });
    expect(await refusal(resolve({}, partner))).toMatchObject({ code: 'PERSISTED_QUERY_NOT_FOUND', status: 400 });
    expect(await refusal(resolve(persisted('0'.repeat(64)), partner))).toEqual({ message: `no registered operation has id "${'0'.repeat(64)}"`, code: 'PERSISTED_QUERY_NOT_FOUND', status: 404 });
  });

  it('APQ for analysts: a miss, then a document with its hash marked for registration (not yet stored), a hit once stored', async () => {
    const apqCache = new MemoryApqCache(bounds);
    const { resolve } = persistedQueries({ manifest, apqCache });
    const query = '{ models { version } }';
    const hash = operationId(query);
    expect(await refusal(resolve(persisted(hash), analyst))).toEqual({ message: 'PersistedQueryNotFound', code: 'PERSISTED_QUERY_NOT_FOUND', status: 200 });
    const registration: IncomingOperation = { query, ...persisted(hash) };
    await resolve(registration, analyst);
    expect(registration.extensions).toEqual({ [APQ_REGISTRATION]: hash });
    expect(await apqCache.get(hash)).toBeUndefined();
    await apqCache.register(hash, query, 'analyst:a');
    const hit = persisted(hash);
    await resolve(hit, analyst);
    expect(hit.query).toBe(query);
    expect(await refusal(resolve({ query, ...persisted('1'.repeat(64)) }, analyst))).toMatchObject({ message: 'provided sha does not match query', code: 'BAD_USER_INPUT' });
  });

  it('counts the registrations a request body asks for', () => {
    const query = '{ models { version } }';
    expect(registrationCount({ query })).toBe(0);
    expect(registrationCount({ query, ...persisted(operationId(query)) })).toBe(1);
    expect(registrationCount([{ query, ...persisted('a') }, persisted('b'), { query, ...persisted('c') }])).toBe(2);
  });

  it('leaves a plain document alone, even with an `id` member of its own', async () => {
    const { resolve } = persistedQueries({ manifest, apqCache: new MemoryApqCache(bounds) });
    const operation: IncomingOperation = { query: '{ models { name } }', id: 'client-request-7' };
    await resolve(operation, analyst);
    expect(operation).toEqual({ query: '{ models { name } }', id: 'client-request-7' });
  });
});
