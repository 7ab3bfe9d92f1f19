import { describe, expect, it } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { INTERNAL_TTL_SECONDS, signInternalIdentity, verifyInternalIdentity } from '..';

const secret = 'internal-test-secret';
const analyst = { sub: 'ana', role: 'analyst' } as const;

describe('internal identity tokens', () => {
  it('live seconds, not a minute', () => {
    const payload = jwt.decode(signInternalIdentity(analyst, secret, 'churn')) as jwt.JwtPayload;
    expect(payload.exp! - payload.iat!).toBe(INTERNAL_TTL_SECONDS);
    expect(INTERNAL_TTL_SECONDS).toBeLessThanOrEqual(15);
  });

  it('are accepted by the subgraph they are addressed to, and refused by any other', () => {
    const token = signInternalIdentity(analyst, secret, 'churn');
    expect(verifyInternalIdentity(token, secret, 'churn')).toEqual(analyst);
    expect(() => verifyInternalIdentity(token, secret, 'library')).toThrow(/jwt audience invalid/);
  });

  it('are refused once older than their lifetime, whatever exp they claim', () => {
    const old = jwt.sign({ role: 'staff', iat: Math.floor(Date.now() / 1000) - 60 }, secret, { algorithm: 'HS256', subject: 's', issuer: 'shelfmark-gateway', audience: 'shelfmark-subgraph:churn', expiresIn: 3600 });
    expect(() => verifyInternalIdentity(old, secret, 'churn')).toThrow(/maxAge exceeded/);
  });
});
