import { afterEach, describe, expect, it, jest } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../../../src/config';
import { VerifiedTokens } from '../../../src/identity';
import { AuthenticationError, bearerToken, signDevelopmentToken, verifyClientToken } from '..';

const config = loadConfig({ NODE_ENV: 'test' });

describe('bearerToken', () => {
  it('takes the token from "Bearer <token>" and refuses anything else with what it expected', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(() => bearerToken(undefined)).toThrow('missing Authorization header: send "Authorization: Bearer <token>"');
    expect(() => bearerToken('Token abc')).toThrow('Authorization header must be "Bearer <token>"');
  });
});

describe('verifyClientToken', () => {
  const sign = (payload: object, options: jwt.SignOptions = {}) =>
    jwt.sign(payload, config.jwt.signingKey!, { algorithm: 'HS256', issuer: config.jwt.issuer, audience: config.jwt.audience, expiresIn: 60, ...options });

  it('returns the identity of a valid token', () => {
    expect(verifyClientToken(sign({ role: 'analyst' }, { subject: 'ana' }), config.jwt)).toEqual({ sub: 'ana', role: 'analyst' });
  });

  it('accepts a token expired by less than the configured clock tolerance, and not more', () => {
    const now = Math.floor(Date.now() / 1000);
    const justExpired = jwt.sign({ role: 'staff', sub: 's', exp: now - 2, iss: config.jwt.issuer, aud: config.jwt.audience }, config.jwt.signingKey!);
    expect(verifyClientToken(justExpired, config.jwt).role).toBe('staff');
    const longExpired = jwt.sign({ role: 'staff', sub: 's', exp: now - config.jwt.clockToleranceSeconds - 5, iss: config.jwt.issuer, aud: config.jwt.audience }, config.jwt.signingKey!);
    expect(() => verifyClientToken(longExpired, config.jwt)).toThrow('invalid token: jwt expired');
  });

  it('refuses a token that expires further ahead than the maximum lifetime (a year-9999 exp)', () => {
    const forever = jwt.sign({ role: 'staff', sub: 's', exp: Math.floor(Date.UTC(9999, 0, 1) / 1000), iss: config.jwt.issuer, aud: config.jwt.audience }, config.jwt.signingKey!);
    expect(() => verifyClientToken(forever, config.jwt)).toThrow(/^invalid token: it expires in \d+ s; tokens may live at most 86400 s$/);
    expect(verifyClientToken(sign({ role: 'staff' }, { subject: 's', expiresIn: config.jwt.maxLifetimeSeconds }), config.jwt).role).toBe('staff');
  });

  it.each([
    ['no exp', () => jwt.sign({ role: 'staff', sub: 's', iss: config.jwt.issuer, aud: config.jwt.audience }, config.jwt.signingKey!), 'invalid token: exp is required'],
    ['no sub', () => sign({ role: 'staff' }), 'invalid token: sub is required'],
    ['an unknown role', () => sign({ role: 'root' }, { subject: 's' }), 'invalid token: role must be one of staff, analyst, partner, circulation'],
    ['the wrong issuer', () => sign({ role: 'staff' }, { subject: 's', issuer: 'elsewhere' }), 'invalid token: jwt issuer invalid. expected: shelfmark'],
    ['the wrong audience', () => sign({ role: 'staff' }, { subject: 's', audience: 'elsewhere' }), 'invalid token: jwt audience invalid. expected: shelfmark-graph'],
  ])('refuses a token with %s', (_case, make, message) => {
    expect(() => verifyClientToken(make(), config.jwt)).toThrow(new AuthenticationError(message));
  });
});

describe('verifyClientToken with remembered tokens', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('answers a verified token again until exp plus the clock tolerance, then refuses it', () => {
    const start = Date.UTC(2026, 11, 7, 2, 0, 0);
    jest.useFakeTimers({ now: start });
    const verified = new VerifiedTokens();
    const token = jwt.sign({ role: 'analyst' }, config.jwt.signingKey!, { algorithm: 'HS256', subject: 'ana', issuer: config.jwt.issuer, audience: config.jwt.audience, expiresIn: 60 });
    expect(verifyClientToken(token, config.jwt, verified)).toEqual({ sub: 'ana', role: 'analyst' });
    expect(verified.size).toBe(1);
    jest.setSystemTime(start + (60 + config.jwt.clockToleranceSeconds) * 1000 - 1);
    expect(verifyClientToken(token, config.jwt, verified)).toEqual({ sub: 'ana', role: 'analyst' });
    jest.setSystemTime(start + (60 + config.jwt.clockToleranceSeconds) * 1000);
    expect(() => verifyClientToken(token, config.jwt, verified)).toThrow(new AuthenticationError('invalid token: jwt expired'));
  });

  it('never remembers a refused token', () => {
    const verified = new VerifiedTokens();
    const wrongAudience = jwt.sign({ role: 'staff' }, config.jwt.signingKey!, { algorithm: 'HS256', subject: 's', issuer: config.jwt.issuer, audience: 'elsewhere', expiresIn: 60 });
    expect(() => verifyClientToken(wrongAudience, config.jwt, verified)).toThrow(AuthenticationError);
    expect(() => verifyClientToken(wrongAudience, config.jwt, verified)).toThrow(AuthenticationError);
    expect(verified.size).toBe(0);
  });
});

describe('signDevelopmentToken', () => {
  it('signs a token the gateway accepts, with the ttl asked for', () => {
    const token = signDevelopmentToken(config, { sub: 'dev', role: 'partner' }, '10m');
    const payload = jwt.decode(token) as jwt.JwtPayload;
    expect(payload.exp! - payload.iat!).toBe(600);
    expect(verifyClientToken(token, config.jwt)).toEqual({ sub: 'dev', role: 'partner' });
  });

  it('refuses with NODE_ENV=production', () => {
    const production = { ...config, isProduction: true };
    expect(() => signDevelopmentToken(production, { sub: 'dev', role: 'staff' })).toThrow('refusing to sign a development token with NODE_ENV=production');
  });
});
