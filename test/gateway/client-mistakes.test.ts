/**
 * A client's mistakes in choosing an operation are the client's: each is answered with a code
 * that names the mistake, never INTERNAL_SERVER_ERROR, and is logged below error level. The
 * status follows the GraphQL-over-HTTP media-type rule: 400 for a client that accepts
 * application/graphql-response+json, 200 for one that accepts only application/json.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, post, startGatewayProcess, startTestGraph, token, type GatewayProcess, type TestGraph } from './helpers';

const GRAPHQL_RESPONSE = 'application/graphql-response+json';
const JSON_ONLY = 'application/json';

interface Manifest {
  operations: { id: string; name: string }[];
}
const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'schema', 'persisted-queries.json'), 'utf8')) as Manifest;
const registered = manifest.operations.find((operation) => operation.name === 'MemberChurnRisk');

interface Mistake {
  name: string;
  role: 'analyst' | 'partner';
  body: Record<string, unknown>;
  code: string;
  message: RegExp;
}

const mistakes: Mistake[] = [
  {
    name: 'an operationName the document does not define',
    role: 'analyst',
    body: { query: 'query A { __typename }', operationName: 'B' },
    code: 'OPERATION_NOT_FOUND',
    message: /no operation named "B"/,
  },
  {
    name: 'two unnamed operations',
    role: 'analyst',
    body: { query: '{ __typename } { models { name } }' },
    code: 'OPERATION_NAME_REQUIRED',
    message: /operationName/,
  },
  {
    name: 'a subscription',
    role: 'analyst',
    body: { query: 'subscription { models { name } }' },
    code: 'OPERATION_TYPE_NOT_SUPPORTED',
    message: /subscription/,
  },
  {
    name: "a partner's manifest id with another operationName",
    role: 'partner',
    body: { documentId: registered?.id, operationName: 'MembersChurnRisk', variables: { id: '1' } },
    code: 'OPERATION_NOT_FOUND',
    message: /no operation named "MembersChurnRisk"; it defines "MemberChurnRisk"/,
  },
];

describe('client mistakes in choosing an operation', () => {
  let graph: TestGraph;
  let gateway: GatewayProcess;
  let logs = '';

  beforeAll(async () => {
    graph = await startTestGraph();
    // A gateway of our own at log level info, so the test can read the level of what it logs.
    gateway = await startGatewayProcess({ ...graph.gatewayEnv, LOG_LEVEL: 'info' });
    gateway.child.stderr?.on('data', (chunk: Buffer) => {
      logs += chunk.toString();
    });
    gateway.child.stdout?.on('data', (chunk: Buffer) => {
      logs += chunk.toString();
    });
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await graph?.stop();
  });

  it('the manifest holds the operation the partner case names', () => {
    expect(registered).toBeDefined();
  });

  describe.each([
    [GRAPHQL_RESPONSE, 400],
    [JSON_ONLY, 200],
  ])('accepting %s', (accept, status) => {
    it.each(mistakes)('$name answers $code', async ({ role, body, code, message }) => {
      const answer = await post(gateway.url, body, token(role), { accept });
      expect(answer.body.errors?.[0]?.extensions?.code).toBe(code);
      expect(answer.body.errors[0].message).toMatch(message);
      expect(answer.status).toBe(status);
      expect(answer.headers.get('content-type')).toContain(accept);
    });
  });

  it('a mutation is refused with a code that names it, whether or not the graph has mutations', async () => {
    const answer = await post(gateway.url, { query: 'mutation { noSuchMutation }' }, token('analyst'), { accept: GRAPHQL_RESPONSE });
    expect(answer.status).toBe(400);
    expect(['OPERATION_TYPE_NOT_SUPPORTED', 'GRAPHQL_VALIDATION_FAILED']).toContain(answer.body.errors[0].extensions.code);
  });

  it("a list larger than the field's documented maximum is refused with that maximum", async () => {
    const answer = await post(gateway.url, { query: '{ member(id: "1") { recommendations(first: 1000) { score } } }' }, token('analyst'));
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0]).toMatchObject({
      message: 'Member.recommendations(first: 1000) asks for more than 50 items, the most this field gives',
      extensions: { code: 'BAD_USER_INPUT', limit: 'listSize', allowed: 50, found: 1000 },
    });
  });

  it('none of these mistakes is logged at error level', async () => {
    for (const { role, body } of mistakes) await post(gateway.url, body, token(role), { accept: GRAPHQL_RESPONSE });
    const levels = logs
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => (JSON.parse(line) as { level: number }).level);
    expect(levels.filter((level) => level >= 50)).toEqual([]);
  });
});
