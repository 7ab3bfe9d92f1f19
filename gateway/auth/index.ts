/**
 * Client authentication: `Authorization: Bearer <JWT>`, verified with jsonwebtoken against the
 * configured key with the algorithm pinned (HS256 secret or RS256 public key), `exp` and `sub`
 * required, issuer and audience checked, a small configured clock tolerance, and a maximum
 * lifetime: a token whose `exp` lies further ahead than `JWT_MAX_LIFETIME_SECONDS` is refused, so
 * a leaked token with a year-9999 expiry is not valid forever. A token that passed is remembered
 * by its string until it expires, so a client's next requests are not verified again.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { RequestHandler } from 'express';
import jwt from 'jsonwebtoken';
import { ROLES, type Config, type Role } from '../../src/config';
import { ErrorCode } from '../../src/errors';
import { hmacKey, VerifiedTokens, verifiesUntilMs, type Identity } from '../../src/identity';
import { sendError } from '../errors';

export class AuthenticationError extends Error {}

export function bearerToken(header: string | undefined): string {
  if (!header) throw new AuthenticationError('missing Authorization header: send "Authorization: Bearer <token>"');
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) throw new AuthenticationError('Authorization header must be "Bearer <token>"');
  return match[1]!;
}

/** The verification key as a KeyObject, parsed once (jsonwebtoken would parse a string on every call). */
const verifyKeys = new Map<string, KeyObject>();
function verifyKeyOf(jwtConfig: Config['jwt']): KeyObject {
  let key = verifyKeys.get(jwtConfig.verifyKey);
  if (!key) {
    key = jwtConfig.algorithm === 'HS256' ? hmacKey(jwtConfig.verifyKey) : createPublicKey(jwtConfig.verifyKey);
    verifyKeys.set(jwtConfig.verifyKey, key);
  }
  return key;
}

/**
 * The identity of a valid client token; with `verified`, a token verified before is only looked
 * up until the moment its verification would fail (exp plus the clock tolerance), and a newly
 * verified one is remembered.
 */
export function verifyClientToken(token: string, jwtConfig: Config['jwt'], verified?: VerifiedTokens): Identity {
  const known = verified?.get(token);
  if (known) return known;
  let payload: jwt.JwtPayload;
  try {
    const decoded = jwt.verify(token, verifyKeyOf(jwtConfig), {
      algorithms: [jwtConfig.algorithm],
      issuer: jwtConfig.issuer,
      audience: jwtConfig.audience,
      clockTolerance: jwtConfig.clockToleranceSeconds,
    });
    if (typeof decoded === 'string') throw new AuthenticationError('token payload must be a JSON object');
    payload = decoded;
  } catch (error) {
    if (error instanceof AuthenticationError) throw error;
    throw new AuthenticationError(`invalid token: ${(error as Error).message}`);
  }
  if (typeof payload.exp !== 'number') throw new AuthenticationError('invalid token: exp is required');
  const lifetime = payload.exp - Math.floor(Date.now() / 1000);
  if (lifetime > jwtConfig.maxLifetimeSeconds + jwtConfig.clockToleranceSeconds) {
    throw new AuthenticationError(`invalid token: it expires in ${lifetime} s; tokens may live at most ${jwtConfig.maxLifetimeSeconds} s`);
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new AuthenticationError('invalid token: sub is required');
  const role = payload.role as Role;
  if (!ROLES.includes(role)) throw new AuthenticationError(`invalid token: role must be one of ${ROLES.join(', ')}`);
  const identity = { sub: payload.sub, role };
  verified?.remember(token, identity, verifiesUntilMs(payload, jwtConfig.clockToleranceSeconds));
  return identity;
}

/** A development token; refused in production, where tokens come from the identity provider. */
export function signDevelopmentToken(config: Config, identity: Identity, ttl: string | number = '1h'): string {
  if (config.isProduction) throw new Error('refusing to sign a development token with NODE_ENV=production');
  if (!config.jwt.signingKey) throw new Error('no signing key configured (JWT_SECRET, or JWT_PRIVATE_KEY with JWT_PUBLIC_KEY)');
  return jwt.sign({ role: identity.role }, config.jwt.signingKey, {
    algorithm: config.jwt.algorithm,
    subject: identity.sub,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    expiresIn: ttl as jwt.SignOptions['expiresIn'],
  });
}

/** The identity `authenticate` verified, kept on `res.locals` for the middleware after it. */
export function identityOf(locals: Record<string, unknown>): Identity {
  const identity = locals.identity as Identity | undefined;
  if (!identity) throw new Error('no verified identity on this request: authenticate() must run first');
  return identity;
}

export interface AuthenticateOptions {
  jwt: Config['jwt'];
  /** Fires for every refused token, with the reason (for the log and the metrics). */
  onRefused?: (reason: string) => void;
}

/**
 * Express middleware: verifies the bearer token before anything else reads the request (the body
 * is not even parsed for a stranger), and answers 401 UNAUTHENTICATED with a `WWW-Authenticate`
 * challenge when it is missing or invalid.
 */
export function authenticate({ jwt: jwtConfig, onRefused }: AuthenticateOptions): RequestHandler {
  const verified = new VerifiedTokens();
  return (req, res, next) => {
    try {
      res.locals.identity = verifyClientToken(bearerToken(req.headers.authorization), jwtConfig, verified);
      next();
    } catch (error) {
      if (!(error instanceof AuthenticationError)) {
        next(error);
        return;
      }
      onRefused?.(error.message);
      // RFC 6750: a request with no credentials gets the bare challenge, a bad token the error.
      res.setHeader('WWW-Authenticate', req.headers.authorization ? 'Bearer realm="shelfmark", error="invalid_token"' : 'Bearer realm="shelfmark"');
      sendError(res, 401, ErrorCode.UNAUTHENTICATED, error.message);
    }
  };
}
