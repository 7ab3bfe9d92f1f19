import { describe, expect, it } from '@jest/globals';
import { compareVersions, latestVersion, nextVersion, parseVersion } from '../semver';

describe('semver', () => {
  it('starts at 1.0.0, bumps minor for a retrain and major for a changed feature spec', () => {
    expect(nextVersion(undefined, false)).toBe('1.0.0');
    expect(nextVersion(undefined, true)).toBe('1.0.0');
    expect(nextVersion('1.4.2', false)).toBe('1.5.0');
    expect(nextVersion('1.4.2', true)).toBe('2.0.0');
  });

  it('orders versions numerically, not as text', () => {
    expect(compareVersions('1.10.0', '1.9.0')).toBeGreaterThan(0);
    expect(compareVersions('2.0.0', '10.0.0')).toBeLessThan(0);
    expect(latestVersion(['1.9.0', '1.10.0', '1.2.3'])).toBe('1.10.0');
    expect(latestVersion([])).toBeUndefined();
  });

  it('refuses what is not MAJOR.MINOR.PATCH', () => {
    for (const text of ['1.0', 'v1.0.0', '01.0.0', '1.0.0-beta', '../1.0.0']) {
      expect(() => parseVersion(text)).toThrow(`expected a version as MAJOR.MINOR.PATCH (e.g. 1.2.0), got "${text}"`);
    }
  });
});
