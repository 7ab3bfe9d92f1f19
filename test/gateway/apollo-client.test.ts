/**
 * A partner's Apollo Client 4, with its persisted-query link, against the real gateway: the id it
 * computes for each registered operation is the manifest's id, so the partner's first request
 * (the id alone) is answered, and the client never falls back to sending the document (which a
 * partner may not do).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { PROJECT_ROOT, startTestGraph, token, type TestGraph } from './helpers';

interface ManifestOperation {
  id: string;
  name: string;
  body: string;
}
const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'schema', 'persisted-queries.json'), 'utf8')) as { operations: ManifestOperation[] };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const VARIABLES: Record<string, Record<string, unknown>> = { BookDetails: { id: '1' }, MemberChurnRisk: { id: '1' }, MembersChurnRisk: { first: 3 } };

describe("a partner's Apollo Client 4 with persisted queries", () => {
  let graph: TestGraph;
  const sent: { hash?: string; query: boolean }[] = [];

  beforeAll(async () => {
    graph = await startTestGraph();
  }, 120_000);

  afterAll(async () => {
    await graph?.stop();
  });

  const partnerClient = () => {
    const record = new ApolloLink((operation, forward) => {
      const persisted = operation.extensions.persistedQuery as { sha256Hash?: string } | undefined;
      sent.push({ hash: persisted?.sha256Hash, query: operation.extensions.persistedQuery === undefined });
      return forward(operation);
    });
    const http = new HttpLink({ uri: graph.graph.gatewayUrl, headers: { authorization: `Bearer ${token('partner', { sub: 'apollo-client-partner' })}` } });
    return new ApolloClient({ cache: new InMemoryCache(), link: ApolloLink.from([new PersistedQueryLink({ sha256 }), record, http]) });
  };

  it.each(manifest.operations.map((operation) => [operation.name, operation] as const))('%s: the id it sends is the manifest id, and the gateway answers it', async (name, operation) => {
    sent.length = 0;
    const source = readFileSync(path.join(PROJECT_ROOT, 'schema', 'operations', `${name}.graphql`), 'utf8');
    // errorPolicy all: this test graph has no churn model, so churnRisk answers null with a field
    // error; what matters here is that the operation itself was found and run.
    const result = await partnerClient().query({ query: gql(source), variables: VARIABLES[name] ?? {}, fetchPolicy: 'no-cache', errorPolicy: 'all' });
    expect(result.data).toBeTruthy();
    for (const error of (result.error as { errors?: { extensions?: { code?: string } }[] } | undefined)?.errors ?? []) expect(error.extensions?.code).toBe('MODEL_UNAVAILABLE');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.hash).toBe(operation.id);
  });
});
