/**
 * Query limits over HTTP against a real gateway process: each hostile input is refused with a
 * clear code before it costs anything, the gateway's memory stays steady across 100 of them,
 * and ordinary work (including GraphiQL's introspection) still passes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getIntrospectionQuery } from 'graphql';
import { metric, startTestGraph, token, post, type TestGraph } from './helpers';

const aliases1000 = `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
/** member → loans → member → loans ... 30 fields deep. */
const depth30 = (() => {
  let inner = 'id';
  for (let level = 29; level >= 1; level--) inner = level % 2 === 1 ? `loans { ${inner} }` : `member { ${inner} }`;
  return `{ member(id: "1") { ${inner} } }`;
})();
const oneMegabyte = `{ models { name } }${' '.repeat(1024 * 1024)}`;
const batch50 = Array.from({ length: 50 }, () => ({ query: '{ models { name } }' }));

interface RefusedCase {
  name: string;
  send: (url: string, bearer: string) => ReturnType<typeof post>;
  status: number;
  code: string;
  message: RegExp;
}

const refusedCases: RefusedCase[] = [
  { name: 'a 1,000-alias query', send: (url, t) => post(url, { query: aliases1000 }, t), status: 400, code: 'QUERY_TOO_COMPLEX', message: /uses 1000 aliases; at most 30 are allowed/ },
  { name: 'a depth-30 query', send: (url, t) => post(url, { query: depth30 }, t), status: 400, code: 'QUERY_TOO_COMPLEX', message: /query depth 31 exceeds the maximum of 12/ },
  { name: 'a 1 MB document', send: (url, t) => post(url, { query: oneMegabyte }, t), status: 413, code: 'PAYLOAD_TOO_LARGE', message: /request body larger than 262144 bytes/ },
  { name: 'a 50-operation HTTP batch', send: (url, t) => post(url, batch50, t), status: 400, code: 'BATCH_TOO_LARGE', message: /at most 10 operations; this one holds 50/ },
];

describe('query limits', () => {
  let graph: TestGraph;
  let url: string;
  let origin: string;
  const analyst = token('analyst', { sub: 'limits-analyst' });

  beforeAll(async () => {
    graph = await startTestGraph();
    url = graph.graph.gatewayUrl;
    origin = new URL(url).origin;
  }, 120_000);

  afterAll(async () => {
    await graph?.stop();
  });

  it.each(refusedCases)('$name is refused with $code', async ({ send, status, code, message }) => {
    const answer = await send(url, analyst);
    expect(answer.status).toBe(status);
    expect(answer.body.errors).toHaveLength(1);
    expect(answer.body.errors[0].extensions.code).toBe(code);
    expect(answer.body.errors[0].message).toMatch(message);
  });

  it('more limits: too many tokens, a document over 64 KB, first above 500, a huge estimated answer', async () => {
    const tokens = await post(url, { query: `{ ${'a '.repeat(10_001)}}` }, analyst);
    expect(tokens.status).toBe(400);
    expect(tokens.body.errors[0]).toMatchObject({ message: 'GraphQL document has more than 10000 tokens', extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'tokens' } });

    const document = await post(url, { query: `{ models { name } } #${'x'.repeat(70_000)}` }, analyst);
    expect(document.status).toBe(413);
    expect(document.body.errors[0].extensions).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', limit: 'documentBytes' });

    const listSize = await post(url, { query: 'query Big($n: Int) { members(first: $n) { nodes { id } } }', variables: { n: 5000 } }, analyst);
    expect(listSize.status).toBe(400);
    expect(listSize.body.errors[0]).toMatchObject({ message: 'Query.members(first: 5000) asks for more than 500 items', extensions: { code: 'BAD_USER_INPUT', limit: 'listSize' } });

    const fanOut = await post(url, { query: '{ members(first: 500) { nodes { loans(first: 500) { book { title } } } } }' }, analyst);
    expect(fanOut.status).toBe(400);
    expect(fanOut.body.errors[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'estimatedNodes' });
  });

  it('ordinary work passes: a page of members, a batch of 3, and the standard introspection query', async () => {
    const page = await post(url, { query: '{ members(first: 5) { totalCount nodes { id loans(first: 2) { book { title } } } } }' }, analyst);
    expect(page.status).toBe(200);
    expect(page.body.data.members.nodes).toHaveLength(5);
    const batch = await post(url, batch50.slice(0, 3), analyst);
    expect(batch.status).toBe(200);
    expect(batch.body).toHaveLength(3);
    const introspection = await post(url, { query: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true }) }, analyst);
    expect(introspection.body.errors).toBeUndefined();
    expect(introspection.status).toBe(200);
    expect(introspection.body.data.__schema.queryType.name).toBe('Query');
  });

  it('CSRF prevention: a GET without a preflight-forcing header is refused', async () => {
    const response = await fetch(`${url}?query=${encodeURIComponent('{ models { name } }')}`, { headers: { authorization: `Bearer ${analyst}` } });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/CSRF/);
  });

  it('a request that is not JSON is refused as BAD_USER_INPUT', async () => {
    const answer = await post(url, '{"query": ', analyst);
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it("the gateway's memory stays steady across 100 refused requests", async () => {
    const memory = async () => ({ rss: await metric(origin, 'process_resident_memory_bytes'), heap: await metric(origin, 'nodejs_heap_size_used_bytes') });
    // A first round warms the code paths, so the measurement sees only what requests leave behind.
    for (const { send } of refusedCases) await send(url, analyst);
    const before = await memory();
    for (let round = 0; round < 25; round++) {
      for (const { send, status } of refusedCases) expect((await send(url, analyst)).status).toBe(status);
    }
    const after = await memory();
    const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    process.stderr.write(`gateway memory across 100 refused requests: RSS ${mb(before.rss)} → ${mb(after.rss)} MB, heap used ${mb(before.heap)} → ${mb(after.heap)} MB\n`);
    expect(after.rss - before.rss).toBeLessThan(40 * 1024 * 1024);
    expect(after.heap - before.heap).toBeLessThan(25 * 1024 * 1024);
    expect(await metric(origin, 'gateway_limit_refusals_total', { limit: 'aliases' })).toBeGreaterThanOrEqual(26);
    expect(await metric(origin, 'gateway_limit_refusals_total', { limit: 'bodyBytes' })).toBeGreaterThanOrEqual(26);
  }, 120_000);
});
