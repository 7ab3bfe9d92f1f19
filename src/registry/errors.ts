/**
 * The registry refuses with a `RegistryError` whose `reason` says what kind of refusal it is, so
 * the command line can choose an exit code and callers can tell "not found" from "validation
 * failed" without parsing messages.
 */
import type { ValidationReport } from './types';

export type RegistryErrorReason =
  | 'not-found'
  | 'invalid-input'
  | 'invalid-state'
  | 'validation-failed'
  | 'locked'
  | 'corrupt';

export class RegistryError extends Error {
  constructor(
    readonly reason: RegistryErrorReason,
    message: string,
    /** Set when `reason` is 'validation-failed'. */
    readonly report?: ValidationReport,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}
