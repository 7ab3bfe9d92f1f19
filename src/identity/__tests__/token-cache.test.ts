import { afterEach, describe, expect, it, jest } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { INTERNAL_TTL_SECONDS, InternalTokenSigner, VerifiedTokens, verifiesUntilMs, verifyInternalIdentity } from '..';

const secret = 'internal-test-secret';
const analyst = { sub: 'ana', role: 'analyst' } as const;
const START = Date.UTC(2026, 11, 7, 2, 0, 0);

afterEach(() => {
  jest.useRealTimers();
});

describe('VerifiedTokens', () => {
  it('answers a remembered token until its moment, and not from then on', () => {
    let now = 1000;
    const tokens = new VerifiedTokens(10, () => now);
    tokens.remember('t', analyst, 5000);
    expect(tokens.get('t')).toEqual(analyst);
    now = 4999;
    expect(tokens.get('t')).toEqual(analyst);
    now = 5000;
    expect(tokens.get('t')).toBeUndefined();
    expect(tokens.size).toBe(0);
  });

  it('keeps at most maxEntries, dropping the oldest, and never one already expired', () => {
    const tokens = new VerifiedTokens(2, () => 0);
    tokens.remember('a', analyst, 10);
    tokens.remember('b', analyst, 10);
    tokens.remember('c', analyst, 10);
    expect([tokens.get('a'), tokens.get('b'), tokens.get('c')]).toEqual([undefined, analyst, analyst]);
    tokens.remember('d', analyst, 0);
    expect(tokens.get('d')).toBeUndefined();
  });

  it('takes the moment jsonwebtoken starts refusing: exp, or iat plus maxAge, plus the tolerance', () => {
    expect(verifiesUntilMs({ exp: 100, iat: 90 }, 2)).toBe(102_000);
    expect(verifiesUntilMs({ exp: 100, iat: 50 }, 2, 12)).toBe(64_000);
    expect(verifiesUntilMs({ exp: 100 }, 2, 12)).toBe(-Infinity);
  });
});

describe('internal identity tokens, remembered', () => {
  it('are answered from the cache while valid and refused once expired, as without the cache', () => {
    jest.useFakeTimers({ now: START });
    const verified = new VerifiedTokens();
    const token = new InternalTokenSigner(secret).tokenFor(analyst, 'churn');
    expect(verifyInternalIdentity(token, secret, 'churn', verified)).toEqual(analyst);
    expect(verified.size).toBe(1);
    jest.setSystemTime(START + (INTERNAL_TTL_SECONDS + 1) * 1000);
    expect(verifyInternalIdentity(token, secret, 'churn', verified)).toEqual(analyst);
    jest.setSystemTime(START + (INTERNAL_TTL_SECONDS + 3) * 1000);
    expect(() => verifyInternalIdentity(token, secret, 'churn', verified)).toThrow(/jwt expired/);
  });

  it('are remembered per subgraph: a token for another subgraph is still refused', () => {
    const verified = new VerifiedTokens();
    const token = new InternalTokenSigner(secret).tokenFor(analyst, 'churn');
    expect(verifyInternalIdentity(token, secret, 'churn', verified)).toEqual(analyst);
    expect(() => verifyInternalIdentity(token, secret, 'library', new VerifiedTokens())).toThrow(/jwt audience invalid/);
  });

  it('are not remembered when refused', () => {
    const verified = new VerifiedTokens();
    const forged = jwt.sign({ role: 'staff' }, 'another-secret', { algorithm: 'HS256', subject: 's', issuer: 'shelfmark-gateway', audience: 'shelfmark-subgraph:churn', expiresIn: 10 });
    expect(() => verifyInternalIdentity(forged, secret, 'churn', verified)).toThrow(/invalid signature/);
    expect(verified.size).toBe(0);
  });
});

describe('InternalTokenSigner', () => {
  it('sends the same token for the first half of its lifetime, then a fresh one', () => {
    let now = START;
    const signer = new InternalTokenSigner(secret, { maxEntries: 100, now: () => now });
    const first = signer.tokenFor(analyst, 'churn');
    expect(signer.tokenFor({ ...analyst }, 'churn')).toBe(first);
    expect(signer.tokenFor(analyst, 'overdue')).not.toBe(first);
    expect(signer.tokenFor({ sub: 'bob', role: 'analyst' }, 'churn')).not.toBe(first);
    now = START + (INTERNAL_TTL_SECONDS / 2) * 1000 - 1;
    expect(signer.tokenFor(analyst, 'churn')).toBe(first);
    now = START + (INTERNAL_TTL_SECONDS / 2) * 1000;
    const second = signer.tokenFor(analyst, 'churn');
    expect(second).not.toBe(first);
    expect((jwt.decode(second) as jwt.JwtPayload).iat).toBe(START / 1000 + INTERNAL_TTL_SECONDS / 2);
  });

  it('signs a fresh token for every request when the subgraph deadline is longer than a reused token would still verify', () => {
    let now = START;
    const signer = new InternalTokenSigner(secret, { maxEntries: 100, now: () => now, subgraphDeadlineMs: 30_000 });
    const first = signer.tokenFor(analyst, 'churn');
    now = START + 1000;
    const second = signer.tokenFor(analyst, 'churn');
    expect(second).not.toBe(first);
    expect((jwt.decode(second) as jwt.JwtPayload).iat).toBe(START / 1000 + 1);
  });

  it('reuses a token only while it still verifies for the deadline and a margin', () => {
    let now = START;
    // Verifies until START + 12 s; deadline 6 s + 2 s margin: reused until START + 4 s.
    const signer = new InternalTokenSigner(secret, { maxEntries: 100, now: () => now, subgraphDeadlineMs: 6000 });
    const first = signer.tokenFor(analyst, 'churn');
    now = START + 4000 - 1;
    expect(signer.tokenFor(analyst, 'churn')).toBe(first);
    now = START + 4000;
    expect(signer.tokenFor(analyst, 'churn')).not.toBe(first);
  });
});
