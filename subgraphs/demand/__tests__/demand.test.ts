/**
 * The demand subgraph in-process on the small simulated library: what a batch of
 * Book.demandForecast costs (SQL queries and inference runs), horizons mixed in one request,
 * refused horizons, unknown ids, served forecasts against the training path, and collection
 * forecasts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApolloServer } from '@apollo/server';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forecastDemand, pooledSeasonalIndices } from '../../../src/evaluation/demand-baselines';
import { openServingSession } from '../../../src/ml/onnx/session';
import { bookWeeklyLoans, demandCalendars, demandForecasts, demandModelInputs, demandTensors, weekAt, type WeeklyCalendar } from '../../../src/features/demand';
import { DEMAND_TENSORS } from '../../../src/ml/lstm';
import { createLogger } from '../../../src/logging';
import { createProcessMetrics, type ProcessMetrics } from '../../../src/metrics';
import { ModelSlot, type ProductionPointer } from '../../../src/model-runtime/model-slot';
import type { ModelSubgraphDeps } from '../../../src/model-runtime/model-subgraph';
import { readProductionPointer } from '../../../src/registry';
import { openStore, readAsOf, type Store } from '../../../src/store';
import { demandServing as parseServing, DEMAND_SLOT, levelChoice, MAX_HORIZON_MONTHS, MAX_HORIZON_WEEKS, type DemandLevel, type DemandLevelChoice, type DemandServing } from '../../../src/models/demand';
import { metricValue, smallLibrary } from '../../../test/fixtures/small-library';
import { buildDemandSchema, createDemandContext, createDemandService, methodOf, type DemandContext, type DemandService } from '..';
import { NO_PREDICTION_LOGGING } from '../../../src/model-runtime/prediction-logging';

let store: Store;
let queries: string[];
let metrics: ProcessMetrics;
let slot: ModelSlot<DemandServing>;
let pointer: ProductionPointer;
let deps: ModelSubgraphDeps;
let service: DemandService;
let server: ApolloServer<DemandContext>;
let bookIds: number[];
let weekly: WeeklyCalendar;
let production: ProductionPointer;
const copies: string[] = [];

/**
 * A copy of the production version that serves `methods` per level: the same graphs, its
 * metadata's choice replaced, as a backtest that chose otherwise would have written it.
 */
function servingMethods(methods: Record<DemandLevel, DemandLevelChoice>): ProductionPointer {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shelfmark-demand-methods-'));
  copies.push(dir);
  cpSync(production.dir, dir, { recursive: true });
  const file = path.join(dir, 'metadata.json');
  const metadata = JSON.parse(readFileSync(file, 'utf8')) as { serving: DemandServing };
  metadata.serving.methods = methods;
  writeFileSync(file, JSON.stringify(metadata));
  return { version: production.version, dir };
}

function slotFor(located: ProductionPointer): ModelSlot<DemandServing> {
  return new ModelSlot({ ...DEMAND_SLOT, locate: async () => located, logger: createLogger('test', 'silent'), metrics, reloadIntervalMs: 3_600_000 });
}

async function costOf<T>(work: () => Promise<T>): Promise<{ result: T; runs: number; rows: number; sql: number }> {
  const before = await metrics.registry.metrics();
  queries.length = 0;
  const result = await work();
  const after = await metrics.registry.metrics();
  const delta = (name: string) => metricValue(after, name, { model: 'demand' }) - metricValue(before, name, { model: 'demand' });
  return { result, runs: delta('model_inference_runs_total'), rows: delta('model_inference_batch_size_sum'), sql: queries.length };
}

async function run(query: string, variables: Record<string, unknown> = {}) {
  const response = await server.executeOperation({ query, variables }, { contextValue: createDemandContext({ sub: 't', role: 'analyst' }, service, 'test-request') });
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  return response.body.singleResult;
}

interface Served {
  points: { weekStart: string; expectedLoans: number; low: number | null; high: number | null }[];
  method: string;
  coverage: number | null;
  model: { name: string; version: string };
}

const ENTITIES = `query($r: [_Any!]!, $h: Int!) { _entities(representations: $r) { ... on Book { id demandForecast(horizonWeeks: $h) { points { weekStart expectedLoans low high } method coverage model { name version } } } } }`;

function representations(ids: readonly (number | string)[]) {
  return ids.map((id) => ({ __typename: 'Book', id: String(id) }));
}

function forecastsOf(result: { data?: unknown }): (Served | null)[] {
  return (result.data as { _entities: ({ demandForecast: Served | null } | null)[] })._entities.map((e) => e?.demandForecast ?? null);
}

beforeAll(async () => {
  const library = await smallLibrary();
  queries = [];
  store = openStore(library.databaseUrl, { readonly: true, onQuery: (sql) => queries.push(sql) });
  metrics = createProcessMetrics('demand-test');
  production = readProductionPointer(library.modelsDir, 'demand')!;
  // The LSTM graphs at both levels, whichever methods the small library's backtest chose: what these tests measure.
  pointer = servingMethods({ book: { method: 'lstm' }, collection: { method: 'lstm' } });
  slot = slotFor(pointer);
  await slot.start();
  const asOf = await readAsOf(store);
  deps = { store, asOf, memos: new Set(), inputs: 0, slots: { demand: slot }, metrics, logger: createLogger('test', 'silent'), predictionLog: NO_PREDICTION_LOGGING } as unknown as ModelSubgraphDeps;
  service = createDemandService(deps);
  await service.warm();
  server = new ApolloServer<DemandContext>({ schema: await buildDemandSchema() });
  await server.start();
  bookIds = (await store.db.selectFrom('books').select('id').orderBy('id').execute()).map((r) => r.id);
  weekly = (await demandCalendars(store, asOf)).weekly;
}, 300_000);

afterAll(async () => {
  await server?.stop();
  await slot?.stop();
  await store?.close();
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

describe('Book.demandForecast', () => {
  it('serves the production version', () => {
    expect(slot.isReady()).toBe(true);
    expect(slot.current().version).toBe(pointer.version);
  });

  it.each([1, 50, 500])('costs one feature extraction (two SQL queries) and one inference run of batch N for N = %i books', async (n) => {
    const ids = bookIds.slice(0, n);
    const { result, runs, rows, sql } = await costOf(() => run(ENTITIES, { r: representations(ids), h: 8 }));
    expect(result.errors).toBeUndefined();
    const forecasts = forecastsOf(result);
    expect(forecasts).toHaveLength(n);
    expect(forecasts.every((f) => f !== null && f.points.length === 8 && f.model.version === pointer.version)).toBe(true);
    expect({ runs, rows, sql }).toEqual({ runs: 1, rows: n, sql: 2 });
  });

  it('answers weeks from the one containing the system date, with the method, ranges and model that made them', async () => {
    const result = await run(ENTITIES, { r: representations([bookIds[0]!]), h: 3 });
    const [forecast] = forecastsOf(result);
    expect(forecast!.points.map((p) => p.weekStart)).toEqual([0, 1, 2].map((k) => weekAt(weekly, weekly.weeks + k)));
    expect(forecast!.points[0]!.weekStart).toBe('2024-12-30');
    expect(forecast!.method).toBe('LSTM');
    expect(forecast!.coverage).toBe(0.8);
    for (const p of forecast!.points) {
      expect(p.expectedLoans).toBeGreaterThanOrEqual(0);
      expect(p.low!).toBeLessThanOrEqual(p.expectedLoans);
      expect(p.high!).toBeGreaterThanOrEqual(p.expectedLoans);
    }
  });

  it('serves several horizons of one request from one run over the longest, each a prefix of it', async () => {
    const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Book { id short: demandForecast(horizonWeeks: 2) { points { expectedLoans } } long: demandForecast(horizonWeeks: ${MAX_HORIZON_WEEKS}) { points { expectedLoans } } default: demandForecast { points { expectedLoans } } } } }`;
    const ids = bookIds.slice(10, 30);
    const { result, runs, rows } = await costOf(() => run(query, { r: representations(ids) }));
    expect(result.errors).toBeUndefined();
    expect({ runs, rows }).toEqual({ runs: 1, rows: ids.length });
    type Points = { points: { expectedLoans: number }[] };
    for (const entity of (result.data as { _entities: { short: Points; long: Points; default: Points }[] })._entities) {
      expect(entity.long.points).toHaveLength(MAX_HORIZON_WEEKS);
      expect(entity.short.points).toEqual(entity.long.points.slice(0, 2));
      expect(entity.default.points).toEqual(entity.long.points.slice(0, 8));
    }
  });

  it.each([MAX_HORIZON_WEEKS + 1, 0, -3])('refuses horizonWeeks %i with BAD_USER_INPUT and spends no run', async (h) => {
    const { result, runs } = await costOf(() => run(ENTITIES, { r: representations([bookIds[0]!]), h }));
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.message).toBe(`horizonWeeks must be between 1 and ${MAX_HORIZON_WEEKS}, got ${h}`);
    expect(result.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
    expect(runs).toBe(0);
  });

  it('answers null for unknown and malformed ids without an error, and spends no run when no book is known', async () => {
    const mixed = await costOf(() => run(ENTITIES, { r: representations(['999999', 'abc', bookIds[3]!, '0']), h: 4 }));
    expect(mixed.result.errors).toBeUndefined();
    expect(forecastsOf(mixed.result).map((f) => f === null)).toEqual([true, true, false, true]);
    expect({ runs: mixed.runs, rows: mixed.rows }).toEqual({ runs: 1, rows: 1 });
    const unknown = await costOf(() => run(ENTITIES, { r: representations(['999999', '123456789']), h: 4 }));
    expect(unknown.result.errors).toBeUndefined();
    expect(forecastsOf(unknown.result)).toEqual([null, null]);
    expect(unknown.runs).toBe(0);
  });

  it("equals the production graph run on the training path's weekly loans of the same books", async () => {
    const ids = bookIds.filter((_, i) => i % 97 === 0);
    const served = forecastsOf(await run(ENTITIES, { r: representations(ids), h: 6 }));
    // The trainer reads every book at once; the subgraph only the books asked for.
    const training = await bookWeeklyLoans(store, bookIds, weekly);
    const series = ids.map((id) => training.series[training.rowOf[bookIds.indexOf(id)]!]!);
    const spec = slot.current().serving.book;
    const session = await openServingSession(readFileSync(path.join(pointer.dir, 'model.onnx')));
    try {
      const inputs = demandModelInputs(spec, series, 6);
      const out = await session.run(demandTensors(inputs));
      const expected = demandForecasts(spec, series, inputs, out[DEMAND_TENSORS.forecast]!.data as Float32Array, { intervals: true });
      expect(served.map((f) => f!.points.map((p) => [p.expectedLoans, p.low, p.high]))).toEqual(
        expected.map((f) => f.values.map((v, k) => [v, f.low![k], f.high![k]])),
      );
    } finally {
      await session.release();
    }
  });
});

describe('collectionForecast', () => {
  const COLLECTION = `query($g: String, $b: ID, $h: Int) { collectionForecast(genre: $g, branchId: $b, horizonMonths: $h) { genre branch { id } points { month expectedLoans low high } method coverage model { version } } }`;
  interface Collection {
    genre: string | null;
    branch: { id: string } | null;
    points: { month: string; expectedLoans: number; low: number | null; high: number | null }[];
    method: string;
    model: { version: string };
  }

  it('forecasts a genre at a branch month by month from the month after the system date, in one run of the collection graph', async () => {
    const { result, runs, sql } = await costOf(() => run(COLLECTION, { g: 'Fantasy', b: '2', h: 4 }));
    expect(result.errors).toBeUndefined();
    const forecast = (result.data as { collectionForecast: Collection }).collectionForecast;
    expect({ genre: forecast.genre, branch: forecast.branch, method: forecast.method, version: forecast.model.version }).toEqual({
      genre: 'Fantasy', branch: { id: '2' }, method: 'LSTM', version: pointer.version,
    });
    expect(forecast.points.map((p) => p.month)).toEqual(['2025-01', '2025-02', '2025-03', '2025-04']);
    expect(forecast.points.every((p) => p.expectedLoans > 0 && p.low! <= p.expectedLoans && p.high! >= p.expectedLoans)).toBe(true);
    // The collection series were read once, when the service warmed up.
    expect({ runs, sql }).toEqual({ runs: 1, sql: 0 });
  });

  it('answers the whole library when neither genre nor branch is given, and shares one run between the forecasts of a request', async () => {
    const query = `{ all: collectionForecast { genre branch { id } points { expectedLoans } } fantasy: collectionForecast(genre: "Fantasy", horizonMonths: ${MAX_HORIZON_MONTHS}) { points { expectedLoans } } }`;
    const { result, runs } = await costOf(() => run(query));
    expect(result.errors).toBeUndefined();
    const data = result.data as { all: { genre: null; branch: null; points: unknown[] }; fantasy: { points: { expectedLoans: number }[] } };
    expect({ genre: data.all.genre, branch: data.all.branch, months: data.all.points.length }).toEqual({ genre: null, branch: null, months: 6 });
    expect(data.fantasy.points).toHaveLength(MAX_HORIZON_MONTHS);
    expect(runs).toBe(1);
  });

  it.each([
    [{ g: 'Cookery' }, 'unknown genre "Cookery"; the catalogue\'s genres are: '],
    [{ b: '99' }, 'unknown branch "99"; the branch ids are: 1, 2, 3, 4, 5, 6, 7'],
    [{ h: MAX_HORIZON_MONTHS + 1 }, `horizonMonths must be between 1 and ${MAX_HORIZON_MONTHS}, got ${MAX_HORIZON_MONTHS + 1}`],
  ])('refuses %j with BAD_USER_INPUT', async (variables, message) => {
    const result = await run(COLLECTION, variables);
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.message.startsWith(message)).toBe(true);
    expect(result.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('rolling forward with the library clock', () => {
  const QUERY = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Book { demandForecast(horizonWeeks: 2) { points { weekStart } } } } collectionForecast(horizonMonths: 2) { points { month } } }`;
  type Answer = { _entities: { demandForecast: { points: { weekStart: string }[] } }[]; collectionForecast: { points: { month: string }[] } };

  async function periods(rolling: DemandService): Promise<{ weeks: string[]; months: string[] }> {
    const response = await server.executeOperation({ query: QUERY, variables: { r: representations([bookIds[0]!]) } }, { contextValue: createDemandContext({ sub: 't', role: 'analyst' }, rolling, 'test-roll') });
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    expect(response.body.singleResult.errors).toBeUndefined();
    const data = response.body.singleResult.data as Answer;
    return { weeks: data._entities[0]!.demandForecast.points.map((p) => p.weekStart), months: data.collectionForecast.points.map((p) => p.month) };
  }

  it('answers from the old date while the new one is prepared, then from the week and month of the new date', async () => {
    const own: ModelSubgraphDeps = { ...deps, memos: new Set() };
    const rolling = createDemandService(own);
    await rolling.warm();
    expect(await periods(rolling)).toEqual({ weeks: ['2024-12-30', '2025-01-06'], months: ['2025-01', '2025-02'] });
    // What the change follower does when the clock moves from 2024-12-31 to Tuesday 2025-02-11.
    const commits = await Promise.all([...own.memos].map((held) => held.prepare('2025-02-11')));
    expect(commits).toHaveLength(2);
    expect(await periods(rolling)).toEqual({ weeks: ['2024-12-30', '2025-01-06'], months: ['2025-01', '2025-02'] });
    for (const commit of commits) commit();
    expect(await periods(rolling)).toEqual({ weeks: ['2025-02-10', '2025-02-17'], months: ['2025-02', '2025-03'] });
  });
});

describe('the method each level serves', () => {
  const COLLECTION = '{ collectionForecast(genre: "Fantasy", horizonMonths: 3) { points { expectedLoans low high } method coverage } }';

  async function serviceOf(located: ProductionPointer): Promise<{ own: DemandService; stop: () => Promise<void> }> {
    const own = slotFor(located);
    await own.start();
    const service = createDemandService({ ...deps, memos: new Set(), slots: { demand: own } } as unknown as ModelSubgraphDeps);
    // Calendars and collection series read ahead, as the suite's own service is: a request then costs only its books.
    await service.warm();
    return { own: service, stop: () => own.stop() };
  }

  async function ask(with_: DemandService, query: string, variables: Record<string, unknown> = {}) {
    const response = await server.executeOperation({ query, variables }, { contextValue: createDemandContext({ sub: 't', role: 'analyst' }, with_, 'test-methods') });
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    return response.body.singleResult;
  }

  it("serves the production version's choice per level, as its metadata records it", async () => {
    const served = slotFor(production);
    await served.start();
    try {
      const methods = served.current().serving.methods;
      expect(methods).toBeDefined();
      const { own, stop } = await serviceOf(production);
      try {
        const [book] = forecastsOf(await ask(own, ENTITIES, { r: representations([bookIds[0]!]), h: 3 }));
        const collection = (await ask(own, COLLECTION)).data as { collectionForecast: { method: string } };
        // Every book has the LSTM's minimum history, and simple methods answer every book.
        expect(book!.method).toBe(methodOf(levelChoice(served.current().serving, 'book').method));
        expect(collection.collectionForecast.method).toBe(methodOf(levelChoice(served.current().serving, 'collection').method));
      } finally {
        await stop();
      }
    } finally {
      await served.stop();
    }
  });

  it('answers a level that serves a simple method with that method on the requested series, without an inference run', async () => {
    const all = await bookWeeklyLoans(store, bookIds, weekly);
    const bookSeason = pooledSeasonalIndices(all.series, 52);
    const located = servingMethods({
      book: { method: 'seasonalMeanTimesSeason', seasonalIndices: bookSeason },
      collection: { method: 'sesDeseasonalised', seasonalIndices: new Array<number>(12).fill(1) },
    });
    const { own, stop } = await serviceOf(located);
    try {
      const ids = bookIds.filter((_, i) => i % 53 === 0);
      const { result, runs, sql } = await costOf(() => ask(own, ENTITIES, { r: representations(ids), h: 5 }));
      expect(result.errors).toBeUndefined();
      const served = forecastsOf(result);
      const expected = ids.map((id) => forecastDemand('seasonalMeanTimesSeason', all.series[all.rowOf[bookIds.indexOf(id)]!]!, { seasonLength: 52, horizon: 5, seasonalIndices: bookSeason }));
      expect(served.map((f) => f!.points.map((p) => p.expectedLoans))).toEqual(expected);
      expect(served.every((f) => f!.method === 'MEAN_TIMES_SEASON' && f!.coverage === null && f!.points.every((p) => p.low === null && p.high === null))).toBe(true);
      expect({ runs, sql }).toEqual({ runs: 0, sql: 2 });
      const collection = await costOf(() => ask(own, COLLECTION));
      const answer = (collection.result.data as { collectionForecast: { method: string; coverage: number | null; points: { expectedLoans: number }[] } }).collectionForecast;
      expect({ method: answer.method, coverage: answer.coverage, months: answer.points.length, runs: collection.runs }).toEqual({ method: 'SES', coverage: null, months: 3, runs: 0 });
    } finally {
      await stop();
    }
  });

  it('refuses a version whose choice it could not serve', () => {
    const serving = slot.current().serving;
    expect(() => parseServing({ ...serving, methods: { book: { method: 'prophet' }, collection: { method: 'lstm' } } })).toThrow('methods.book must name one of lstm, seasonalNaive');
    expect(() => parseServing({ ...serving, methods: { book: { method: 'lstm' }, collection: { method: 'tsb', seasonalIndices: [1, 1] } } })).toThrow(
      'methods.collection serves tsb and needs 12 positive seasonal indices',
    );
  });
});
