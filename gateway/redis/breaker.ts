/**
 * A circuit breaker in front of Redis. Closed: commands go to Redis, and `failures` consecutive
 * failures or timeouts open it. Open: `allows()` is false, so callers use their fallbacks at
 * once instead of each waiting out the command deadline on a Redis that hangs. After
 * `cooldownMs` it is half-open: the owner sends one probe, and its answer closes the breaker
 * or opens it for another cooldown. Requests never probe, so a hung Redis costs a request at
 * most the deadlines of the first `failures` commands.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failures: number;
  cooldownMs: number;
  now?: () => number;
  /** Fires on every change of state. */
  onChange?: (state: BreakerState) => void;
}

export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openedAt = 0;
  private current: BreakerState = 'closed';
  private readonly now: () => number;

  constructor(private readonly options: BreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.options.cooldownMs) this.change('half-open');
    return this.current;
  }

  /** True while commands may go to Redis. */
  allows(): boolean {
    return this.state === 'closed';
  }

  succeeded(): void {
    this.consecutiveFailures = 0;
    if (this.current !== 'closed') this.change('closed');
  }

  failed(): void {
    this.consecutiveFailures += 1;
    if (this.current === 'half-open' || (this.current === 'closed' && this.consecutiveFailures >= this.options.failures)) {
      this.openedAt = this.now();
      this.change('open');
    }
  }

  private change(state: BreakerState): void {
    this.current = state;
    this.options.onChange?.(state);
  }
}
