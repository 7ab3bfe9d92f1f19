/**
 * Live model health through the real gateway: members' churn risk and segments are served and
 * logged, circulation moves on (some of those members borrow on day 70, the clock reaches day
 * 95), and the library subgraph's background monitor judges the predictions the model scored
 * (members answered LAPSED are not). Then
 * `ModelInfo.health` shows the live AUC with its interval, `predictions` carries each
 * prediction's outcome, segment and branch, and `calibration` groups them by segment and
 * branch, all in the analysts' example query. Partners may not send it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { sql } from 'kysely';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { loadSupergraph, subgraphsIn } from '../../gateway/subgraphs';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../src/config';
import { launchGraph, type LaunchedGraph } from '../../src/graph-launcher';
import { openStore } from '../../src/store';
import { readClock } from '../../src/circulation';
import { addDays } from '../../src/util/dates';
import { smallLibrary, writableCopy, type SmallLibrary } from '../fixtures/small-library';

const ROOT = path.join(__dirname, '..', '..');
const EXAMPLE = readFileSync(path.join(ROOT, 'schema', 'examples', 'PredictionCalibration.graphql'), 'utf8');
const MEMBERS = 100;
const BORROWERS = 20;
let library: SmallLibrary;
let graph: LaunchedGraph;
let T = '';
/** Members the churn model scored (the others answered LAPSED, which is logged but not judged). */
let scored = 0;

type Role = 'staff' | 'analyst' | 'partner';
function token(role: Role): string {
  return jwt.sign({ role }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256', subject: `test-${role}`, issuer: 'shelfmark', audience: 'shelfmark-graph', expiresIn: '5m' });
}

async function query(body: string, role: Role = 'staff', variables: Record<string, unknown> = {}) {
  const response = await fetch(graph.gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token(role)}` },
    body: JSON.stringify({ query: body, variables }),
  });
  return { status: response.status, body: (await response.json()) as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] } };
}

async function ok(body: string, role: Role = 'staff', variables: Record<string, unknown> = {}) {
  const { status, body: answer } = await query(body, role, variables);
  expect(answer.errors).toBeUndefined();
  expect(status).toBe(200);
  return answer.data;
}

beforeAll(async () => {
  library = writableCopy(await smallLibrary());
}, 900_000);

beforeAll(async () => {
  const store = openStore(library.databaseUrl);
  T = await readClock(store);
  // The shared library this copies may hold predictions other tests' graphs logged: judge only this test's.
  await sql`DELETE FROM prediction_log`.execute(store.db);
  await store.close();
  const subgraphs = subgraphsIn(loadSupergraph(loadConfig({ SHELFMARK_ROOT: ROOT })));
  graph = await launchGraph({ projectRoot: ROOT, subgraphs, env: { ...library.env, MONITOR_INTERVAL_MS: '500', PREDICTION_LOG_FLUSH_INTERVAL_MS: '50', SUBGRAPH_TIMEOUT_MS: '30000', GATEWAY_COST_RATE_ANALYST_PER_SECOND: '1000000' }, logs: 'ignore' });
  await graph.warmed();

  const served = await ok(`{ members(first: ${MEMBERS}) { nodes { id branch { id } churnRisk { probability level } segment { name } } } }`);
  const members = (served.members.nodes as { id: string; branch: { id: string }; churnRisk: { level: string } }[]).filter((m) => m.churnRisk.level !== 'LAPSED');
  scored = members.length;
  // Let the log reach the store and the monitor read it before circulation moves on.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const book = (await ok('{ books(first: 1) { nodes { id } } }')).books.nodes[0].id as string;
  for (const [i, member] of members.slice(0, BORROWERS).entries()) {
    await ok('mutation($input: CheckOutInput!) { checkOut(input: $input) { applied } }', 'staff', {
      input: { eventId: `health-checkout-${i}`, memberId: member.id, bookId: book, branchId: member.branch.id, at: `${addDays(T, 70)}T10:00:00Z` },
    });
  }
  await ok('mutation($input: AdvanceClockInput!) { advanceClock(input: $input) { clock } }', 'staff', { input: { eventId: 'health-clock', to: addDays(T, 95) } });
}, 300_000);

afterAll(async () => {
  await graph?.stop();
  if (library) rmSync(library.dir, { recursive: true, force: true });
});

/** Polls until the monitor has judged every churn prediction of day T. */
async function judged(): Promise<any> {
  for (let tries = 0; tries < 150; tries++) {
    const data = await ok(EXAMPLE, 'analyst', { endingOn: T, first: 500 });
    if (data.predictions.totalCount >= scored && data.predictions.nodes.every((n: { status: string }) => n.status === 'KNOWN')) return data;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return ok(EXAMPLE, 'analyst', { endingOn: T, first: 500 });
}

describe('model health through the gateway', () => {
  it('joins each served churn prediction to its outcome, with segment and branch, and calibrates them by both', async () => {
    const data = await judged();
    const nodes = data.predictions.nodes as { score: number; version: string; segment: string | null; branch: { id: string } | null; member: { id: string }; outcome: { value: number; knownOn: string } | null }[];
    expect(scored).toBeGreaterThan(BORROWERS);
    expect(data.predictions.totalCount).toBe(scored);
    expect(nodes).toHaveLength(scored);
    const borrowed = nodes.filter((n) => n.outcome?.value === 0);
    expect(borrowed).toHaveLength(BORROWERS);
    for (const n of borrowed) expect(n.outcome?.knownOn).toBe(addDays(T, 70));
    for (const n of nodes.filter((n) => n.outcome?.value === 1)) expect(n.outcome?.knownOn).toBe(addDays(T, 91));
    expect(nodes.every((n) => n.branch !== null && n.version === '1.0.0' && n.score >= 0 && n.score <= 1)).toBe(true);
    expect(nodes.filter((n) => n.segment !== null).length).toBe(scored);

    const groups = data.predictions.calibration as { segment: string; branch: { id: string }; rows: number; observed: number; bins: { rows: number }[] }[];
    expect(groups.reduce((sum, g) => sum + g.rows, 0)).toBe(scored);
    for (const group of groups) {
      const members = nodes.filter((n) => n.segment === group.segment && n.branch?.id === group.branch.id);
      expect(group.rows).toBe(members.length);
      expect(group.observed).toBeCloseTo(members.filter((n) => n.outcome?.value === 1).length / members.length, 12);
      expect(group.bins.reduce((sum, b) => sum + b.rows, 0)).toBe(group.rows);
    }
  });

  it('shows live AUC with its interval, drift and alerts in ModelInfo.health, to analysts', async () => {
    await judged();
    const data = await ok('{ clock models { name health(window: THIRTY_DAYS) { version window asOf metrics { name value low high estimated rows } driftReference drift { feature drifted } alerts { name } alertSource knownOutcomes } } }', 'analyst');
    expect(data.clock).toBe(addDays(T, 95));
    const churn = data.models.find((m: { name: string }) => m.name === 'churn').health;
    expect(churn).toMatchObject({ version: '1.0.0', window: 'THIRTY_DAYS', asOf: addDays(T, 95), knownOutcomes: scored });
    const auc = churn.metrics.find((m: { name: string; estimated: boolean }) => m.name === 'auc' && !m.estimated);
    expect(auc.rows).toBe(scored);
    expect(auc.low).toBeLessThanOrEqual(auc.value);
    expect(auc.high).toBeGreaterThanOrEqual(auc.value);
    expect(churn.alertSource).toMatch(/alerts\.yml/);
    if (!churn.driftReference) expect(churn.drift).toEqual([]);
  });

  it('refuses the query to partners, whose operations must be in the persisted-query manifest', async () => {
    const { status, body } = await query(EXAMPLE, 'partner', { endingOn: T });
    expect(status).toBeGreaterThanOrEqual(400);
    expect(body.data?.predictions).toBeUndefined();
  });

  it('refuses a model it does not know with BAD_USER_INPUT', async () => {
    const { body } = await query('{ predictions(model: "weather") { totalCount } }', 'analyst');
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(body.errors?.[0]?.message).toMatch(/unknown model "weather"/);
  });
});
