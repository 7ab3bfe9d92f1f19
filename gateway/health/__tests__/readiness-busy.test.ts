/**
 * A ready subgraph that misses a readiness check's deadline is busy, not gone: it stays ready
 * for up to BUSY_ROUNDS missed checks in a row. One that answers "not ready" or refuses the
 * connection is not ready from that round on, and one that never answered ready is not made
 * ready by staying silent.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BUSY_ROUNDS, readinessMonitor, type Readiness } from '..';

type Mode = 'ready' | 'slow' | 'unready';

describe('readiness of a busy subgraph', () => {
  let server: http.Server;
  let mode: Mode;
  let url: string;
  let readiness: Readiness;
  const held: http.ServerResponse[] = [];

  beforeEach(async () => {
    mode = 'ready';
    server = http.createServer((_req, res) => {
      if (mode === 'slow') held.push(res); // answered after the check's deadline, in afterEach
      else res.writeHead(mode === 'ready' ? 200 : 503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
    readiness = readinessMonitor({ subgraphs: { churn: [url] }, intervalMs: 600_000, timeoutMs: 100 });
  });

  afterEach(async () => {
    readiness.stop();
    for (const res of held.splice(0)) res.end();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Runs `rounds` checks with the subgraph in `as`, and says whether the gateway was ready after each. */
  async function roundsAs(as: Mode, rounds: number): Promise<boolean[]> {
    mode = as;
    const seen: boolean[] = [];
    for (let r = 0; r < rounds; r += 1) {
      await readiness.check();
      seen.push(readiness.current().ready);
    }
    return seen;
  }

  it(`stays ready through ${BUSY_ROUNDS - 1} missed deadlines in a row, and is not ready once it has missed ${BUSY_ROUNDS}`, async () => {
    expect(await roundsAs('ready', 1)).toEqual([true]);
    expect(await roundsAs('slow', BUSY_ROUNDS)).toEqual([...Array<boolean>(BUSY_ROUNDS - 1).fill(true), false]);
    expect(await roundsAs('ready', 1)).toEqual([true]);
    // The count starts again after an answer in time.
    expect(await roundsAs('slow', BUSY_ROUNDS - 1)).toEqual(Array<boolean>(BUSY_ROUNDS - 1).fill(true));
  });

  it('is not ready from the first round it answers "not ready"', async () => {
    expect(await roundsAs('ready', 1)).toEqual([true]);
    expect(await roundsAs('unready', 1)).toEqual([false]);
  });

  it('is not ready from the first round it refuses the connection', async () => {
    expect(await roundsAs('ready', 1)).toEqual([true]);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await readiness.check();
    expect(readiness.current().ready).toBe(false);
    // afterEach closes it again; listen once more so that it can.
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  it('is not made ready by missing deadlines before it ever answered ready', async () => {
    expect(await roundsAs('slow', 2)).toEqual([false, false]);
  });
});
