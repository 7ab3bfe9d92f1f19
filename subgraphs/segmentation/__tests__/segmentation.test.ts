/**
 * The segmentation subgraph in-process on the small simulated library: `_entities` batches,
 * what each batch costs (SQL queries and inference runs), unknown ids, the segment overview and
 * its cache per model version, and a version swap carrying its own names.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApolloServer } from '@apollo/server';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { openServingSession } from '../../../src/ml/onnx/session';
import { SEGMENTATION_FEATURES, segmentationFeatures } from '../../../src/features/segmentation';
import { createLogger } from '../../../src/logging';
import { createProcessMetrics, type ProcessMetrics } from '../../../src/metrics';
import { ModelSlot, type ProductionPointer } from '../../../src/model-runtime/model-slot';
import type { ModelSubgraphDeps } from '../../../src/model-runtime/model-subgraph';
import { readProductionPointer } from '../../../src/registry';
import { openStore, readAsOf, type Store } from '../../../src/store';
import { metricValue, smallLibrary } from '../../../test/fixtures/small-library';
import { SEGMENTATION_SLOT, type SegmentationServing } from '../../../src/models/segmentation';
import { buildSegmentationSchema, createSegmentationContext, createSegmentationServices, type SegmentationContext, type SegmentationServices } from '..';
import { NO_PREDICTION_LOGGING } from '../../../src/model-runtime/prediction-logging';
import { openBackgroundResults } from '../../../src/jobs';

let store: Store;
let queries: string[];
let metrics: ProcessMetrics;
let slot: ModelSlot<SegmentationServing>;
let pointer: ProductionPointer;
/** What the slot's registry lookup answers; tests switch versions by changing it and refreshing. */
let served: ProductionPointer;
let deps: ModelSubgraphDeps;
let services: SegmentationServices;
let server: ApolloServer<SegmentationContext>;
let memberIds: number[];
const scratch: string[] = [];

async function costOf<T>(work: () => Promise<T>): Promise<{ result: T; runs: number; rows: number; sql: number }> {
  const before = await metrics.registry.metrics();
  queries.length = 0;
  const result = await work();
  const after = await metrics.registry.metrics();
  const delta = (name: string) => metricValue(after, name, { model: 'segmentation' }) - metricValue(before, name, { model: 'segmentation' });
  return { result, runs: delta('model_inference_runs_total'), rows: delta('model_inference_batch_size_sum'), sql: queries.length };
}

async function run(query: string, variables: Record<string, unknown> = {}) {
  const response = await server.executeOperation({ query, variables }, { contextValue: createSegmentationContext({ sub: 't', role: 'analyst' }, services, 'test-request') });
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  return response.body.singleResult;
}

interface ServedSegment {
  name: string;
  rfm: { recency: number; frequency: number; monetary: number };
  engagement: number;
  tenureDays: number;
  model: { name: string; version: string };
}

const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { id segment { name description rfm { recency frequency monetary } engagement tenureDays model { name version } } } } }`;

function representations(ids: readonly (number | string)[]) {
  return ids.map((id) => ({ __typename: 'Member', id: String(id) }));
}

beforeAll(async () => {
  const library = await smallLibrary();
  queries = [];
  store = openStore(library.databaseUrl, { readonly: true, onQuery: (sql) => queries.push(sql) });
  metrics = createProcessMetrics('segmentation-test');
  pointer = readProductionPointer(library.modelsDir, 'segmentation')!;
  served = pointer;
  slot = new ModelSlot({
    ...SEGMENTATION_SLOT,
    locate: async () => served,
    logger: createLogger('test', 'silent'),
    metrics,
    reloadIntervalMs: 3_600_000,
  });
  await slot.start();
  const logger = createLogger('test', 'silent');
  const config = { follow: { rankingRefreshMs: 30_000 }, aggregates: { firstResultWaitMs: 60_000, checkIntervalMs: 1000 }, features: { cacheEntries: 20_000 } };
  const background = openBackgroundResults({ redisUrl: undefined, keyPrefix: '', queue: 'aggregates-segmentation', logger });
  deps = { store, asOf: await readAsOf(store), memos: new Set(), inputs: 0, slots: { segmentation: slot }, metrics, logger, predictionLog: NO_PREDICTION_LOGGING, config, background } as unknown as ModelSubgraphDeps;
  services = createSegmentationServices(deps);
  server = new ApolloServer<SegmentationContext>({ schema: await buildSegmentationSchema() });
  await server.start();
  memberIds = (await store.db.selectFrom('members').select('id').where('joined_at', '<=', deps.asOf).orderBy('id').execute()).map((r) => r.id);
}, 300_000);

afterAll(async () => {
  services?.stop?.();
  await deps?.background.close();
  await server?.stop();
  await slot?.stop();
  await store?.close();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('Member.segment', () => {
  it.each([1, 50, 500])('costs one feature extraction (two SQL queries) and one inference run of batch N for N = %i members', async (n) => {
    const ids = memberIds.slice(0, n);
    const { result, runs, rows, sql } = await costOf(() => run(ENTITIES, { r: representations(ids) }));
    expect(result.errors).toBeUndefined();
    const entities = (result.data as { _entities: { id: string; segment: ServedSegment }[] })._entities;
    expect(entities.map((e) => e.id)).toEqual(ids.map(String));
    expect(entities.every((e) => e.segment.model.name === 'segmentation' && e.segment.model.version === pointer.version)).toBe(true);
    expect({ runs, rows, sql }).toEqual({ runs: 1, rows: n, sql: 2 });
  });

  it("answers with the production graph's segment for the trainer's feature rows, and the member's own values", async () => {
    const ids = memberIds.filter((_, i) => i % 5 === 0);
    const result = await run(ENTITIES, { r: representations(ids) });
    const answers = (result.data as { _entities: { segment: ServedSegment }[] })._entities.map((e) => e.segment);
    const features = await segmentationFeatures(store, ids, deps.asOf);
    const d = SEGMENTATION_FEATURES.length;
    const session = await openServingSession(path.join(pointer.dir, 'model.onnx'));
    try {
      const out = await session.run({ features: new Tensor('float32', features.values, [ids.length, d]) });
      const names = (slot.current().metadata.serving as { segments: { name: string }[] }).segments.map((s) => s.name);
      expect(answers.map((s) => s.name)).toEqual(Array.from(out.segment!.data as BigInt64Array, (id) => names[Number(id)]));
    } finally {
      await session.release();
    }
    answers.forEach((s, i) => {
      const row = Array.from(features.values.subarray(i * d, (i + 1) * d));
      expect([s.rfm.recency, s.rfm.frequency, s.rfm.monetary, s.engagement, s.tenureDays]).toEqual([row[0], row[1], row[2], row[3], Math.round(row[4]!)]);
    });
    expect(new Set(answers.map((s) => s.name)).size).toBeGreaterThan(3);
  });

  it('answers null for unknown and malformed ids without an error, and spends no inference run on them', async () => {
    const known = memberIds[3]!;
    const mixed = await costOf(() => run(ENTITIES, { r: representations(['999999', 'abc', known, '0']) }));
    expect(mixed.result.errors).toBeUndefined();
    const entities = (mixed.result.data as { _entities: ({ id: string; segment: ServedSegment | null } | null)[] })._entities;
    expect(entities.map((e) => e?.segment === null)).toEqual([true, true, false, true]);
    expect(mixed.runs).toBe(1);
    const unknown = await costOf(() => run(ENTITIES, { r: representations(['999999', '123456789']) }));
    expect(unknown.result.errors).toBeUndefined();
    expect((unknown.result.data as { _entities: { segment: null }[] })._entities.map((e) => e.segment)).toEqual([null, null]);
    expect(unknown.runs).toBe(0);
  });
});

describe('Query.segments', () => {
  const SEGMENTS = `{ segments { name description size share profile { recency frequency monetary engagement tenureDays } model { version } computedAt ageSeconds } }`;
  interface Summary {
    name: string;
    size: number;
    share: number;
    profile: { recency: number; frequency: number; monetary: number; engagement: number; tenureDays: number } | null;
    model: { version: string };
    computedAt: string;
    ageSeconds: number;
  }

  it('summarises every member, each scored once a paced slice at a time, then answers from its cache for the same version', async () => {
    const first = await costOf(() => run(SEGMENTS));
    expect(first.result.errors).toBeUndefined();
    const summaries = (first.result.data as { segments: Summary[] }).segments;
    expect(summaries.reduce((s, x) => s + x.size, 0)).toBe(memberIds.length);
    expect(summaries.reduce((s, x) => s + x.share, 0)).toBeCloseTo(1, 12);
    // The overview scans the library a paced slice at a time (one inference run per slice, its
    // size set by the event loop's budget), so every member is scored exactly once in all.
    expect(first.rows).toBe(memberIds.length);
    expect(first.runs).toBeGreaterThanOrEqual(1);
    // The same members on the same day as training: the sizes the trainer recorded.
    const trained = (slot.current().metadata.serving as { segments: { name: string; size: number }[] }).segments;
    expect(summaries.map((s) => [s.name, s.size])).toEqual(trained.map((s) => [s.name, s.size]));
    const hibernating = summaries.find((s) => s.name === 'Hibernating')!;
    const champions = summaries.find((s) => s.name === 'Champions')!;
    expect(hibernating.profile!.recency).toBeGreaterThan(champions.profile!.recency);
    expect(champions.profile!.frequency).toBeGreaterThan(hibernating.profile!.frequency);

    // Every summary carries the age of the background run that counted it.
    // (In process the DateTime scalar answers a Date; over HTTP, its ISO string.)
    const computedAt = new Date(summaries[0]!.computedAt).getTime();
    expect(summaries.every((s) => new Date(s.computedAt).getTime() === computedAt && s.ageSeconds >= 0)).toBe(true);
    expect(computedAt).toBeLessThanOrEqual(Date.now());

    const again = await costOf(() => run(SEGMENTS));
    const withoutAge = (data: unknown) => (data as { segments: Summary[] }).segments.map(({ ageSeconds: _age, ...rest }) => rest);
    expect(withoutAge(again.result.data)).toEqual(withoutAge(first.result.data));
    expect({ runs: again.runs, sql: again.sql }).toEqual({ runs: 0, sql: 0 });
  });

  it('follows a new version with its own names, and never loads a version whose metadata does not name its segments', async () => {
    const copy = (version: string, edit: (metadata: Record<string, any>) => void): ProductionPointer => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-segmentation-'));
      scratch.push(dir);
      cpSync(pointer.dir, dir, { recursive: true });
      const file = path.join(dir, 'metadata.json');
      const metadata = JSON.parse(readFileSync(file, 'utf8')) as Record<string, any>;
      metadata.version = version;
      edit(metadata);
      writeFileSync(file, JSON.stringify(metadata));
      return { version, dir };
    };
    const point = (p: ProductionPointer) => (served = p);
    try {
      point(copy('9.0.0', (m) => (m.serving.segments[0].name = 'Stars')));
      await slot.refresh();
      const swapped = await costOf(() => run(`{ segments { name model { version } } }`));
      const summaries = (swapped.result.data as { segments: Summary[] }).segments;
      expect(summaries[0]).toEqual({ name: 'Stars', model: { version: '9.0.0' } });
      expect(swapped.runs).toBeGreaterThanOrEqual(1);
      expect(swapped.rows).toBe(memberIds.length);

      point(copy('9.1.0', (m) => delete m.serving.segments));
      await slot.refresh();
      expect(slot.current().version).toBe('9.0.0');
    } finally {
      point(pointer);
      await slot.refresh();
    }
    expect(slot.current().version).toBe(pointer.version);
  });
});
