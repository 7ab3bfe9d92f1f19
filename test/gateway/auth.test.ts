/**
 * Who may ask what, against real gateway and subgraph processes over HTTP: every malformed or
 * misaddressed token is 401 UNAUTHENTICATED (HS256 and RS256 gateways), analysts get PII fields
 * as null with FORBIDDEN and the rest of the answer, and subgraphs refuse anyone but the gateway.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { startGatewayProcess, startTestGraph, token, post, type GatewayProcess, type TestGraph } from './helpers';

function base64url(value: object | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A JWT assembled by hand, for the forgeries jsonwebtoken refuses to sign. */
function handMade(header: object, payload: object, sign: (input: string) => string): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  return `${input}.${sign(input)}`;
}

const now = () => Math.floor(Date.now() / 1000);
const claims = (overrides: object = {}) => ({ role: 'staff', sub: 'forger', iss: 'shelfmark', aud: 'shelfmark-graph', iat: now(), exp: now() + 300, ...overrides });

describe('gateway authentication and authorization', () => {
  let graph: TestGraph;
  let rs256: GatewayProcess;
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const otherKeys = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });

  beforeAll(async () => {
    graph = await startTestGraph();
    rs256 = await startGatewayProcess({ ...graph.gatewayEnv, JWT_PUBLIC_KEY: keys.publicKey });
  }, 120_000);

  afterAll(async () => {
    await rs256?.stop();
    await graph?.stop();
  });

  const ask = (url: string, bearer?: string, headers?: Record<string, string>) => post(url, { query: '{ models { name } }' }, bearer, headers);

  describe('HS256 gateway (development secret)', () => {
    const cases: [string, () => string | undefined][] = [
      ['no token', () => undefined],
      ['expired', () => token('staff', { expiresIn: -60 })],
      ['signed with another secret', () => token('staff', { key: 'another-secret-of-sufficient-length' })],
      ['alg none', () => handMade({ alg: 'none', typ: 'JWT' }, claims(), () => '')],
      ['wrong issuer', () => token('staff', { issuer: 'someone-else' })],
      ['wrong audience', () => token('staff', { audience: 'another-api' })],
      ['missing sub', () => handMade({ alg: 'HS256', typ: 'JWT' }, claims({ sub: undefined }), (input) => createHmac('sha256', 'shelfmark-development-secret-not-for-production').update(input).digest('base64url'))],
      ['missing exp', () => handMade({ alg: 'HS256', typ: 'JWT' }, claims({ exp: undefined }), (input) => createHmac('sha256', 'shelfmark-development-secret-not-for-production').update(input).digest('base64url'))],
      ['unknown role', () => handMade({ alg: 'HS256', typ: 'JWT' }, claims({ role: 'admin' }), (input) => createHmac('sha256', 'shelfmark-development-secret-not-for-production').update(input).digest('base64url'))],
      ['not a JWT', () => 'not-a-token'],
    ];
    it.each(cases)('%s: 401 UNAUTHENTICATED', async (_name, make) => {
      const answer = await ask(graph.graph.gatewayUrl, make());
      expect(answer.status).toBe(401);
      expect(answer.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer realm="shelfmark"/);
    });

    it('a basic-auth header is refused with a message saying what is expected', async () => {
      const answer = await ask(graph.graph.gatewayUrl, undefined, { authorization: 'Basic dXNlcjpwYXNz' });
      expect(answer.status).toBe(401);
      expect(answer.body.errors[0]).toMatchObject({ message: 'Authorization header must be "Bearer <token>"', extensions: { code: 'UNAUTHENTICATED' } });
    });

    it('a valid token is answered', async () => {
      const answer = await ask(graph.graph.gatewayUrl, token('analyst'));
      expect(answer.status).toBe(200);
      expect(answer.body.data.models).toEqual(expect.any(Array));
    });
  });

  describe('RS256 gateway (public key from config)', () => {
    const cases: [string, () => string][] = [
      ['expired', () => token('staff', { key: keys.privateKey, algorithm: 'RS256', expiresIn: -60 })],
      ['signed with another key', () => token('staff', { key: otherKeys.privateKey, algorithm: 'RS256' })],
      ['alg none', () => handMade({ alg: 'none', typ: 'JWT' }, claims(), () => '')],
      ['HS256 signed with the RS256 public key', () => handMade({ alg: 'HS256', typ: 'JWT' }, claims(), (input) => createHmac('sha256', keys.publicKey).update(input).digest('base64url'))],
      ['wrong issuer', () => token('staff', { key: keys.privateKey, algorithm: 'RS256', issuer: 'someone-else' })],
      ['wrong audience', () => token('staff', { key: keys.privateKey, algorithm: 'RS256', audience: 'another-api' })],
      ['missing sub', () => handMade({ alg: 'RS256', typ: 'JWT' }, claims({ sub: undefined }), (input) => createSign('RSA-SHA256').update(input).sign(keys.privateKey).toString('base64url'))],
      ['an HS256 token with the development secret', () => token('staff')],
    ];
    it.each(cases)('%s: 401 UNAUTHENTICATED', async (_name, make) => {
      const answer = await ask(rs256.url, make());
      expect(answer.status).toBe(401);
      expect(answer.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    });

    it('a token signed with the configured private key is answered', async () => {
      const answer = await ask(rs256.url, token('staff', { key: keys.privateKey, algorithm: 'RS256' }));
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
    });
  });

  describe('PII is resolved only for staff', () => {
    const query = '{ member(id: "3") { id name email joinedAt branch { name } } }';

    it('an analyst gets name and email as null with FORBIDDEN on each, and the rest of the answer', async () => {
      const answer = await post(graph.graph.gatewayUrl, { query }, token('analyst'));
      expect(answer.status).toBe(200);
      expect(answer.body.data.member).toEqual({ id: '3', name: null, email: null, joinedAt: expect.any(String), branch: { name: 'Central' } });
      const forbidden = answer.body.errors.map((e: { path: string[]; extensions: { code: string } }) => [e.path.join('.'), e.extensions.code]).sort();
      expect(forbidden).toEqual([['member.email', 'FORBIDDEN'], ['member.name', 'FORBIDDEN']]);
    });

    it('staff get them', async () => {
      const answer = await post(graph.graph.gatewayUrl, { query }, token('staff'));
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data.member).toMatchObject({ name: 'Member 3', email: 'm3@example.org' });
    });
  });

  describe('subgraphs answer only the gateway', () => {
    const query = { query: '{ member(id: "3") { id email } }' };
    const headers = { 'content-type': 'application/json' };

    it('a direct call without the gateway identity is refused', async () => {
      const response = await fetch(graph.graph.subgraphUrls.library!, { method: 'POST', headers, body: JSON.stringify(query) });
      expect(response.status).toBe(401);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    });

    it('a bare or forged identity header is refused', async () => {
      for (const forged of [
        'staff',
        JSON.stringify({ role: 'staff', sub: 'x' }),
        handMade({ alg: 'HS256', typ: 'JWT' }, { role: 'staff', sub: 'x', iss: 'shelfmark-gateway', aud: 'shelfmark-subgraph', exp: now() + 60 }, (input) => createHmac('sha256', 'guessed-secret').update(input).digest('base64url')),
        token('staff'),
      ]) {
        const response = await fetch(graph.graph.subgraphUrls.library!, { method: 'POST', headers: { ...headers, 'x-shelfmark-identity': forged }, body: JSON.stringify(query) });
        expect(response.status).toBe(401);
      }
    });
  });
});
