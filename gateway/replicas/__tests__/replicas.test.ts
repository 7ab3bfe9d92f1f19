import { describe, expect, it } from '@jest/globals';
import type { FetcherRequestInit, FetcherResponse } from '@apollo/utils.fetcher';
import { loadConfig } from '../../../src/config';
import { balancingFetcher, replicaSet } from '..';

const ok = (url: string) => ({ url, status: 200 }) as unknown as FetcherResponse;
const failure = (code: string) => Object.assign(new Error(`connect ${code}`), { code });
const query: FetcherRequestInit = { method: 'POST', body: JSON.stringify({ query: 'query($representations:[_Any!]!){_entities(representations:$representations){__typename}}' }) };
const mutation: FetcherRequestInit = { method: 'POST', body: JSON.stringify({ query: 'mutation{checkOut(input:{eventId:"e"}){applied}}' }) };

describe('replicaSet', () => {
  it('takes turns over the replicas that are up, and over all of them when none is', () => {
    const set = replicaSet(['a', 'b', 'c']);
    expect([set.next(), set.next(), set.next(), set.next()]).toEqual(['a', 'b', 'c', 'a']);
    set.markDown('b');
    expect(new Set([set.next(), set.next(), set.next(), set.next()])).toEqual(new Set(['a', 'c']));
    set.markDown('a');
    set.markDown('c');
    expect(new Set([set.next(), set.next(), set.next()])).toEqual(new Set(['a', 'b', 'c']));
    set.markUp('b');
    expect([set.next(), set.next()]).toEqual(['b', 'b']);
  });

  it('refuses an empty list', () => {
    expect(() => replicaSet([])).toThrow('at least one URL');
  });
});

describe('balancingFetcher', () => {
  it('sends requests round-robin, whatever URL it is given', async () => {
    const sent: string[] = [];
    const fetch = balancingFetcher(replicaSet(['a', 'b']), async (url) => (sent.push(url), ok(url)));
    for (let i = 0; i < 4; i++) await fetch('ignored', query);
    expect(sent).toEqual(['a', 'b', 'a', 'b']);
  });

  it('sends a request on to the next replica when one refuses the connection, and keeps it down until it answers again', async () => {
    let aRefuses = true;
    const sent: string[] = [];
    const failovers: string[] = [];
    const replicas = replicaSet(['a', 'b']);
    const fetch = balancingFetcher(
      replicas,
      async (url) => {
        sent.push(url);
        if (url === 'a' && aRefuses) throw failure('ECONNREFUSED');
        return ok(url);
      },
      { onFailover: (from, code) => failovers.push(`${from} ${code}`) },
    );
    expect((await fetch('x', query)).url).toBe('b');
    expect(failovers).toEqual(['a ECONNREFUSED']);
    expect(replicas.isUp('a')).toBe(false);
    for (let i = 0; i < 3; i++) expect((await fetch('x', query)).url).toBe('b');
    aRefuses = false;
    replicas.markUp('a');
    expect(new Set([(await fetch('x', query)).url, (await fetch('x', query)).url])).toEqual(new Set(['a', 'b']));
    expect(sent.slice(0, 2)).toEqual(['a', 'b']);
  });

  it('resends a query whose connection was reset, but not a mutation, which the replica may have applied', async () => {
    const replicas = replicaSet(['a', 'b']);
    const fetch = balancingFetcher(replicas, async (url) => {
      if (url === 'a') throw failure('ECONNRESET');
      return ok(url);
    });
    expect((await fetch('x', query)).url).toBe('b');
    replicas.markUp('a');
    await expect(fetch('x', mutation)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('fails with the last error when every replica is unreachable, and passes other errors through untouched', async () => {
    const sent: string[] = [];
    const unreachable = balancingFetcher(replicaSet(['a', 'b']), async (url) => {
      sent.push(url);
      throw failure('ECONNREFUSED');
    });
    await expect(unreachable('x', query)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(sent.sort()).toEqual(['a', 'b']);
    const timeout = Object.assign(new Error('no answer within 3000 ms'), { name: 'TimeoutError' });
    const slow = balancingFetcher(replicaSet(['a', 'b']), async () => {
      throw timeout;
    });
    await expect(slow('x', query)).rejects.toBe(timeout);
  });
});

describe('<NAME>_URL with replicas', () => {
  it('reads a comma-separated list, one URL as a list of one, and refuses what is not an http URL or lists one twice', () => {
    const env = { SHELFMARK_ROOT: process.cwd() };
    expect(loadConfig({ ...env, RECOMMENDATIONS_URL: 'http://a:4004/graphql, http://b:4004/graphql' }).subgraphUrls.recommendations).toEqual(['http://a:4004/graphql', 'http://b:4004/graphql']);
    expect(loadConfig({ ...env, CHURN_URL: 'http://c:4003/graphql' }).subgraphUrls.churn).toEqual(['http://c:4003/graphql']);
    expect(loadConfig({ ...env, HOST: '127.0.0.1' }).subgraphUrls.demand).toEqual(['http://127.0.0.1:4006/graphql']);
    expect(() => loadConfig({ ...env, RECOMMENDATIONS_URL: 'http://a/graphql,recommendations:4004' })).toThrow('RECOMMENDATIONS_URL');
    expect(() => loadConfig({ ...env, RECOMMENDATIONS_URL: 'http://a/graphql,ftp://b/graphql' })).toThrow('only http and https');
    expect(() => loadConfig({ ...env, RECOMMENDATIONS_URL: 'http://a/graphql,http://a/graphql' })).toThrow('the same URL twice');
  });
});
