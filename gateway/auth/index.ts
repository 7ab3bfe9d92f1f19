/**
 * Client authentication: `Authorization: Bearer <JWT>`, verified with jsonwebtoken against the
 * configured key with the algorithm pinned (HS256 secret or RS256 public key), `exp` and `sub`
 * required, issuer and audience checked, a small configured clock tolerance.
 */
import jwt from 'jsonwebtoken';
import { ROLES, type Config, type Role } from '../../src/config';
import type { Identity } from '../../src/identity';

export class AuthenticationError extends Error {}

export function bearerToken(header: string | undefined): string {
  if (!header) throw new AuthenticationError('missing Authorization header: send "Authorization: Bearer <token>"');
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) throw new AuthenticationError('Authorization header must be "Bearer <token>"');
  return match[1]!;
}

export function verifyClientToken(token: string, jwtConfig: Config['jwt']): Identity {
  let payload: jwt.JwtPayload;
  try {
    const decoded = jwt.verify(token, jwtConfig.verifyKey, {
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
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new AuthenticationError('invalid token: sub is required');
  const role = payload.role as Role;
  if (!ROLES.includes(role)) throw new AuthenticationError(`invalid token: role must be one of ${ROLES.join(', ')}`);
  return { sub: payload.sub, role };
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
