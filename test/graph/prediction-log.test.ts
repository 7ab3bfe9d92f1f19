/**
 * The prediction log as served: a member query through the real graph (gateway and subgraph
 * processes) leaves one record per prediction with the model, version, entity and answer it
 * gave; a full queue drops and counts without failing the answer; logging off records nothing.
 * Each part works on its own copy of the small library, so its rows are its own.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import jwt from 'jsonwebtoken';
import { sql } from 'kysely';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSupergraph, subgraphsIn } from '../../gateway/subgraphs';
import { DEVELOPMENT_JWT_SECRET, loadConfig } from '../../src/config';
import { launchGraph, type LaunchedGraph } from '../../src/graph-launcher';
import { closeModelDeps, openModelDeps, type ModelSubgraphDeps } from '../../src/model-runtime/model-subgraph';
import { NO_PREDICTION_LOGGING } from '../../src/model-runtime/prediction-logging';
import { CHURN_SLOT } from '../../src/models/churn';
import type { PredictionRecord } from '../../src/monitoring/prediction-log';
import { countPredictions, recordsOf, type PredictionLogTable } from '../../src/monitoring/prediction-log-store';
import { migrateStore, openStore, type Store } from '../../src/store';
import { createChurnContext, createChurnServices } from '../../subgraphs/churn';
import { metricValue, smallLibrary, type SmallLibrary } from '../fixtures/small-library';

const ROOT = path.join(__dirname, '..', '..');
let library: SmallLibrary;
let dir: string;

/** A migrated copy of the small library's database, for one part of this file. */
async function ownCopy(name: string): Promise<string> {
  const file = path.join(dir, `${name}.db`);
  copyFileSync(library.dbPath, file);
  const store = openStore(`sqlite:${file}`);
  try {
    await migrateStore(store);
    // The shared library may hold what other tests' graphs logged into it: start from an empty log.
    await sql`DELETE FROM prediction_log`.execute(store.db);
  } finally {
    await store.close();
  }
  return `sqlite:${file}`;
}

async function rows(databaseUrl: string, model: string): Promise<PredictionLogTable[]> {
  const store = openStore(databaseUrl, { readonly: true });
  try {
    return (await store.db.selectFrom('prediction_log' as never).selectAll().where('model' as never, '=', model as never).execute()) as unknown as PredictionLogTable[];
  } finally {
    await store.close();
  }
}

/** Polls the store until `enough` holds of the rows of `model` (the log is written in the background). */
async function waitForRows(databaseUrl: string, model: string, enough: (found: PredictionLogTable[]) => boolean): Promise<PredictionLogTable[]> {
  let found: PredictionLogTable[] = [];
  for (let tries = 0; tries < 200; tries++) {
    found = await rows(databaseUrl, model);
    if (enough(found)) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return found;
}

beforeAll(async () => {
  library = await smallLibrary();
  dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-prediction-log-'));
}, 300_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a member query through the real graph', () => {
  let graph: LaunchedGraph;
  let databaseUrl: string;
  beforeAll(async () => {
    databaseUrl = await ownCopy('graph');
    const subgraphs = subgraphsIn(loadSupergraph(loadConfig({ SHELFMARK_ROOT: ROOT })));
    graph = await launchGraph({ projectRoot: ROOT, subgraphs, env: { ...library.env, DATABASE_URL: databaseUrl, PREDICTION_LOG_FLUSH_INTERVAL_MS: '50' }, logs: 'ignore' });
    await graph.warmed();
  }, 180_000);
  afterAll(async () => {
    await graph?.stop();
  });

  it('leaves one record per prediction, with the model, version, entity and answer served', async () => {
    const staff = jwt.sign({ role: 'staff' }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256', subject: 'test-staff', issuer: 'shelfmark', audience: 'shelfmark-graph', expiresIn: '5m' });
    const response = await fetch(graph.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${staff}`, 'x-request-id': 'member-page-1' },
      body: JSON.stringify({
        query: '{ members(first: 5) { nodes { id churnRisk { probability factors { feature weight } model { name version arm } } segment { name } recommendations(first: 3) { book { id } score } } } }',
      }),
    });
    const body = (await response.json()) as { data?: any; errors?: unknown[] };
    expect(body.errors).toBeUndefined();
    const members = body.data.members.nodes as { id: string; churnRisk: { probability: number; factors: { feature: string; weight: number }[]; model: { name: string; version: string; arm: string | null } }; segment: { name: string } | null; recommendations: { book: { id: string }; score: number }[] }[];
    expect(members).toHaveLength(5);

    // Background rankings (watchlists) log their predictions too, under request ids of their own.
    const ofRequest = (rows: PredictionRecord[]) => rows.filter((r) => r.requestId === 'member-page-1');
    const churn = ofRequest((await waitForRows(databaseUrl, 'churn', (found) => found.flatMap(recordsOf).filter((r) => r.requestId === 'member-page-1').length >= 5)).flatMap(recordsOf));
    expect(churn).toHaveLength(5);
    // The gateway passes the client's request id to every subgraph it asks.
    expect(new Set(churn.map((r) => r.requestId))).toEqual(new Set(['member-page-1']));
    // The page's five churn risks came from one loader batch: one row of the log.
    expect(new Set(churn.map((r) => r.sequence)).size).toBe(1);
    for (const member of members) {
      const record = churn.find((r) => r.entityId === member.id);
      expect(record).toMatchObject({ model: 'churn', version: member.churnRisk.model.version, arm: null, entityKind: 'member', items: null });
      expect(record?.score).toBeCloseTo(member.churnRisk.probability, 12);
      expect(record?.factors.map((f) => f.name)).toEqual(member.churnRisk.factors.map((f) => f.feature));
      expect(record?.asOf).toMatch(/^\d{4}-\d{2}-\d{2}/);
      expect(record?.featureRef).toBe(`as-of:${record?.asOf}`);
    }

    const segments = ofRequest((await waitForRows(databaseUrl, 'segmentation', (found) => found.flatMap(recordsOf).filter((r) => r.requestId === 'member-page-1').length >= 5)).flatMap(recordsOf));
    for (const member of members.filter((m) => m.segment)) {
      const record = segments.find((r) => r.entityId === member.id);
      expect(record?.label).toBe(member.segment?.name);
      expect(record?.requestId).toBe('member-page-1');
      expect(Object.keys(record?.features ?? {})).toEqual(expect.arrayContaining(['recency', 'frequency', 'monetary']));
    }

    const lists = ofRequest((await waitForRows(databaseUrl, 'recommendations', (found) => found.flatMap(recordsOf).filter((r) => r.requestId === 'member-page-1').length >= 5)).flatMap(recordsOf));
    for (const member of members) {
      const record = lists.find((r) => r.entityId === member.id);
      expect(record?.items?.slice(0, 3).map((i) => i.id)).toEqual(member.recommendations.map((r) => r.book.id));
    }

    const churnMetrics = await (await fetch(graph.subgraphUrls.churn!.replace(/\/graphql$/, '/metrics'))).text();
    expect(metricValue(churnMetrics, 'prediction_log_records_total', { model: 'churn' })).toBeGreaterThanOrEqual(5);
    expect(metricValue(churnMetrics, 'prediction_log_dropped_total', { model: 'churn' })).toBe(0);
  });
});

describe('the churn subgraph with its prediction log', () => {
  async function openChurn(env: Record<string, string>): Promise<{ deps: ModelSubgraphDeps; databaseUrl: string }> {
    const databaseUrl = await ownCopy(`churn-${Object.values(env).join('-')}`);
    const config = loadConfig({ ...process.env, ...library.env, DATABASE_URL: databaseUrl, SHELFMARK_ROOT: ROOT, LOG_LEVEL: 'error', ...env });
    return { deps: await openModelDeps(config, 'churn', [CHURN_SLOT]), databaseUrl };
  }

  async function answer(deps: ModelSubgraphDeps, n: number) {
    const context = createChurnContext({ sub: 'test', role: 'staff' }, createChurnServices(deps), 'test-request');
    return context.churnRisk.loadMany(Array.from({ length: n }, (_, i) => String(i + 1)));
  }

  it('drops and counts what a full queue cannot hold, and still answers every member', async () => {
    const { deps, databaseUrl } = await openChurn({ PREDICTION_LOG_CAPACITY: '3', PREDICTION_LOG_FLUSH_INTERVAL_MS: '600000', PREDICTION_LOG_BATCH_SIZE: '100' });
    let store: Store | undefined = openStore(databaseUrl, { readonly: true });
    // The copied library may already hold records (of whatever wrote to it before it was copied).
    const before = (await countPredictions(store.db)).churn ?? 0;
    await store.close();
    try {
      const answers = await answer(deps, 50);
      expect(answers.every((a) => a !== null && !(a instanceof Error))).toBe(true);
      expect(metricValue(await deps.metrics.registry.metrics(), 'prediction_log_dropped_total', { model: 'churn' })).toBe(47);
      await deps.predictionLog.flush();
      expect(metricValue(await deps.metrics.registry.metrics(), 'prediction_log_records_total', { model: 'churn' })).toBe(3);
    } finally {
      await closeModelDeps(deps);
    }
    store = openStore(databaseUrl, { readonly: true });
    try {
      expect(((await countPredictions(store.db)).churn ?? 0) - before).toBe(3);
    } finally {
      await store.close();
    }
  });

  it('records nothing and opens no writer with PREDICTION_LOG=off', async () => {
    const { deps, databaseUrl } = await openChurn({ PREDICTION_LOG: 'off' });
    try {
      expect(deps.predictionLog).toBe(NO_PREDICTION_LOGGING);
      const answers = await answer(deps, 20);
      expect(answers.every((a) => a !== null && !(a instanceof Error))).toBe(true);
    } finally {
      await closeModelDeps(deps);
    }
    expect(await rows(databaseUrl, 'churn')).toEqual([]);
  });
});
