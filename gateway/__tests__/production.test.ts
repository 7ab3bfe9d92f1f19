import { describe, expect, it } from '@jest/globals';
import { DEVELOPMENT_INTERNAL_SECRET, DEVELOPMENT_JWT_SECRET, loadConfig } from '../../src/config';
import { startGateway } from '..';

describe('startGateway with NODE_ENV=production', () => {
  const production = { NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-some-length', INTERNAL_JWT_SECRET: 'an-internal-production-secret' };

  it('refuses the development JWT secret, even when it is set explicitly', async () => {
    await expect(startGateway(loadConfig({ ...production, JWT_SECRET: DEVELOPMENT_JWT_SECRET }), 0)).rejects.toThrow(
      'refusing to start with NODE_ENV=production and the development JWT secret: set JWT_SECRET or JWT_PUBLIC_KEY',
    );
  });

  it('refuses the development internal secret', async () => {
    await expect(startGateway(loadConfig({ ...production, INTERNAL_JWT_SECRET: DEVELOPMENT_INTERNAL_SECRET }), 0)).rejects.toThrow(
      'refusing to start with NODE_ENV=production and the development INTERNAL_JWT_SECRET',
    );
  });

  it('cannot even be configured without secrets', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow('NODE_ENV=production needs JWT_SECRET or JWT_PUBLIC_KEY');
  });
});
