import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { composeSupergraph } from '../src/composition';

describe('schema/supergraph.graphql', () => {
  it('is what composing the current subgraphs produces (run `npm run compose` when this fails)', async () => {
    const committed = readFileSync(path.join(__dirname, '..', 'schema', 'supergraph.graphql'), 'utf8');
    expect(await composeSupergraph()).toBe(committed);
  });

  it('names no gateway-specific address: only the default localhost subgraph URLs', () => {
    const committed = readFileSync(path.join(__dirname, '..', 'schema', 'supergraph.graphql'), 'utf8');
    const urls = [...committed.matchAll(/join__graph\(name: "[a-z]+", url: "([^"]+)"/g)].map((m) => m[1]);
    expect(urls.length).toBeGreaterThan(1);
    for (const url of urls) expect(url).toMatch(/^http:\/\/localhost:400\d\/graphql$/);
  });
});
