/**
 * Background work gives way to requests: with a RequestGate, a roll of the memos runs no slice
 * while a request is in flight (however many turns of the event loop that request takes), runs on
 * as soon as none is, and still moves on after `maxWaitMs` when requests never stop.
 *
 * Cost is counted on a clock of busy milliseconds that the feature function moves (1 ms per
 * entity computed), so what a request waits for is counted, not timed.
 */
import { describe, expect, it } from '@jest/globals';
import { AsOfMemo, SlicePacer } from '../as-of-memo';
import { RequestGate } from '../request-gate';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function rollingMemo(gate: RequestGate) {
  let busyMs = 0;
  const compute = async (ids: number[], asOf: string): Promise<Map<number, string>> => {
    busyMs += ids.length;
    return new Map(ids.map((id) => [id, `${asOf}:${id}`]));
  };
  const busy = (): number => busyMs;
  const memo = new AsOfMemo<string>(compute, 'd1', undefined, 'test', new SlicePacer({ budgetMs: 5, busyMs: busy, gate }));
  return { memo, busy };
}

describe('RequestGate', () => {
  it('resolves idle at once with no request in flight, and when the last request ends', async () => {
    const gate = new RequestGate(60_000);
    await gate.idle();
    const endFirst = gate.begin();
    const endSecond = gate.begin();
    let idle = false;
    const waiting = gate.idle().then(() => (idle = true));
    endFirst();
    endFirst();
    await nextTurn();
    expect(gate.active).toBe(1);
    expect(idle).toBe(false);
    endSecond();
    await waiting;
    expect(gate.active).toBe(0);
  });

  it('lets a waiter go after maxWaitMs while a request stays in flight', async () => {
    const gate = new RequestGate(5);
    const end = gate.begin();
    await gate.idle();
    expect(gate.active).toBe(1);
    end();
  });

  it('holds a roll while a request of many turns is in flight, then lets it finish', async () => {
    const gate = new RequestGate(60_000);
    const { memo, busy } = rollingMemo(gate);
    const ids = Array.from({ length: 300 }, (_, i) => i + 1);
    await memo.warm(ids);

    const rolling = memo.prepare('d2');
    await nextTurn();
    await nextTurn();
    const end = gate.begin();
    // The turn that started before the request began may finish its slice.
    await nextTurn();
    const arrived = busy();
    const answers: (string | undefined)[] = [];
    for (let turn = 0; turn < 50; turn++) {
      answers.push(...(await memo.load([ids[turn]!])));
      await nextTurn();
    }
    expect(busy() - arrived).toBe(0);
    expect(answers).toEqual(ids.slice(0, 50).map((id) => `d1:${id}`));
    end();
    (await rolling)();
    expect(busy()).toBe(2 * ids.length);
    expect(await memo.load([1, 300])).toEqual(['d2:1', 'd2:300']);
  });
});
