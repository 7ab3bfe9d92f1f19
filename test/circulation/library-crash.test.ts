/**
 * Nothing lost, nothing twice on the mutation path: a circulation client sends about two hundred
 * events (checkouts, returns of the loans it was told about, new members, end-of-day ticks)
 * through the gateway, one at a time, re-sending an event until it is acknowledged. The library
 * subgraph is killed with SIGKILL mid-stream and started again; the client carries on from its
 * retry point (the first event not acknowledged). Every table then matches, in row counts and a
 * checksum of every row, a run on a second copy of the store that nothing interrupted.
 * Runs dist/ (build first).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { SUBGRAPH_NAMES } from '../../src/config';
import { launchGraph, type LaunchedGraph } from '../../src/graph-launcher';
import { openStore } from '../../src/store';
import { addDays } from '../../src/util/dates';
import { tableHashes } from '../../src/simulator/__tests__/table-hash';
import { TABLE_ORDER } from '../../src/simulator/writer';
import { tinyLibrary } from '../fixtures/tiny-library';
import { closedPort, post, PROJECT_ROOT, token } from '../gateway/helpers';

/** Answers that say the event itself is wrong: re-sending cannot help, and the test fails. */
const FINAL_CODES = new Set(['BAD_USER_INPUT', 'EVENT_CONFLICT', 'FORBIDDEN', 'UNAUTHENTICATED']);
const RETRY_FOR_MS = 90_000;

interface CirculationStep {
  field: 'checkOut' | 'returnLoan' | 'registerMember' | 'advanceClock';
  eventId: string;
  /** The mutation's input; a return names the loan its checkout was answered with. */
  input(loanOf: (eventId: string) => string): Record<string, unknown>;
}

const SELECTIONS: Record<CirculationStep['field'], string> = {
  checkOut: 'mutation M($input: CheckOutInput!) { checkOut(input: $input) { applied loan { id } } }',
  returnLoan: 'mutation M($input: ReturnLoanInput!) { returnLoan(input: $input) { applied loan { id } } }',
  registerMember: 'mutation M($input: RegisterMemberInput!) { registerMember(input: $input) { applied member { id } } }',
  advanceClock: 'mutation M($input: AdvanceClockInput!) { advanceClock(input: $input) { applied clock } }',
};

/** Four library days of circulation on the tiny library (60 members, 30 books): about 200 events. */
function circulationDays(): CirculationStep[] {
  const steps: CirculationStep[] = [];
  for (let k = 0; k < 150; k++) {
    const day = addDays('2025-07-01', Math.floor(k / 40));
    steps.push({
      field: 'checkOut', eventId: `c${k}`,
      input: () => ({ memberId: String((k % 60) + 1), bookId: String((k % 30) + 1), branchId: String((k % 2) + 1), at: `${day}T10:00:00Z` }),
    });
    if (k >= 3 && k % 3 === 0) steps.push({ field: 'returnLoan', eventId: `r${k}`, input: (loanOf) => ({ loanId: loanOf(`c${k - 3}`), at: `${day}T15:00:00Z` }) });
    if (k % 50 === 25) steps.push({ field: 'registerMember', eventId: `m${k}`, input: () => ({ name: `Newcomer ${k}`, email: `new${k}@example.org`, branchId: '1', at: `${day}T11:00:00Z` }) });
    if (k % 40 === 39) steps.push({ field: 'advanceClock', eventId: `eod-${day}`, input: () => ({ to: addDays(day, 1) }) });
  }
  return steps;
}

interface ClientRun {
  /** Sends made again after an answer that was not an acknowledgement (the subgraph down). */
  resends: number;
}

/**
 * The circulation client: each event in order, re-sent until acknowledged. `beforeSend` runs
 * just before an event's first send and may crash the subgraph while that request is in flight.
 */
async function sendAll(gatewayUrl: string, steps: CirculationStep[], beforeSend: (index: number) => void = () => undefined): Promise<ClientRun> {
  const bearer = token('circulation', { sub: 'crash-test-desk', expiresIn: '10m' });
  const loans = new Map<string, string>();
  const loanOf = (eventId: string) => {
    const loanId = loans.get(eventId);
    if (loanId === undefined) throw new Error(`no loan known for ${eventId}`);
    return loanId;
  };
  let resends = 0;
  for (const [index, step] of steps.entries()) {
    const body = { query: SELECTIONS[step.field], variables: { input: { eventId: step.eventId, ...step.input(loanOf) } } };
    const giveUpAt = Date.now() + RETRY_FOR_MS;
    let first = true;
    for (;;) {
      const sending = post(gatewayUrl, body, bearer).catch((error: Error) => ({ status: 0, body: { errors: [{ message: error.message }] } }));
      if (first) beforeSend(index);
      first = false;
      const answer = await sending;
      const result = answer.body?.data?.[step.field];
      if (result) {
        if (result.loan?.id) loans.set(step.eventId, result.loan.id);
        break;
      }
      const code = answer.body?.errors?.[0]?.extensions?.code;
      if (FINAL_CODES.has(code)) throw new Error(`event ${step.eventId} refused: ${JSON.stringify(answer.body.errors[0])}`);
      if (Date.now() > giveUpAt) throw new Error(`event ${step.eventId} not acknowledged within ${RETRY_FOR_MS} ms: ${JSON.stringify(answer.body)}`);
      resends += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return { resends };
}

async function rowCounts(url: string): Promise<Record<string, number>> {
  const store = openStore(url, { readonly: true });
  try {
    const counts: Record<string, number> = {};
    for (const table of TABLE_ORDER) {
      const { rows } = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(store.db);
      counts[table] = Number(rows[0]?.n);
    }
    return counts;
  } finally {
    await store.close();
  }
}

describe('kill -9 of the library subgraph mid-stream', () => {
  let dir: string;
  const graphs: LaunchedGraph[] = [];
  const databases = { uninterrupted: '', crashed: '' };

  async function libraryGraph(db: string): Promise<LaunchedGraph> {
    const closed = await closedPort();
    const env: NodeJS.ProcessEnv = {
      ...Object.fromEntries(SUBGRAPH_NAMES.map((name) => [`${name.toUpperCase()}_URL`, `http://127.0.0.1:${closed}/graphql`])),
      DATABASE_URL: `sqlite:${db}`, MODELS_DIR: path.join(dir, 'models'), LOG_LEVEL: 'error', NODE_ENV: 'test', REDIS_URL: '', CLOCK: 'stored',
    };
    const graph = await launchGraph({ projectRoot: PROJECT_ROOT, subgraphs: ['library'], env, logs: 'ignore' });
    graphs.push(graph);
    return graph;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-library-crash-'));
    const pristine = path.join(dir, 'pristine.db');
    const { store } = await tinyLibrary(60, 30, pristine);
    await store.close();
    for (const name of ['uninterrupted', 'crashed'] as const) {
      databases[name] = path.join(dir, `${name}.db`);
      copyFileSync(pristine, databases[name]);
    }
  });
  afterAll(async () => {
    await Promise.all(graphs.map((graph) => graph.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('re-sent from the client\'s retry point, ends with every table identical to an uninterrupted run', async () => {
    const steps = circulationDays();
    const [calm, crashing] = await Promise.all([libraryGraph(databases.uninterrupted), libraryGraph(databases.crashed)]);
    const crashAt = Math.floor(steps.length / 3);
    let restarted: Promise<void> | undefined;
    const [uninterrupted, crashed] = await Promise.all([
      sendAll(calm.gatewayUrl, steps),
      sendAll(crashing.gatewayUrl, steps, (index) => {
        if (index !== crashAt) return;
        const library = crashing.processes.get('library');
        // A moment after the send, so the kill lands while the event is in flight or being written.
        setTimeout(() => {
          library?.kill('SIGKILL');
          restarted = new Promise((resolve) => library?.once('exit', resolve)).then(() => crashing.restartSubgraph('library'));
        }, 2);
      }),
    ]);
    await restarted;
    expect(uninterrupted.resends).toBe(0);
    expect(crashed.resends).toBeGreaterThan(0);

    const counts = await rowCounts(`sqlite:${databases.crashed}`);
    expect(counts).toEqual(await rowCounts(`sqlite:${databases.uninterrupted}`));
    expect(counts.events).toBe(steps.length);
    expect(await tableHashes(`sqlite:${databases.crashed}`)).toEqual(await tableHashes(`sqlite:${databases.uninterrupted}`));
  }, 240_000);
});
