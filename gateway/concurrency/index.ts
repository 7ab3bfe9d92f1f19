/**
 * A cap on the requests one subject (role and subject) has in flight on this gateway. A request
 * beyond it is refused at once with 429 RATE_LIMITED (`limit: "concurrency"`, Retry-After 1)
 * rather than queued, so one client running many expensive operations side by side cannot take
 * the graph's capacity from everyone else. The count is per gateway: N gateways allow N times
 * the cap.
 */
import type { RequestHandler } from 'express';
import { ErrorCode } from '../../src/errors';
import { subjectOf, type Identity } from '../../src/identity';
import { identityOf } from '../auth';
import { sendError } from '../errors';
import { limitDetails } from '../limits';

export interface ConcurrencyOptions {
  maxPerSubject: number;
  onRefused?: (identity: Identity) => void;
}

/** Express middleware; runs after `authenticate`. A slot is freed when the answer is sent or the client goes away. */
export function concurrencyLimit({ maxPerSubject, onRefused }: ConcurrencyOptions): RequestHandler {
  const inFlight = new Map<string, number>();
  return (_req, res, next) => {
    const identity = identityOf(res.locals);
    const subject = subjectOf(identity);
    const current = inFlight.get(subject) ?? 0;
    if (current >= maxPerSubject) {
      onRefused?.(identity);
      res.setHeader('Retry-After', '1');
      sendError(res, 429, ErrorCode.RATE_LIMITED, `${identity.role} "${identity.sub}" already has ${current} requests in flight; at most ${maxPerSubject} are allowed at once`, {
        ...limitDetails('concurrency', maxPerSubject, current + 1),
        retryAfterSeconds: 1,
      });
      return;
    }
    inFlight.set(subject, current + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (inFlight.get(subject) ?? 1) - 1;
      if (left <= 0) inFlight.delete(subject);
      else inFlight.set(subject, left);
    };
    res.once('finish', release);
    res.once('close', release);
    next();
  };
}
