/** `npm run token` as a user runs it (the built command): a token the gateway accepts, refused in production. */
import { describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { loadConfig } from '../../src/config';
import { verifyClientToken } from '../../gateway/auth';
import { PROJECT_ROOT } from './helpers';

const command = path.join(PROJECT_ROOT, 'dist', 'src', 'cli', 'token.js');

describe('npm run token', () => {
  it('prints a development token with the role, subject and ttl asked for', () => {
    const printed = execFileSync(process.execPath, [command, '--role', 'partner', '--sub', 'acme', '--ttl', '15m'], { env: { ...process.env, NODE_ENV: 'development' } }).toString().trim();
    expect(verifyClientToken(printed, loadConfig({ NODE_ENV: 'development' }).jwt)).toEqual({ sub: 'acme', role: 'partner' });
    const payload = jwt.decode(printed) as jwt.JwtPayload;
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  it('refuses an unknown role with the usage', () => {
    const run = spawnSync(process.execPath, [command, '--role', 'admin'], { env: { ...process.env, NODE_ENV: 'development' } });
    expect(run.status).toBe(2);
    expect(run.stderr.toString()).toContain('--role must be one of staff, analyst, partner');
  });

  it('`npm run token --role staff` (no --) gets a hint: npm kept --role for itself', () => {
    // What npm hands the script in that case: the value as an argument, the flag as npm config.
    const run = spawnSync(process.execPath, [command, 'staff'], { env: { ...process.env, NODE_ENV: 'development', npm_config_role: 'true' } });
    expect(run.status).toBe(2);
    expect(run.stdout.toString()).toBe('');
    expect(run.stderr.toString()).toContain('npm took --role for itself: put -- between the script and its flags, e.g. npm run <script> -- --role <value>');
  });

  it('refuses with NODE_ENV=production, even when a secret is configured', () => {
    const run = spawnSync(process.execPath, [command, '--role', 'staff'], {
      env: { ...process.env, NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-some-length', INTERNAL_JWT_SECRET: 'another-production-secret' },
    });
    expect(run.status).toBe(2);
    expect(run.stdout.toString()).toBe('');
    expect(run.stderr.toString()).toContain('refusing to sign a development token with NODE_ENV=production');
  });
});
