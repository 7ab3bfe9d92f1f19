/**
 * Why one circulation event was refused. Every refusal changes nothing; the reason is
 * machine-readable (`reason`) and the message says what was expected and what arrived.
 */
import { ErrorCode } from '../errors';

export const REFUSAL_REASONS = [
  'MALFORMED',
  'UNKNOWN_MEMBER',
  'UNKNOWN_BOOK',
  'UNKNOWN_BRANCH',
  'UNKNOWN_LOAN',
  'MEMBER_EXISTS',
  'LOAN_ALREADY_RETURNED',
  'BEFORE_CLOCK',
  'EVENT_CONFLICT',
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export class CirculationError extends Error {
  constructor(readonly reason: RefusalReason, message: string, readonly eventId?: string) {
    super(message);
    this.name = 'CirculationError';
  }

  /** EVENT_CONFLICT for a reused id, BAD_USER_INPUT for everything else. */
  get code(): ErrorCode.EVENT_CONFLICT | ErrorCode.BAD_USER_INPUT {
    return this.reason === 'EVENT_CONFLICT' ? ErrorCode.EVENT_CONFLICT : ErrorCode.BAD_USER_INPUT;
  }
}

export function malformed(message: string, eventId?: string): CirculationError {
  return new CirculationError('MALFORMED', message, eventId);
}
