/**
 * Circulation writes through the real gateway and library subgraph processes: who may write
 * (staff, circulation) and who may not (analyst, partner); the circulation role reads nothing
 * but the clock; a retried event applies once; a reused id is EVENT_CONFLICT; a bad event is
 * BAD_USER_INPUT with its reason; outcomes are counted; the README's mutation runs as printed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { metric, post, PROJECT_ROOT, startTestGraph, token, type TestGraph } from './helpers';

const CHECK_OUT = `mutation CheckOut($input: CheckOutInput!) {
  checkOut(input: $input) { eventId applied clock loan { id dueAt returnedAt member { id } book { id } } }
}`;

/** The README's example mutation: the fenced block that starts with `mutation RecordCheckout`. */
function readmeMutation(): { query: string; variables: Record<string, unknown> } {
  const readme = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8');
  const query = /```graphql\n(mutation RecordCheckout[\s\S]*?)```/.exec(readme)?.[1];
  const variables = /```json\n(\{ "input"[\s\S]*?)```/.exec(readme)?.[1];
  if (!query || !variables) throw new Error('README.md has no `mutation RecordCheckout` example with its variables');
  return { query, variables: JSON.parse(variables) as Record<string, unknown> };
}

describe('circulation mutations through the gateway', () => {
  let graph: TestGraph;
  let url: string;

  beforeAll(async () => {
    graph = await startTestGraph();
    url = graph.graph.gatewayUrl;
  }, 120_000);
  afterAll(() => graph?.stop());

  const checkOut = (role: 'staff' | 'circulation' | 'analyst' | 'partner', input: Record<string, unknown>) =>
    post(url, { query: CHECK_OUT, variables: { input: { memberId: '3', bookId: '4', branchId: '1', at: '2025-07-01T10:00:00Z', ...input } } }, token(role));

  it("runs the README's example mutation as printed (first: its date is the tiny library's next day)", async () => {
    const { query, variables } = readmeMutation();
    const answer = await post(url, { query, variables }, token('staff'));
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data.checkOut.applied).toBe(true);
  });

  it('staff check a book out; the same event again answers the same and applies nothing', async () => {
    const first = await checkOut('staff', { eventId: 'staff-1' });
    expect(first.body.errors).toBeUndefined();
    const result = first.body.data.checkOut;
    expect(result).toMatchObject({ eventId: 'staff-1', applied: true, clock: '2025-07-01', loan: { returnedAt: null, member: { id: '3' }, book: { id: '4' } } });
    expect(result.loan.dueAt).toBe('2025-07-22T00:00:00.000Z');
    const again = await checkOut('staff', { eventId: 'staff-1' });
    expect(again.body.data.checkOut).toEqual({ ...result, applied: false });
  });

  it('the circulation system writes, reads the clock, and reads nothing else', async () => {
    const written = await checkOut('circulation', { eventId: 'circ-1', memberId: '5' });
    expect(written.body.errors).toBeUndefined();
    expect(written.body.data.checkOut.applied).toBe(true);
    const clock = await post(url, { query: '{ clock }' }, token('circulation'));
    expect(clock.body.data.clock).toBe('2025-07-01');
    const read = await post(url, { query: '{ members(first: 1) { totalCount } }' }, token('circulation'));
    expect(read.status).toBe(403);
    expect(read.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });

  it.each(['analyst', 'partner'] as const)('%s may not write: FORBIDDEN, nothing applied', async (role) => {
    const answer = await checkOut(role, { eventId: `${role}-1` });
    expect(answer.status).toBe(403);
    expect(answer.body.errors[0].extensions.code).toBe('FORBIDDEN');
    const again = await checkOut('staff', { eventId: `${role}-1` });
    expect(again.body.data.checkOut.applied).toBe(true);
  });

  it('a reused id with other content is EVENT_CONFLICT; an unknown member is BAD_USER_INPUT naming the reason', async () => {
    const conflict = await checkOut('staff', { eventId: 'staff-1', bookId: '5' });
    expect(conflict.body.errors[0].extensions).toMatchObject({ code: 'EVENT_CONFLICT', reason: 'EVENT_CONFLICT', eventId: 'staff-1' });
    const unknown = await checkOut('staff', { eventId: 'bad-1', memberId: '9999' });
    expect(unknown.body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'UNKNOWN_MEMBER' });
    expect(unknown.body.errors[0].message).toContain('no member with id 9999');
  });

  it.each([
    ['an unknown book', { bookId: '999' }, 'BAD_USER_INPUT', 'UNKNOWN_BOOK'],
    ['a time before the clock', { at: '2025-06-01T10:00:00Z' }, 'BAD_USER_INPUT', 'BEFORE_CLOCK'],
    ['a malformed member id', { memberId: 'seven' }, 'BAD_USER_INPUT', 'MALFORMED'],
  ])('refuses %s with its reason, and changes nothing: the id stays free', async (_name, change, code, reason) => {
    const clockBefore = (await post(url, { query: '{ clock }' }, token('staff'))).body.data.clock;
    const refused = await checkOut('staff', { eventId: `refused-${reason}`, ...change });
    expect(refused.body.errors[0].extensions).toMatchObject({ code, reason });
    expect((await post(url, { query: '{ clock }' }, token('staff'))).body.data.clock).toBe(clockBefore);
    const valid = await checkOut('staff', { eventId: `refused-${reason}`, memberId: '7' });
    expect(valid.body.data.checkOut.applied).toBe(true);
  });

  it('returns a loan and advances the clock; a loan returned twice is refused', async () => {
    const loanId = (await checkOut('staff', { eventId: 'to-return', memberId: '6' })).body.data.checkOut.loan.id;
    const RETURN = 'mutation R($input: ReturnLoanInput!) { returnLoan(input: $input) { applied loan { returnedAt } } }';
    const returned = await post(url, { query: RETURN, variables: { input: { eventId: 'ret-1', loanId, at: '2025-07-03T09:00:00Z' } } }, token('staff'));
    expect(returned.body.data.returnLoan).toEqual({ applied: true, loan: { returnedAt: '2025-07-03T00:00:00.000Z' } });
    const twice = await post(url, { query: RETURN, variables: { input: { eventId: 'ret-2', loanId, at: '2025-07-03T09:00:00Z' } } }, token('staff'));
    expect(twice.body.errors[0].extensions.reason).toBe('LOAN_ALREADY_RETURNED');
    const tick = await post(url, { query: 'mutation { advanceClock(input: { eventId: "eod-2025-07-04", to: "2025-07-04" }) { clock } }' }, token('circulation'));
    expect(tick.body.data.advanceClock.clock).toBe('2025-07-04');
  });

  it('counts every event by type and outcome on the library subgraph', async () => {
    const origin = new URL(graph.graph.subgraphUrls.library!).origin;
    expect(await metric(origin, 'circulation_events_total', { type: 'checkOut', outcome: 'applied' })).toBeGreaterThanOrEqual(5);
    expect(await metric(origin, 'circulation_events_total', { type: 'checkOut', outcome: 'duplicate' })).toBe(1);
    expect(await metric(origin, 'circulation_events_total', { type: 'checkOut', outcome: 'conflict' })).toBe(1);
  });
});
