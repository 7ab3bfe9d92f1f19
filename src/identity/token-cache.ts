/**
 * Tokens already verified, by token string, each until the moment its verification would start
 * failing (its `exp`, or its maximum age, plus the clock tolerance). A client sends the same
 * bearer token with every request, and the gateway the same internal token for seconds, so a
 * token is verified once and then only looked up. Only tokens that passed every check are
 * kept; an entry past its moment is never answered and is dropped when asked for. At most
 * `maxEntries` are kept, the oldest dropped first.
 */
import type { Identity } from '.';

interface Verified {
  identity: Identity;
  /** Date.now() from which the token no longer verifies. */
  validUntilMs: number;
}

/** Drops the oldest entries of `map` (insertion order) until one more fits within `maxEntries`. */
export function makeRoom(map: Map<string, unknown>, maxEntries: number): void {
  for (const key of map.keys()) {
    if (map.size < maxEntries) return;
    map.delete(key);
  }
}

export class VerifiedTokens {
  private readonly entries = new Map<string, Verified>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The identity of `token` if it verified and has not expired since. */
  get(token: string): Identity | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    if (this.now() >= entry.validUntilMs) {
      this.entries.delete(token);
      return undefined;
    }
    return entry.identity;
  }

  /** Remembers a token that passed verification, valid until `validUntilMs`. */
  remember(token: string, identity: Identity, validUntilMs: number): void {
    if (validUntilMs <= this.now()) return;
    this.entries.delete(token);
    makeRoom(this.entries, this.maxEntries);
    this.entries.set(token, { identity, validUntilMs });
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * When jsonwebtoken's `verify` starts refusing a token: it refuses once the clock in whole
 * seconds reaches `exp + tolerance`, and with `maxAge` once it reaches `iat + maxAge + tolerance`.
 */
export function verifiesUntilMs(payload: { exp?: number; iat?: number }, toleranceSeconds: number, maxAgeSeconds?: number): number {
  const limits = [payload.exp === undefined ? Infinity : payload.exp + toleranceSeconds];
  if (maxAgeSeconds !== undefined) limits.push(payload.iat === undefined ? -Infinity : payload.iat + maxAgeSeconds + toleranceSeconds);
  return Math.min(...limits) * 1000;
}
