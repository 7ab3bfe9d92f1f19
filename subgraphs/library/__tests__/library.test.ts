import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApolloServer } from '@apollo/server';
import { tinyLibrary, type CountingStore } from '../../../test/fixtures/tiny-library';
import type { Identity } from '../../../src/identity';
import { buildLibrarySchema, createLibraryContext, type LibraryContext } from '..';

let fixture: CountingStore;
let server: ApolloServer<LibraryContext>;

async function run(query: string, variables: Record<string, unknown> = {}, identity: Identity = { sub: 't', role: 'staff' }) {
  const response = await server.executeOperation(
    { query, variables },
    { contextValue: createLibraryContext(fixture.store, '/nonexistent', identity) },
  );
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  return response.body.singleResult;
}

beforeAll(async () => {
  fixture = await tinyLibrary();
  server = new ApolloServer<LibraryContext>({ schema: await buildLibrarySchema() });
  await server.start();
});
afterAll(async () => {
  await server.stop();
  await fixture.store.close();
});

describe('library subgraph', () => {
  it('resolves N member representations in one _entities call with one query per table', async () => {
    const representations = Array.from({ length: 50 }, (_, i) => ({ __typename: 'Member', id: String(i + 1) }));
    fixture.reset();
    const result = await run(
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id joinedAt branch { name } loans { id book { title } } } } }`,
      { r: representations },
    );
    expect(result.errors).toBeUndefined();
    const entities = (result.data as { _entities: { id: string; loans: unknown[] }[] })._entities;
    expect(entities.map((e) => e.id)).toEqual(representations.map((r) => r.id));
    expect(entities.every((e) => e.loans.length === 2)).toBe(true);
    // meta: the library clock, read once per request for the loans' status.
    expect(Object.fromEntries(fixture.counts)).toEqual({ members: 1, branches: 1, loans: 1, books: 1, meta: 1 });
  });

  it('answers null for unknown or malformed ids without an error', async () => {
    fixture.reset();
    const result = await run(`query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id } } }`, {
      r: [{ __typename: 'Member', id: '999999' }, { __typename: 'Member', id: 'abc' }, { __typename: 'Member', id: '3' }],
    });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ _entities: [null, null, { id: '3' }] });
    expect(fixture.counts.get('members')).toBe(1);
  });

  it('pages members with a cursor and counts them all', async () => {
    const first = await run(`{ members(first: 25) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }`);
    const page = (first.data as { members: { totalCount: number; pageInfo: { endCursor: string; hasNextPage: boolean }; nodes: { id: string }[] } }).members;
    expect(page.totalCount).toBe(60);
    expect(page.nodes).toHaveLength(25);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = await run(`query($after: String) { members(first: 50, after: $after) { pageInfo { hasNextPage } nodes { id } } }`, { after: page.pageInfo.endCursor });
    const rest = (next.data as { members: { pageInfo: { hasNextPage: boolean }; nodes: { id: string }[] } }).members;
    expect(rest.nodes[0]!.id).toBe('26');
    expect(rest.nodes).toHaveLength(35);
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });

  it('refuses a page above the maximum with BAD_USER_INPUT', async () => {
    const result = await run(`{ members(first: 501) { totalCount } }`);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toBe('members: first must be between 0 and 500, got 501');
  });

  it('hides PII from analysts with FORBIDDEN on the field and keeps the rest', async () => {
    const result = await run(`{ member(id: "2") { id name email branch { name } } }`, {}, { sub: 'a', role: 'analyst' });
    expect(result.data).toEqual({ member: { id: '2', name: null, email: null, branch: { name: 'Riverside' } } });
    expect(result.errors?.map((e) => [e.path?.join('.'), e.extensions?.code])).toEqual([
      ['member.name', 'FORBIDDEN'],
      ['member.email', 'FORBIDDEN'],
    ]);
    const staff = await run(`{ member(id: "2") { name email } }`);
    expect(staff.data).toEqual({ member: { name: 'Member 2', email: 'm2@example.org' } });
  });

  it('filters a member loans by status as of the system date', async () => {
    const result = await run(`{ member(id: "1") { open: loans(status: OPEN) { id } returned: loans(status: RETURNED) { id } overdue: loans(status: OVERDUE) { id } } }`);
    expect(result.data).toEqual({ member: { open: [{ id: '61' }], returned: [{ id: '1' }], overdue: [] } });
  });
});
