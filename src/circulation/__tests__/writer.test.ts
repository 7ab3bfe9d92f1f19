/**
 * Group commit: events sent at once share transactions, each answered as it would be alone
 * (applied, duplicate, refused); an idle writer starts a transaction for one event at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { CirculationError, eventWriter, parseEvent, type CirculationEvent } from '..';
import { openStore, type Store } from '../../store';
import { tinyLibrary } from '../../../test/fixtures/tiny-library';

let dir: string;
let store: Store;
let transactions = 0;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-writer-'));
  const file = path.join(dir, 'library.db');
  await (await tinyLibrary(10, 5, file)).store.close();
  transactions = 0;
  store = openStore(`sqlite:${file}`, { onQuery: (sqlText) => { if (sqlText === 'begin immediate') transactions += 1; } });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const checkOut = (id: string, memberId = 1): CirculationEvent => parseEvent({ id, type: 'checkOut', at: '2025-07-01', memberId, bookId: 2, branchId: 1 });

describe('eventWriter', () => {
  it('writes one event of an idle writer in a transaction of its own, at once', async () => {
    const writer = eventWriter(store);
    expect(await writer.write(checkOut('a'))).toMatchObject({ eventId: 'a', applied: true, memberId: 1 });
    expect(transactions).toBe(1);
  });

  it('shares transactions among events sent together, answering each as alone', async () => {
    const writer = eventWriter(store, {}, 5);
    const sends = [
      ...Array.from({ length: 11 }, (_, i) => writer.write(checkOut(`e${i}`, (i % 10) + 1))),
      writer.write(checkOut('e0')),
      writer.write(checkOut('bad', 999)),
    ];
    const answers = await Promise.allSettled(sends);
    const loanIds = answers.slice(0, 11).map((a) => (a.status === 'fulfilled' ? a.value.loanId : undefined));
    expect(new Set(loanIds).size).toBe(11);
    expect(answers[11]).toMatchObject({ status: 'fulfilled', value: { eventId: 'e0', applied: false, loanId: loanIds[0] } });
    const refused = answers[12];
    expect(refused?.status).toBe('rejected');
    expect(refused?.status === 'rejected' && refused.reason).toBeInstanceOf(CirculationError);
    expect(refused?.status === 'rejected' && (refused.reason as CirculationError).reason).toBe('UNKNOWN_MEMBER');
    // The first event alone (the writer was idle), then the other twelve five at a time.
    expect(transactions).toBe(4);
    expect(Number((await store.db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)).toBe(11);
  });

  it('throws an unexpected database error to every event of the transaction, and writes none of them', async () => {
    const writer = eventWriter(store);
    await writer.write(checkOut('first'));
    await store.db.schema.dropTable('changes').execute();
    const answers = await Promise.allSettled([writer.write(checkOut('x1')), writer.write(checkOut('x2', 2))]);
    expect(answers.map((a) => a.status)).toEqual(['rejected', 'rejected']);
    expect(answers.every((a) => a.status === 'rejected' && !(a.reason instanceof CirculationError))).toBe(true);
    expect((await store.db.selectFrom('events').select('id').execute()).map((e) => e.id)).toEqual(['first']);
  });
});
