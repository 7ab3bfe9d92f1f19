/**
 * Persisted queries over HTTP: partners run registered operations by id and nothing else; staff
 * and analysts use APQ, cached in Redis and so shared by two gateway processes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, REDIS_URL, startGatewayProcess, startTestGraph, token, post, uniquePrefix, type GatewayProcess, type TestGraph } from './helpers';

interface ManifestOperation {
  id: string;
  name: string;
  body: string;
}
const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'schema', 'persisted-queries.json'), 'utf8')) as { operations: ManifestOperation[] };
const bookDetails = manifest.operations.find((o) => o.name === 'BookDetails')!;
const persisted = (sha256Hash: string) => ({ extensions: { persistedQuery: { version: 1, sha256Hash } } });

describe('persisted queries', () => {
  let graph: TestGraph;
  let first: GatewayProcess;
  let second: GatewayProcess;

  beforeAll(async () => {
    const shared = { REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix('apq') };
    graph = await startTestGraph();
    [first, second] = await Promise.all([startGatewayProcess({ ...graph.gatewayEnv, ...shared }), startGatewayProcess({ ...graph.gatewayEnv, ...shared })]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    await graph?.stop();
  });

  describe('partners', () => {
    const partner = token('partner', { sub: 'partner-pq' });

    it("an ad-hoc query is refused with FORBIDDEN, even when it is a registered operation's text", async () => {
      for (const query of ['{ book(id: "1") { title } }', bookDetails.body]) {
        const answer = await post(first.url, { query, variables: { id: '1' } }, partner);
        expect(answer.status).toBe(403);
        expect(answer.body.errors[0].extensions.code).toBe('FORBIDDEN');
        expect(answer.body.errors[0].message).toMatch(/only registered operations/);
      }
    });

    it('a document sent with its hash (APQ registration) is refused too', async () => {
      const answer = await post(first.url, { query: bookDetails.body, variables: { id: '1' }, ...persisted(bookDetails.id) }, partner);
      expect(answer.status).toBe(403);
      expect(answer.body.errors[0].extensions.code).toBe('FORBIDDEN');
    });

    it('the same operation by its manifest id succeeds (sha256Hash, documentId, and over GET)', async () => {
      const expected = { data: { book: { id: '1', title: 'Book 1', authors: ['Author 0'], genre: 'Mystery', publicationYear: 1990, __typename: 'Book' } } };
      const byHash = await post(first.url, { variables: { id: '1' }, ...persisted(bookDetails.id) }, partner);
      expect(byHash.status).toBe(200);
      expect(byHash.body).toEqual(expected);
      const byDocumentId = await post(first.url, { documentId: `sha256:${bookDetails.id}`, variables: { id: '1' } }, partner);
      expect(byDocumentId.body).toEqual(expected);
      const search = new URLSearchParams({ variables: JSON.stringify({ id: '1' }), extensions: JSON.stringify(persisted(bookDetails.id).extensions) });
      const byGet = await fetch(`${first.url}?${search}`, { headers: { authorization: `Bearer ${partner}`, 'apollo-require-preflight': 'true' } });
      expect(byGet.status).toBe(200);
      expect(await byGet.json()).toEqual(expected);
    });

    it('an unknown id is refused with PERSISTED_QUERY_NOT_FOUND', async () => {
      const unknown = createHash('sha256').update('query Nope { models { name } }').digest('hex');
      const answer = await post(first.url, persisted(unknown), partner);
      expect(answer.status).toBe(404);
      expect(answer.body.errors[0]).toMatchObject({ message: `no registered operation has id "${unknown}"`, extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
      const noId = await post(first.url, { variables: {} }, partner);
      expect(noId.body.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    });
  });

  describe('staff and analysts', () => {
    it('may use the manifest ids', async () => {
      const answer = await post(first.url, { variables: { id: '2' }, ...persisted(bookDetails.id) }, token('analyst'));
      expect(answer.body.data.book.title).toBe('Book 2');
    });

    it('use APQ: a miss, a registration on one gateway, a hit on the other through Redis', async () => {
      const query = `query Titles { books(first: 2) { nodes { title } } } # ${Date.now()}`;
      const hash = createHash('sha256').update(query).digest('hex');
      const analyst = token('analyst');
      const miss = await post(second.url, persisted(hash), analyst);
      expect(miss.body.errors[0]).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
      const registered = await post(first.url, { query, ...persisted(hash) }, analyst);
      expect(registered.body.data.books.nodes).toEqual([{ title: 'Book 1' }, { title: 'Book 2' }]);
      const hit = await post(second.url, persisted(hash), analyst);
      expect(hit.body).toEqual(registered.body);
    });

    it('a document that does not validate is answered with its errors and not registered', async () => {
      const query = `query Broken { noSuchField } # ${Date.now()}`;
      const hash = createHash('sha256').update(query).digest('hex');
      const analyst = token('analyst');
      const attempt = await post(first.url, { query, ...persisted(hash) }, analyst);
      expect(attempt.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      const lookup = await post(second.url, persisted(hash), analyst);
      expect(lookup.body.errors[0]).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
    });

    it('a hash that does not match the document is refused', async () => {
      const answer = await post(first.url, { query: '{ models { name } }', ...persisted('0'.repeat(64)) }, token('staff'));
      expect(answer.status).toBe(400);
      expect(answer.body.errors[0].message).toBe('provided sha does not match query');
    });
  });
});
