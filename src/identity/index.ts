/**
 * Who is asking, as the gateway verified it, and how it travels to subgraphs.
 *
 * The gateway verifies the client's JWT, then signs a short-lived internal token with its own
 * secret for every subgraph request (header `x-shelfmark-identity`). Subgraphs verify that
 * token and nothing else: a bare role header from outside the gateway is never trusted. Each
 * token is addressed to one subgraph (its audience is `shelfmark-subgraph:<name>`) and lives
 * INTERNAL_TTL_SECONDS, so a token seen by one subgraph cannot be replayed to another, or later.
 * The gateway sends one subject's token to a subgraph again for the first half of its life
 * (InternalTokenSigner), and a subgraph remembers the tokens it verified until they expire
 * (VerifiedTokens), so neither side signs or verifies on every request.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ROLES, type Role } from '../config';
import { makeRoom, verifiesUntilMs, type VerifiedTokens } from './token-cache';

export { VerifiedTokens, verifiesUntilMs } from './token-cache';

export const IDENTITY_HEADER = 'x-shelfmark-identity';
const INTERNAL_ISSUER = 'shelfmark-gateway';
/** Long enough for one request's subgraph fetches (the gateway's subgraph deadline is seconds), no longer. */
export const INTERNAL_TTL_SECONDS = 10;
/** Clock skew allowed between the gateway and a subgraph. */
const INTERNAL_CLOCK_TOLERANCE_SECONDS = 2;

function internalAudience(subgraph: string): string {
  return `shelfmark-subgraph:${subgraph}`;
}

export interface Identity {
  sub: string;
  role: Role;
}

/** One string per subject (`role:sub`): the key of its limits, windows and cache entries. */
export function subjectOf(identity: Identity): string {
  return `${identity.role}:${identity.sub}`;
}

export function canSeePii(identity: Identity): boolean {
  return identity.role === 'staff';
}

const secretKeys = new Map<string, KeyObject>();

/**
 * The secret as a KeyObject, made once. Given a string, jsonwebtoken first tries to parse it as
 * a PEM key and falls back to a secret key after catching the failure, on every call: that
 * thrown-and-caught error was the largest single cost of a subgraph request.
 */
export function hmacKey(secret: string): KeyObject {
  let key = secretKeys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret));
    secretKeys.set(secret, key);
  }
  return key;
}

/** A token for `subgraph` only. */
export function signInternalIdentity(identity: Identity, secret: string, subgraph: string, issuedAt: number = Math.floor(Date.now() / 1000)): string {
  return jwt.sign({ role: identity.role, iat: issuedAt }, hmacKey(secret), {
    algorithm: 'HS256',
    subject: identity.sub,
    issuer: INTERNAL_ISSUER,
    audience: internalAudience(subgraph),
    expiresIn: INTERNAL_TTL_SECONDS,
  });
}

/** Time a token sent must still verify beyond the gateway's subgraph deadline (queueing before the subgraph reads it, clock steps). */
const INTERNAL_SEND_MARGIN_MS = 2000;

/**
 * The gateway's internal tokens, each signed once and sent again for the first half of its
 * lifetime: every later request of the same subject to the same subgraph carries the same
 * token (so the subgraph's VerifiedTokens finds it), and no token sent has less than half its
 * lifetime left for the request's subgraph fetches. A token is reused only while it will still
 * verify for the whole subgraph deadline (`subgraphDeadlineMs`) plus a margin: with a deadline
 * longer than that allows (SUBGRAPH_TIMEOUT_MS raised for a test or a slow batch), every request
 * gets a fresh token, as before tokens were reused, and a request that waits long in a busy
 * subgraph's queue is not refused for a token that aged while it waited. At most `maxEntries`
 * are kept.
 */
export class InternalTokenSigner {
  private readonly tokens = new Map<string, { token: string; reuseUntilMs: number }>();

  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly subgraphDeadlineMs: number;

  constructor(
    private readonly secret: string,
    { maxEntries = 10_000, now = Date.now, subgraphDeadlineMs = 3000 }: { maxEntries?: number; now?: () => number; subgraphDeadlineMs?: number } = {},
  ) {
    this.maxEntries = maxEntries;
    this.now = now;
    this.subgraphDeadlineMs = subgraphDeadlineMs;
  }

  tokenFor(identity: Identity, subgraph: string): string {
    const key = `${subgraph}\n${subjectOf(identity)}`;
    const now = this.now();
    const kept = this.tokens.get(key);
    if (kept && now < kept.reuseUntilMs) return kept.token;
    const issuedAt = Math.floor(now / 1000);
    const token = signInternalIdentity(identity, this.secret, subgraph, issuedAt);
    this.tokens.delete(key);
    makeRoom(this.tokens, this.maxEntries);
    const verifiesUntil = (issuedAt + INTERNAL_TTL_SECONDS + INTERNAL_CLOCK_TOLERANCE_SECONDS) * 1000;
    const reuseUntilMs = Math.min((issuedAt + INTERNAL_TTL_SECONDS / 2) * 1000, verifiesUntil - this.subgraphDeadlineMs - INTERNAL_SEND_MARGIN_MS);
    this.tokens.set(key, { token, reuseUntilMs });
    return token;
  }
}

export class IdentityError extends Error {}

const INTERNAL_MAX_AGE_SECONDS = INTERNAL_TTL_SECONDS + INTERNAL_CLOCK_TOLERANCE_SECONDS;

/** Throws IdentityError with a reason when the token is missing, forged, expired, malformed or addressed to another subgraph. */
export function verifyInternalIdentity(token: string | undefined, secret: string, subgraph: string, verified?: VerifiedTokens): Identity {
  if (!token) throw new IdentityError(`missing ${IDENTITY_HEADER}: subgraphs answer only requests relayed by the gateway`);
  const known = verified?.get(token);
  if (known) return known;
  let payload: jwt.JwtPayload;
  try {
    payload = jwt.verify(token, hmacKey(secret), {
      algorithms: ['HS256'],
      issuer: INTERNAL_ISSUER,
      audience: internalAudience(subgraph),
      clockTolerance: INTERNAL_CLOCK_TOLERANCE_SECONDS,
      maxAge: INTERNAL_MAX_AGE_SECONDS,
    }) as jwt.JwtPayload;
  } catch (error) {
    throw new IdentityError(`invalid ${IDENTITY_HEADER}: ${(error as Error).message}`);
  }
  const role = payload.role as Role;
  if (!payload.sub || !ROLES.includes(role)) throw new IdentityError(`invalid ${IDENTITY_HEADER}: no subject or unknown role`);
  const identity = { sub: payload.sub, role };
  verified?.remember(token, identity, verifiesUntilMs(payload, INTERNAL_CLOCK_TOLERANCE_SECONDS, INTERNAL_MAX_AGE_SECONDS));
  return identity;
}
