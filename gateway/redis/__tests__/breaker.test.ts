import { describe, expect, it } from '@jest/globals';
import { CircuitBreaker, type BreakerState } from '../breaker';

describe('CircuitBreaker', () => {
  it('opens after the configured consecutive failures, half-opens after the cooldown, and closes on a success', () => {
    let now = 0;
    const changes: BreakerState[] = [];
    const breaker = new CircuitBreaker({ failures: 3, cooldownMs: 1000, now: () => now, onChange: (s) => changes.push(s) });
    breaker.failed();
    breaker.succeeded();
    breaker.failed();
    breaker.failed();
    expect(breaker.allows()).toBe(true);
    breaker.failed();
    expect(breaker.allows()).toBe(false);
    now = 999;
    expect(breaker.state).toBe('open');
    now = 1000;
    expect(breaker.state).toBe('half-open');
    expect(breaker.allows()).toBe(false);
    breaker.failed();
    expect(breaker.state).toBe('open');
    now = 2000;
    expect(breaker.state).toBe('half-open');
    breaker.succeeded();
    expect(breaker.allows()).toBe(true);
    expect(changes).toEqual(['open', 'half-open', 'open', 'half-open', 'closed']);
  });
});
