/**
 * Outcomes from circulation on a writable copy of the small library: hand-made events (new
 * members, checkouts, returns, the clock moving) whose right answers are known, judged against
 * hand-made predictions. A prediction made on or after the day its outcome became known is
 * never joined.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rmSync } from 'node:fs';
import { applyEvents, parseEvent, readClock } from '../../circulation';
import { migrateStore, openStore, type Store } from '../../store';
import { addDays, weekStart } from '../../util/dates';
import { judgeOutcomes, liveOutcomes, RULE_ANSWER_LABEL, segmentChanges, type Judgement } from '../outcomes';
import type { PredictionRecord } from '../prediction-log';
import { smallLibrary, writableCopy, type SmallLibrary } from '../../../test/fixtures/small-library';

let copy: SmallLibrary;
let store: Store;
let T: string;
let sequence = 0;
const loans: Record<string, string> = {};
const NEW_MEMBERS = { early: 900_001, late: 900_002 };
let book = '';

function prediction(model: string, entityKind: string, entityId: string, asOf: string, extra: Partial<PredictionRecord> = {}): PredictionRecord {
  sequence += 1;
  return {
    processId: 'test', sequence, acceptedThrough: sequence, requestId: `r${sequence}`, at: `${asOf}T12:00:00.000Z`, asOf,
    model, version: '1.0.0', arm: null, entityKind, entityId, score: 0.5, items: null, label: null, factors: [], features: null, featureRef: null,
    ...extra,
  };
}

const day = (offset: number) => addDays(T, offset);

beforeAll(async () => {
  copy = writableCopy(await smallLibrary({ models: [] }));
  store = openStore(copy.databaseUrl);
  await migrateStore(store);
  T = await readClock(store);
  book = String((await store.db.selectFrom('books').select('id').orderBy('id').limit(1).executeTakeFirstOrThrow()).id);
  const events = [
    { id: 'm-early', type: 'registerMember', at: day(0), memberId: NEW_MEMBERS.early, name: 'Early', email: 'early@example.org', branchId: 1 },
    { id: 'm-late', type: 'registerMember', at: day(0), memberId: NEW_MEMBERS.late, name: 'Late', email: 'late@example.org', branchId: 1 },
    // Returned before its due date: on time, known the day of the return.
    { id: 'c-ontime', type: 'checkOut', at: day(1), memberId: NEW_MEMBERS.early, bookId: book, branchId: 1, dueAt: day(15) },
    // Never returned: late, known the day after its due date.
    { id: 'c-late', type: 'checkOut', at: day(1), memberId: NEW_MEMBERS.early, bookId: book, branchId: 1, dueAt: day(8) },
    // Due after the clock stops: pending.
    { id: 'c-pending', type: 'checkOut', at: day(1), memberId: NEW_MEMBERS.early, bookId: book, branchId: 1, dueAt: day(150) },
    { id: 'r-ontime', type: 'returnLoan', at: day(10), memberId: NEW_MEMBERS.early, bookId: book },
    { id: 'clock', type: 'advanceClock', to: day(100) },
  ].map((e) => parseEvent(e));
  const results = await applyEvents(store, events);
  for (const [i, result] of results.entries()) {
    if ('error' in result) throw result.error;
    if (result.loanId !== null) loans[events[i]?.id ?? ''] = String(result.loanId);
  }
}, 300_000);

afterAll(async () => {
  await store?.close();
  if (copy) rmSync(copy.dir, { recursive: true, force: true });
});

const statusOf = (judgements: Judgement[]) => judgements.map((j) => [j.status, j.outcome?.value ?? null, j.outcome?.knownOn ?? null]);

describe('overdue: late or on time, per loan', () => {
  it('judges a return by the due date on time, a loan out past it late, and one not yet due pending', async () => {
    const judged = await judgeOutcomes(store, 'overdue', [
      prediction('overdue', 'loan', loans['c-ontime'] ?? '', day(1)),
      prediction('overdue', 'loan', loans['c-late'] ?? '', day(1)),
      prediction('overdue', 'loan', loans['c-pending'] ?? '', day(1)),
    ], day(100));
    expect(statusOf(judged)).toEqual([['known', 0, day(10)], ['known', 1, day(9)], ['pending', null, null]]);
  });

  it('never joins a prediction made on or after the day its outcome became known', async () => {
    const judged = await judgeOutcomes(store, 'overdue', [
      prediction('overdue', 'loan', loans['c-ontime'] ?? '', day(10)), // the day of the return
      prediction('overdue', 'loan', loans['c-ontime'] ?? '', day(12)),
      prediction('overdue', 'loan', loans['c-late'] ?? '', day(9)), // the day after the due date
      prediction('overdue', 'loan', loans['c-late'] ?? '', day(0)), // before the checkout
    ], day(100));
    expect(judged.map((j) => j.status)).toEqual(['after_the_fact', 'after_the_fact', 'after_the_fact', 'after_the_fact']);
  });

  it('sees no outcome after the clock it is judged at', async () => {
    const judged = await judgeOutcomes(store, 'overdue', [prediction('overdue', 'loan', loans['c-late'] ?? '', day(1))], day(8));
    expect(judged[0]?.status).toBe('pending');
  });

  it('joins each loan to the prediction live when its outcome became known: the latest before it', async () => {
    const first = prediction('overdue', 'loan', loans['c-ontime'] ?? '', day(2), { score: 0.2 });
    const live = prediction('overdue', 'loan', loans['c-ontime'] ?? '', day(9), { score: 0.7 });
    const after = prediction('overdue', 'loan', loans['c-ontime'] ?? '', day(11), { score: 0.9 });
    const joined = liveOutcomes(await judgeOutcomes(store, 'overdue', [live, after, first], day(100)));
    expect(joined).toHaveLength(1);
    expect(joined[0]?.prediction.score).toBe(0.7);
  });

  it('leaves a member-level overdue risk unjudged', async () => {
    const judged = await judgeOutcomes(store, 'overdue', [prediction('overdue', 'member', String(NEW_MEMBERS.early), day(1))], day(100));
    expect(judged[0]?.status).toBe('not_judged');
  });
});

describe('churn: no checkout within 90 days of the prediction', () => {
  it('is not churned as of the first checkout in the window, churned the day after a window without one', async () => {
    const judged = await judgeOutcomes(store, 'churn', [
      prediction('churn', 'member', String(NEW_MEMBERS.early), day(0)),
      prediction('churn', 'member', String(NEW_MEMBERS.late), day(0)),
      // The checkouts were on day 1: a prediction made that day does not see them, and its window has none.
      prediction('churn', 'member', String(NEW_MEMBERS.early), day(1)),
      prediction('churn', 'member', String(NEW_MEMBERS.late), day(50)),
    ], day(100));
    expect(statusOf(judged)).toEqual([['known', 0, day(1)], ['known', 1, day(91)], ['known', 1, day(92)], ['pending', null, null]]);
    expect(judged[0]?.subject).toBe(`member:${NEW_MEMBERS.early}@${day(0)}`);
  });

  it('leaves an answer a rule gave (LAPSED) unjudged', async () => {
    const judged = await judgeOutcomes(store, 'churn', [
      prediction('churn', 'member', String(NEW_MEMBERS.late), day(0), { label: RULE_ANSWER_LABEL }),
      prediction('churn', 'member', String(NEW_MEMBERS.late), day(0)),
    ], day(100));
    expect(statusOf(judged)).toEqual([['not_judged', null, null], ['known', 1, day(91)]]);
  });
});

describe('recommendations: a recommended book borrowed within 30 days', () => {
  it('is a hit once the 30 days are over, with what was borrowed for NDCG', async () => {
    const items = [{ id: '999999', score: 0.9 }, { id: book, score: 0.8 }];
    const judged = await judgeOutcomes(store, 'recommendations', [
      prediction('recommendations', 'member', String(NEW_MEMBERS.early), day(0), { score: null, items }),
      prediction('recommendations', 'member', String(NEW_MEMBERS.late), day(0), { score: null, items }),
      prediction('recommendations', 'member', String(NEW_MEMBERS.early), day(80), { score: null, items }),
    ], day(100));
    expect(statusOf(judged)).toEqual([['known', 1, day(31)], ['known', 0, day(31)], ['pending', null, null]]);
    expect(judged[0]?.outcome?.ranked).toEqual(['999999', book]);
    expect(judged[0]?.outcome?.borrowed).toEqual([book]);
  });
});

describe('demand: a forecast week against its actual checkouts and last year', () => {
  it('counts the week\'s checkouts, beside the same week 52 weeks before, and skips weeks that had begun', async () => {
    const week = weekStart(day(7)); // the Monday after day 0..6, on or before day 7
    const pastWeek = weekStart(day(0));
    const judged = await judgeOutcomes(store, 'demand', [
      prediction('demand', 'book', book, day(0), { score: null, items: [{ id: pastWeek, score: 1 }, { id: week, score: 2.5 }] }),
    ], day(100));
    const naiveWeek = addDays(week, -364);
    const naive = (await store.db.selectFrom('loans').select('id').where('book_id', '=', Number(book)).where('checked_out_at', '>=', naiveWeek).where('checked_out_at', '<=', addDays(naiveWeek, 6)).execute()).length;
    const actual = (await store.db.selectFrom('loans').select('id').where('book_id', '=', Number(book)).where('checked_out_at', '>=', week).where('checked_out_at', '<=', addDays(week, 6)).execute()).length;
    expect(judged.map((j) => j.status)).toEqual(['after_the_fact', 'known']);
    expect(judged[1]?.outcome).toEqual({ value: actual, knownOn: addDays(week, 7), forecast: 2.5, seasonalNaive: naive });
  });
});

describe('segment stability', () => {
  it('compares each member\'s last segment of a day with their previous day\'s', () => {
    const seg = (member: string, on: string, label: string) => prediction('segmentation', 'member', member, on, { score: null, label });
    const changes = segmentChanges([seg('1', day(2), 'Loyal'), seg('1', day(1), 'Champions'), seg('1', day(2), 'Champions'), seg('1', day(3), 'At Risk'), seg('2', day(1), 'New')]);
    expect(changes.map((c) => [c.memberId, c.day, c.previous, c.segment])).toEqual([['1', day(2), 'Champions', 'Champions'], ['1', day(3), 'Champions', 'At Risk']]);
  });
});
