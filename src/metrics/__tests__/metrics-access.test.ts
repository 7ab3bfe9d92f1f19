import { describe, expect, it } from '@jest/globals';
import type { Request, Response } from 'express';
import { Registry } from 'prom-client';
import { metricsHandler, type MetricsAccess } from '..';

/** Calls the handler as express would, from `remoteAddress`, and answers the status it set. */
async function scrape(access: MetricsAccess, remoteAddress: string, authorization?: string): Promise<number> {
  let status = 200;
  const req = { headers: authorization ? { authorization } : {}, socket: { remoteAddress } } as unknown as Request;
  const res = {
    status(code: number) {
      status = code;
      return this;
    },
    type() {
      return this;
    },
    setHeader() {
      return this;
    },
    send() {
      return this;
    },
  } as unknown as Response;
  await metricsHandler(new Registry(), access)(req, res, () => undefined);
  return status;
}

describe('GET /metrics access', () => {
  it('with a token, asks every scrape for it', async () => {
    const access = { token: 'scrape-secret', loopbackOnlyWithoutToken: true };
    expect(await scrape(access, '10.0.0.5')).toBe(401);
    expect(await scrape(access, '127.0.0.1', 'Bearer wrong')).toBe(401);
    expect(await scrape(access, '10.0.0.5', 'Bearer scrape-secret')).toBe(200);
  });

  it('without a token in production, answers this machine only', async () => {
    const access = { token: undefined, loopbackOnlyWithoutToken: true };
    expect(await scrape(access, '10.0.0.5')).toBe(403);
    expect(await scrape(access, '127.0.0.1')).toBe(200);
    expect(await scrape(access, '::1')).toBe(200);
  });

  it('without a token in development, answers everyone', async () => {
    expect(await scrape({ token: undefined, loopbackOnlyWithoutToken: false }, '10.0.0.5')).toBe(200);
  });
});
