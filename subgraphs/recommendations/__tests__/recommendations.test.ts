/**
 * The recommendations subgraph in-process on the small simulated library: what a batch costs
 * (SQL statements and inference runs), books already borrowed never coming back, members
 * without history, `first` limits and slicing, unknown ids, and the serving path giving the
 * lists the production graph gives for the trainer's own histories.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ApolloServer } from '@apollo/server';
import path from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { openServingSession } from '../../../src/ml/onnx/session';
import { borrowingHistories, borrowingHistoriesInChunks, recommendationIndex, recommendationQuery, type BorrowingHistory } from '../../../src/features/recommendations';
import { createLogger } from '../../../src/logging';
import { createProcessMetrics, type ProcessMetrics } from '../../../src/metrics';
import { ModelSlot, type ProductionPointer } from '../../../src/model-runtime/model-slot';
import type { ModelSubgraphDeps } from '../../../src/model-runtime/model-subgraph';
import { readProductionPointer } from '../../../src/registry';
import { openStore, readAsOf, type Store } from '../../../src/store';
import { MAX_RECOMMENDATIONS, type RecommendationsServing } from '../../../src/models/recommendations';
import { metricValue, smallLibrary } from '../../../test/fixtures/small-library';
import { NO_PREDICTION_LOGGING } from '../../../src/model-runtime/prediction-logging';
import {
  buildRecommendationsSchema,
  createRecommendationsContext,
  createRecommendationsServices,
  REASONS,
  RECOMMENDATIONS_SUBGRAPH_SLOT,
  type Catalogue,
  type RecommendationsContext,
  type RecommendationsServices,
} from '..';

let store: Store;
let queries: string[];
let metrics: ProcessMetrics;
let slot: ModelSlot<RecommendationsServing>;
let pointer: ProductionPointer;
let deps: ModelSubgraphDeps;
let catalogue: Catalogue;
let services: RecommendationsServices;
let server: ApolloServer<RecommendationsContext>;
let histories: BorrowingHistory[];

interface Served {
  book: { id: string };
  score: number;
  reason: string;
  model: { name: string; version: string };
}

async function costOf<T>(work: () => Promise<T>): Promise<{ result: T; runs: number; rows: number; sql: number }> {
  const before = await metrics.registry.metrics();
  queries.length = 0;
  const result = await work();
  const after = await metrics.registry.metrics();
  const delta = (name: string) => metricValue(after, name, { model: 'recommendations' }) - metricValue(before, name, { model: 'recommendations' });
  return { result, runs: delta('model_inference_runs_total'), rows: delta('model_inference_batch_size_sum'), sql: queries.length };
}

async function run(query: string, variables: Record<string, unknown> = {}) {
  const response = await server.executeOperation({ query, variables }, { contextValue: createRecommendationsContext({ sub: 't', role: 'analyst' }, services, 'test-request') });
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  return response.body.singleResult;
}

const MEMBERS = `query($r: [_Any!]!, $first: Int) { _entities(representations: $r) { ... on Member { id recommendations(first: $first) { book { id } score reason model { name version } } } } }`;
const BOOKS = `query($r: [_Any!]!, $first: Int) { _entities(representations: $r) { ... on Book { id similarBooks(first: $first) { book { id } score reason model { name version } } } } }`;

const refs = (typename: string, ids: readonly (number | string)[]) => ids.map((id) => ({ __typename: typename, id: String(id) }));

function entities(result: { data?: unknown }, field: 'recommendations' | 'similarBooks'): (Served[] | null)[] {
  return (result.data as { _entities: Record<string, Served[] | null>[] })._entities.map((e) => e[field]!);
}

beforeAll(async () => {
  const library = await smallLibrary();
  queries = [];
  store = openStore(library.databaseUrl, { readonly: true, onQuery: (sql) => queries.push(sql) });
  metrics = createProcessMetrics('recommendations-test');
  pointer = readProductionPointer(library.modelsDir, 'recommendations')!;
  slot = new ModelSlot({
    ...RECOMMENDATIONS_SUBGRAPH_SLOT,
    locate: async () => pointer,
    logger: createLogger('test', 'silent'),
    metrics,
    reloadIntervalMs: 3_600_000,
  });
  await slot.start();
  const asOf = await readAsOf(store);
  deps = { store, asOf, memos: new Set(), inputs: 0, slots: { recommendations: slot }, metrics, logger: createLogger('test', 'silent'), predictionLog: NO_PREDICTION_LOGGING } as unknown as ModelSubgraphDeps;
  services = createRecommendationsServices(deps);
  catalogue = services.catalogue;
  await catalogue();
  server = new ApolloServer<RecommendationsContext>({ schema: await buildRecommendationsSchema() });
  await server.start();
  const ids = (await store.db.selectFrom('members').select('id').where('joined_at', '<=', asOf).orderBy('id').execute()).map((r) => r.id);
  histories = (await borrowingHistoriesInChunks(store, ids, asOf)).filter((h): h is BorrowingHistory => h !== undefined);
}, 300_000);

afterAll(async () => {
  await server?.stop();
  await slot?.stop();
  await store?.close();
});

describe('Member.recommendations', () => {
  it.each([1, 50, 500])('costs one history query (two SQL statements) and one inference run of batch N for N = %i members', async (n) => {
    const ids = histories.slice(0, n).map((h) => h.memberId);
    const { result, runs, rows, sql } = await costOf(() => run(MEMBERS, { r: refs('Member', ids), first: 5 }));
    expect(result.errors).toBeUndefined();
    const lists = entities(result, 'recommendations');
    expect(lists.every((l) => l !== null && l.length === 5 && l.every((r) => r.model.version === pointer.version))).toBe(true);
    expect({ runs, rows, sql }).toEqual({ runs: 1, rows: n, sql: 2 });
  });

  it('never recommends a book the member has borrowed, and ranks best first', async () => {
    const sample = histories.filter((h) => h.bookIds.length > 0).slice(0, 200);
    const result = await run(MEMBERS, { r: refs('Member', sample.map((h) => h.memberId)), first: MAX_RECOMMENDATIONS });
    const lists = entities(result, 'recommendations');
    sample.forEach((history, i) => {
      const borrowed = new Set(history.bookIds.map(String));
      const list = lists[i]!;
      expect(list).toHaveLength(MAX_RECOMMENDATIONS);
      expect(list.filter((r) => borrowed.has(r.book.id))).toEqual([]);
      expect(new Set(list.map((r) => r.book.id)).size).toBe(list.length);
      list.forEach((r, rank) => rank > 0 && expect(r.score).toBeLessThanOrEqual(list[rank - 1]!.score));
    });
    const reasons = lists.flatMap((l) => l!.map((r) => r.reason));
    expect(reasons.some((r) => r.startsWith('readers of “'))).toBe(true);
  });

  it('explains each book by the most recent book of the history that leads to it, with the title and authors of the catalogue', async () => {
    const index = recommendationIndex(slot.current().artefacts.index);
    const books = await catalogue();
    const title = (item: number) => books.get(index.bookIds[item]!)!.title;
    // The definition, read forwards: the first (most recent) book of the history whose
    // co-borrowed list has the item, else the first sharing one of the item's authors.
    const expectedReason = (seen: number[], item: number, anonymous: boolean): string => {
      const coBorrowed = seen.find((j) => index.coBorrowed[j]!.includes(item));
      if (coBorrowed !== undefined) return REASONS.coBorrowed(title(coBorrowed));
      for (const author of books.get(index.bookIds[item]!)!.authors) {
        const same = seen.find((j) => books.get(index.bookIds[j]!)!.authors.includes(author));
        if (same !== undefined) return REASONS.sameAuthor(title(same));
      }
      return anonymous ? REASONS.libraryPopular : REASONS.taste;
    };
    const sample = histories.filter((h) => h.bookIds.length > 0).filter((_, i) => i % 3 === 0).slice(0, 150);
    const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { recommendations(first: 10) { book { id title authors } reason } } } }`;
    const result = await run(query, { r: refs('Member', sample.map((h) => h.memberId)) });
    expect(result.errors).toBeUndefined();
    const lists = (result.data as { _entities: { recommendations: { book: { id: string; title: string; authors: string[] }; reason: string }[] }[] })._entities;
    const kinds = new Set<string>();
    sample.forEach((history, i) => {
      const row = recommendationQuery(index, history);
      for (const { book, reason } of lists[i]!.recommendations) {
        const item = index.itemIndexOf.get(Number(book.id))!;
        expect(reason).toBe(expectedReason(row.seenItems, item, row.userIndex < 0));
        expect(book).toEqual({ id: book.id, title: books.get(Number(book.id))!.title, authors: books.get(Number(book.id))!.authors });
        kinds.add(reason.split('“')[0]!);
      }
    });
    // The sample exercises more than one kind of reason.
    expect(kinds.size).toBeGreaterThan(1);
  });

  it("gives a member without history their branch's most borrowed books, and says so", async () => {
    const serving = slot.current().serving.settings;
    const cold = histories.find((h) => h.bookIds.length === 0);
    let subject = cold;
    let served = cold ? entities(await run(MEMBERS, { r: refs('Member', [cold.memberId]), first: 10 }), 'recommendations')[0]! : null;
    // The small library may have no member without a loan: then a member as they were on the day they joined.
    for (const h of histories) {
      if (served) break;
      served = await coldAtJoining(h.memberId);
      subject = h;
    }
    expect(served).not.toBeNull();
    const expected = serving.branchPopular[String(subject!.branchId)]!.slice(0, 10).map((b) => String(b.bookId));
    expect(served!.map((r) => r.book.id)).toEqual(expected);
    expect(served!.every((r) => r.reason === REASONS.branchPopular && r.score > 0 && r.score <= 1)).toBe(true);
  });

  it('runs once with the longest first asked for and gives each field its own prefix', async () => {
    const id = histories[3]!.memberId;
    const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Member { short: recommendations(first: 2) { book { id } } long: recommendations(first: 12) { book { id } } } } }`;
    const { result, runs, rows } = await costOf(() => run(query, { r: refs('Member', [id, histories[4]!.memberId]) }));
    expect(result.errors).toBeUndefined();
    const [first] = (result.data as { _entities: { short: Served[]; long: Served[] }[] })._entities;
    expect(first!.long).toHaveLength(12);
    expect(first!.short).toEqual(first!.long.slice(0, 2));
    expect({ runs, rows }).toEqual({ runs: 1, rows: 2 });
  });

  it('refuses first above its maximum with BAD_USER_INPUT', async () => {
    const { result, runs } = await costOf(() => run(MEMBERS, { r: refs('Member', [histories[0]!.memberId]), first: MAX_RECOMMENDATIONS + 1 }));
    expect(result.errors?.[0]?.message).toBe(`first must be between 0 and ${MAX_RECOMMENDATIONS}, got ${MAX_RECOMMENDATIONS + 1}`);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(runs).toBe(0);
  });

  it('answers null for unknown and malformed ids without an error, and spends no run on them', async () => {
    const known = histories[5]!.memberId;
    const mixed = await costOf(() => run(MEMBERS, { r: refs('Member', ['999999', 'abc', known, '0']) }));
    expect(mixed.result.errors).toBeUndefined();
    expect(entities(mixed.result, 'recommendations').map((l) => l === null)).toEqual([true, true, false, true]);
    expect(mixed.runs).toBe(1);
    const unknown = await costOf(() => run(MEMBERS, { r: refs('Member', ['999999', '123456789']) }));
    expect(unknown.result.errors).toBeUndefined();
    expect(entities(unknown.result, 'recommendations')).toEqual([null, null]);
    expect(unknown.runs).toBe(0);
  });

  it("serves the production graph's lists for the trainer's histories of the same members", async () => {
    const sample = histories.filter((_, i) => i % 7 === 0).slice(0, 60);
    const ids = sample.map((h) => h.memberId);
    const alone = await borrowingHistories(store, [ids[0]!], deps.asOf);
    expect(alone[0]).toEqual(sample[0]);
    const served = entities(await run(MEMBERS, { r: refs('Member', ids), first: 10 }), 'recommendations');
    const index = recommendationIndex(slot.current().artefacts.index);
    const rows = sample.map((h) => recommendationQuery(index, h));
    const seenItems = rows.flatMap((r) => r.seenItems);
    const seenRows = rows.flatMap((r, i) => r.seenItems.map(() => i));
    const session = await openServingSession(path.join(pointer.dir, 'model.onnx'));
    try {
      const out = await session.run({
        user_index: new Tensor('int64', BigInt64Array.from(rows, (r) => BigInt(r.userIndex)), [rows.length]),
        seen_items: new Tensor('int64', BigInt64Array.from(seenItems, BigInt), [seenItems.length]),
        seen_rows: new Tensor('int64', BigInt64Array.from(seenRows, BigInt), [seenRows.length]),
        k: new Tensor('int64', BigInt64Array.of(10n), [1]),
      });
      const items = Array.from(out.items!.data as BigInt64Array, (i) => String(index.bookIds[Number(i)]));
      sample.forEach((h, i) => {
        if (h.bookIds.length === 0) return;
        expect(served[i]!.map((r) => r.book.id)).toEqual(items.slice(i * 10, (i + 1) * 10));
      });
    } finally {
      await session.release();
    }
  });
});

/** A member as they were the day they joined (no loans yet), through the serving path at that date. */
async function coldAtJoining(memberId: number): Promise<Served[] | null> {
  const { joined_at } = await store.db.selectFrom('members').select('joined_at').where('id', '=', memberId).executeTakeFirstOrThrow();
  const first = await store.db.selectFrom('loans').select((eb) => eb.fn.min('checked_out_at').as('first')).where('member_id', '=', memberId).executeTakeFirst();
  if (first?.first && String(first.first) <= joined_at) return null;
  const atJoining = { ...deps, asOf: joined_at };
  const response = await server.executeOperation({ query: MEMBERS, variables: { r: refs('Member', [memberId]), first: 10 } }, { contextValue: createRecommendationsContext({ sub: 't', role: 'analyst' }, { ...createRecommendationsServices(atJoining), catalogue }, 'test-request') });
  if (response.body.kind !== 'single') throw new Error('expected a single result');
  return entities(response.body.singleResult, 'recommendations')[0]!;
}

describe('Book.similarBooks', () => {
  it('costs one run of the similar-books graph for N books, no SQL, never the book itself, null for unknown ids', async () => {
    const index = recommendationIndex(slot.current().artefacts.index);
    const ids = index.bookIds.slice(0, 40);
    const { result, runs, rows, sql } = await costOf(() => run(BOOKS, { r: refs('Book', [...ids, 'nope', '99999999']), first: 5 }));
    expect(result.errors).toBeUndefined();
    const lists = entities(result, 'similarBooks');
    expect(lists.slice(-2)).toEqual([null, null]);
    ids.forEach((id, i) => {
      expect(lists[i]).toHaveLength(5);
      expect(lists[i]!.map((r) => r.book.id)).not.toContain(String(id));
      expect(lists[i]!.every((r) => r.reason.length > 0 && r.model.name === 'recommendations')).toBe(true);
    });
    expect({ runs, rows, sql }).toEqual({ runs: 1, rows: ids.length, sql: 0 });
  });
});

describe('versions', () => {
  it('refuses a version whose graph takes padded histories (1.0.0, archived) and keeps serving the one it has', async () => {
    let target: ProductionPointer = pointer;
    const refusals: string[] = [];
    const logger = { ...createLogger('test', 'silent'), error: (fields: { err?: string }) => void refusals.push(String(fields.err)) };
    const guarded = new ModelSlot({
      ...RECOMMENDATIONS_SUBGRAPH_SLOT,
      locate: async () => target,
      logger: logger,
      metrics,
      reloadIntervalMs: 20,
    });
    await guarded.start();
    try {
      expect(guarded.current().version).toBe(pointer.version);
      target = { version: '1.0.0', dir: path.resolve(__dirname, '../../../models/archived/recommendations/1.0.0') };
      for (let waited = 0; refusals.length === 0 && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(refusals[0]).toContain('model.onnx has inputs [user_index, seen_items, k], this subgraph sends [user_index, seen_items, seen_rows, k]');
      expect(guarded.current().version).toBe(pointer.version);
    } finally {
      await guarded.stop();
    }
  });
});
