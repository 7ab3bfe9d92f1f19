import { describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { armRoot, armSettings } from '../../bench/prediction-log-arms';

describe('the prediction-log bench arms', () => {
  it('gives each arm its environment, settings included', () => {
    expect(armSettings('off')).toEqual({ PREDICTION_LOG: 'off' });
    expect(armSettings('on:PREDICTION_LOG_BATCH_SIZE=2000:MONITOR_INTERVAL_MS=0')).toEqual({ PREDICTION_LOG: 'on', PREDICTION_LOG_BATCH_SIZE: '2000', MONITOR_INTERVAL_MS: '0' });
  });

  it('runs an arm ending in @DIR from that build, the others from the root', () => {
    expect(armSettings('on:MONITOR_INTERVAL_MS=0@/tmp/before')).toEqual({ PREDICTION_LOG: 'on', MONITOR_INTERVAL_MS: '0' });
    expect(armRoot('on:MONITOR_INTERVAL_MS=0@/tmp/before', '/root')).toBe('/tmp/before');
    expect(armRoot('on@before', '/root')).toBe(path.resolve('before'));
    expect(armRoot('off', '/root')).toBe('/root');
  });

  it('refuses a name of another shape, saying why', () => {
    expect(() => armSettings('maybe')).toThrow('an arm is off, on or on:NAME=VALUE..., optionally followed by @DIR, got "maybe"');
    expect(() => armSettings('on@')).toThrow('got "on@"');
    expect(() => armSettings('on:BATCH')).toThrow(`an arm's setting is NAME=VALUE, got "BATCH"`);
  });
});
