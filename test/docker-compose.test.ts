import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { SUBGRAPH_NAMES } from '../src/config';

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.join(__dirname, '..', 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { build?: string; command?: string[]; environment?: Record<string, string> }>;
  };

  it('runs every subgraph, the gateway and Redis from the project image', () => {
    for (const name of [...SUBGRAPH_NAMES, 'gateway']) {
      expect(compose.services[name]?.build).toBe('.');
      expect(compose.services[name]?.environment?.REDIS_URL).toBe('redis://redis:6379');
    }
    expect(compose.services.redis).toBeDefined();
    expect(compose.services.library?.command).toEqual(['node', 'dist/src/cli/subgraph.js', 'library', '--port', '4001']);
  });

  it('points the gateway at every subgraph by service name', () => {
    const env = compose.services.gateway!.environment!;
    for (const name of SUBGRAPH_NAMES) expect(env[`${name.toUpperCase()}_URL`]).toMatch(new RegExp(`^http://${name}:\\d+/graphql$`));
  });
});
