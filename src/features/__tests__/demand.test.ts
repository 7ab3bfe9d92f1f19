/**
 * Demand features: the calendars (complete weeks and months only), weekly loans of a batch of
 * books in one query per table, the same series whichever batch a book is read in, and the
 * model inputs that forecast every period ahead in one run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openServingSession } from '../../ml/onnx/session';
import { syntheticDemand } from '../../ml/forecasting/synthetic';
import { DEMAND_TENSORS, DemandForecaster, encodeDemandModel, trainDemandModel, type DemandModel } from '../../ml/lstm';
import { openStore, readAsOf, type Store } from '../../store';
import { daysBetween } from '../../util/dates';
import { tinyLibrary, type CountingStore } from '../../../test/fixtures/tiny-library';
import { smallLibrary } from '../../../test/fixtures/small-library';
import {
  allCollectionKeys,
  bookWeeklyLoans,
  collectionDimensions,
  collectionMonthlyLoans,
  DAYS_PER_COLLECTION_READ,
  demandCalendars,
  demandForecasts,
  demandModelInputs,
  demandTensors,
  maxHorizon,
  monthAt,
  monthlyCalendar,
  weekAt,
  weeklyCalendar,
} from '../demand';
import { collectionMonthlyLoansOffThread } from '../demand-counts-thread';

describe('calendars', () => {
  it('count complete Monday-to-Sunday weeks from the first Monday of the loan window to the last Sunday by the system date', () => {
    // 2022-01-01 is a Saturday, 2024-12-31 a Tuesday: the week of 2024-12-30 is not over.
    expect(weeklyCalendar('2022-01-01', '2024-12-31')).toEqual({ firstWeek: '2022-01-03', weeks: 156, firstPhase: 0 });
    expect(weeklyCalendar('2022-01-01', '2024-12-29')).toEqual({ firstWeek: '2022-01-03', weeks: 156, firstPhase: 0 });
    // A Sunday system date completes its week; the history keeps the latest MAX_HISTORY_WEEKS.
    expect(weeklyCalendar('2022-01-03', '2025-01-05')).toEqual({ firstWeek: '2022-01-10', weeks: 156, firstPhase: 1 });
    expect(weeklyCalendar('2022-01-01', '2024-12-31', 52)).toEqual({ firstWeek: '2024-01-01', weeks: 52, firstPhase: 0 });
    expect(weeklyCalendar('2024-12-31', '2025-01-03').weeks).toBe(0);
    const calendar = weeklyCalendar('2022-01-01', '2024-12-31');
    expect([weekAt(calendar, 0), weekAt(calendar, calendar.weeks - 1), weekAt(calendar, calendar.weeks)]).toEqual(['2022-01-03', '2024-12-23', '2024-12-30']);
  });

  it('count complete calendar months', () => {
    expect(monthlyCalendar('2022-01-01', '2024-12-31')).toEqual({ firstMonth: '2022-01', months: 36, firstPhase: 0 });
    expect(monthlyCalendar('2022-01-02', '2024-12-30')).toEqual({ firstMonth: '2022-02', months: 34, firstPhase: 1 });
    expect(monthlyCalendar('2022-01-01', '2024-12-31', 24)).toEqual({ firstMonth: '2023-01', months: 24, firstPhase: 0 });
    const calendar = monthlyCalendar('2022-01-01', '2024-12-31');
    expect([monthAt(calendar, 35), monthAt(calendar, 36), monthAt(calendar, 37)]).toEqual(['2024-12', '2025-01', '2025-02']);
  });
});

describe('weekly loans on a known store', () => {
  let tiny: CountingStore;
  beforeAll(async () => {
    tiny = await tinyLibrary();
  });
  afterAll(async () => {
    await tiny.store.close();
  });

  it('reads a batch with one query on books and one on loans, in request order, null-free only for books', async () => {
    const asOf = await readAsOf(tiny.store);
    const { weekly } = await demandCalendars(tiny.store, asOf);
    // Loans start on Thursday 2025-05-01; the system date is Monday 2025-06-30.
    expect(weekly).toEqual({ firstWeek: '2025-05-05', weeks: 8, firstPhase: 17 });
    tiny.reset();
    const batch = await bookWeeklyLoans(tiny.store, [3, 999, 3, 1], weekly);
    expect(Object.fromEntries(tiny.counts)).toEqual({ books: 1, loans: 1 });
    expect(batch.bookIds).toEqual([3, 1]);
    expect(batch.rowOf).toEqual([0, -1, 0, 1]);
    // Each book went out twice on 2025-05-01 (before the first complete week) and twice on Friday 2025-06-20.
    expect(batch.series.map((s) => Array.from(s.values))).toEqual([
      [0, 0, 0, 0, 0, 0, 2, 0],
      [0, 0, 0, 0, 0, 0, 2, 0],
    ]);
    expect(batch.series.every((s) => s.firstPhase === weekly.firstPhase)).toBe(true);
    tiny.reset();
    expect(await bookWeeklyLoans(tiny.store, [], weekly)).toEqual({ bookIds: [], series: [], rowOf: [] });
    expect(tiny.counts.size).toBe(0);
  });

  it('reads every collection series with one query on loans per few days of checkouts, letting other work run between them', async () => {
    const asOf = await readAsOf(tiny.store);
    const { monthly } = await demandCalendars(tiny.store, asOf);
    expect(monthly).toEqual({ firstMonth: '2025-05', months: 2, firstPhase: 4 });
    const keys = allCollectionKeys(await collectionDimensions(tiny.store));
    expect(keys).toHaveLength(1 + 2 + 2 + 4);
    tiny.reset();
    // Turns of the event loop while the series are read: one at least between two queries.
    let turns = 0;
    let counting = true;
    const count = (): void => {
      turns += 1;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const series = await collectionMonthlyLoans(tiny.store, keys, monthly);
    counting = false;
    // May and June 2025: 61 days.
    const queries = Math.ceil(61 / DAYS_PER_COLLECTION_READ);
    expect(Object.fromEntries(tiny.counts)).toEqual({ loans: queries, books: queries });
    expect(turns).toBeGreaterThanOrEqual(queries - 1);
    const byKey = new Map(keys.map((k, i) => [`${k.genre}@${k.branchId}`, Array.from(series[i]!.values)]));
    // 60 loans in May and 60 in June, all at branch 1, books alternating Mystery and Fantasy.
    expect(byKey.get('null@null')).toEqual([60, 60]);
    expect(byKey.get('Fantasy@null')).toEqual([30, 30]);
    expect(byKey.get('Mystery@1')).toEqual([30, 30]);
    expect(byKey.get('null@2')).toEqual([0, 0]);
  });

  it('keeps the months an earlier read knew but its last one, and reads the rest again', async () => {
    const { monthly } = await demandCalendars(tiny.store, await readAsOf(tiny.store));
    const keys = allCollectionKeys(await collectionDimensions(tiny.store));
    // Marked values: kept months answer 999, months read again answer what the loans say.
    const known = { calendar: monthly, series: keys.map(() => ({ values: [999, 999], firstPhase: monthly.firstPhase })) };
    tiny.reset();
    const series = await collectionMonthlyLoans(tiny.store, keys, monthly, known);
    // Only June's 30 days are read.
    const queries = Math.ceil(30 / DAYS_PER_COLLECTION_READ);
    expect(Object.fromEntries(tiny.counts)).toEqual({ loans: queries, books: queries });
    const byKey = new Map(keys.map((k, i) => [`${k.genre}@${k.branchId}`, Array.from(series[i]!.values)]));
    expect(byKey.get('null@null')).toEqual([999, 60]);
    expect(byKey.get('Fantasy@null')).toEqual([999, 30]);
    expect(byKey.get('null@2')).toEqual([999, 0]);
    const otherStart = { ...known, calendar: { ...monthly, firstMonth: '2025-04' } };
    expect(Array.from((await collectionMonthlyLoans(tiny.store, keys, monthly, otherStart))[0]!.values)).toEqual([60, 60]);
  });
});

describe('collection series on a worker thread', () => {
  let dir: string;
  let tiny: CountingStore;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-demand-thread-'));
    tiny = await tinyLibrary(60, 30, path.join(dir, 'library.db'));
  });
  afterAll(async () => {
    await tiny.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the same series as the calling thread, which keeps taking turns meanwhile', async () => {
    const { monthly } = await demandCalendars(tiny.store, await readAsOf(tiny.store));
    const keys = allCollectionKeys(await collectionDimensions(tiny.store));
    const here = await collectionMonthlyLoans(tiny.store, keys, monthly);
    let turns = 0;
    let counting = true;
    const count = (): void => {
      turns += 1;
      if (counting) setTimeout(count, 1);
    };
    count();
    tiny.reset();
    const there = await collectionMonthlyLoansOffThread(tiny.store, keys, monthly);
    counting = false;
    expect(there.map((s) => Array.from(s.values))).toEqual(here.map((s) => Array.from(s.values)));
    expect(Array.from(there[0]!.values)).toEqual([60, 60]);
    // The thread read the loans on its own connection: none went through this one.
    expect(tiny.counts.get('loans') ?? 0).toBe(0);
    // Starting a thread and reading took several milliseconds, and this thread was free for them.
    expect(turns).toBeGreaterThan(2);
  });
});

describe('weekly loans on the simulated library: training and serving read the same series', () => {
  let store: Store;
  let asOf: string;
  beforeAll(async () => {
    const library = await smallLibrary();
    store = openStore(library.databaseUrl, { readonly: true });
    asOf = await readAsOf(store);
  }, 300_000);
  afterAll(async () => {
    await store.close();
  });

  it('gives a book the same weeks read alone (serving) as read with every book (training), matching its loans', async () => {
    const { weekly } = await demandCalendars(store, asOf);
    const all = (await store.db.selectFrom('books').select('id').orderBy('id').execute()).map((r) => r.id);
    const bulk = await bookWeeklyLoans(store, all, weekly);
    const totals = bulk.series.map((s) => Array.from(s.values).reduce((a, b) => a + b, 0));
    const busiest = bulk.bookIds[totals.indexOf(Math.max(...totals))]!;
    for (const id of [busiest, all[0]!, all[all.length - 1]!]) {
      const single = await bookWeeklyLoans(store, [id], weekly);
      expect({ id, weeks: Array.from(single.series[0]!.values) }).toEqual({ id, weeks: Array.from(bulk.series[bulk.rowOf[all.indexOf(id)]!]!.values) });
    }
    const loans = await store.db
      .selectFrom('loans')
      .select('checked_out_at')
      .where('book_id', '=', busiest)
      .where('checked_out_at', '>=', weekly.firstWeek)
      .where('checked_out_at', '<', weekAt(weekly, weekly.weeks))
      .execute();
    const counted = new Array<number>(weekly.weeks).fill(0);
    for (const loan of loans) counted[Math.floor(daysBetween(weekly.firstWeek, loan.checked_out_at) / 7)]! += 1;
    expect(Array.from(bulk.series[bulk.rowOf[all.indexOf(busiest)]!]!.values)).toEqual(counted);
    expect(loans.length).toBeGreaterThan(5);
  });
});

describe('model inputs: every period ahead in one run', () => {
  const history = syntheticDemand({ series: 12, periods: 30, seasonLength: 12, seed: 3 });
  let oneStep: DemandModel;
  let direct: DemandModel;

  beforeAll(async () => {
    oneStep = await trainDemandModel(history, { seasonLength: 12, window: 3, epochs: 3, validationPeriods: 3, seed: 2 });
    direct = await trainDemandModel(history, { seasonLength: 12, window: 3, epochs: 3, strategy: 'direct', outputs: 4, seed: 2 });
  }, 60_000);

  async function run(model: DemandModel, horizon: number, loansPerUnit = 1) {
    const session = await openServingSession(encodeDemandModel(model));
    try {
      const spec = { description: model.description, loansPerUnit };
      const inputs = demandModelInputs(spec, history, horizon);
      const out = await session.run(demandTensors(inputs));
      return { inputs, forecasts: demandForecasts(spec, history, inputs, out[DEMAND_TENSORS.forecast]!.data as Float32Array, { intervals: true }) };
    } finally {
      await session.release();
    }
  }

  it('gives a one-step model one row per series and period ahead, the first equal to DemandForecaster', async () => {
    const { inputs, forecasts } = await run(oneStep, 5);
    expect({ rows: inputs.rows, outputs: inputs.outputs, steps: inputs.steps }).toEqual({ rows: 12 * 5, outputs: 1, steps: 3 });
    const reference = await (await DemandForecaster.create(encodeDemandModel(oneStep))).forecast(history, 1, { intervals: true });
    expect(forecasts.map((f) => f.values[0])).toEqual(reference.map((f) => f.values[0]));
    expect(forecasts.map((f) => f.low![0])).toEqual(reference.map((f) => f.low![0]));
    expect(forecasts.every((f) => f.method === 'lstm' && f.values.length === 5 && f.high!.length === 5)).toBe(true);
  });

  it('sets each period ahead its own anchor: the same period a season earlier', async () => {
    const { inputs } = await run(oneStep, 4);
    const first = history[0]!.values;
    expect(Array.from(inputs.anchors.subarray(0, 4))).toEqual([0, 1, 2, 3].map((k) => Math.fround(Math.log1p(first[30 - 12 + k]!))));
  });

  it('reads a direct model once per series, exactly as DemandForecaster does', async () => {
    const { inputs, forecasts } = await run(direct, 4);
    expect({ rows: inputs.rows, outputs: inputs.outputs }).toEqual({ rows: 12, outputs: 4 });
    const reference = await (await DemandForecaster.create(encodeDemandModel(direct))).forecast(history, 4);
    expect(forecasts.map((f) => f.values)).toEqual(reference.map((f) => f.values));
  });

  it('reads a series in units of loansPerUnit loans and answers in loans', async () => {
    const { inputs, forecasts } = await run(oneStep, 3, 5);
    const first = history[0]!.values;
    expect(inputs.anchors[0]).toBe(Math.fround(Math.log1p(first[30 - 12]! / 5)));
    const session = await openServingSession(encodeDemandModel(oneStep));
    try {
      const out = await session.run(demandTensors(inputs));
      const units = out[DEMAND_TENSORS.forecast]!.data as Float32Array;
      expect(forecasts[0]!.values).toEqual([0, 1, 2].map((k) => units[k]! * 5));
    } finally {
      await session.release();
    }
  });

  it('leaves short series out of the run with their fallback, and refuses horizons the model cannot reach', async () => {
    const spec = { description: oneStep.description, loansPerUnit: 2 };
    const series = [history[0]!, { values: Array.from(history[1]!.values).slice(0, 13), firstPhase: 0 }, { values: [4, 5], firstPhase: 0 }];
    const inputs = demandModelInputs(spec, series, 2);
    expect(inputs.lstmSeries).toEqual([0]);
    const forecasts = demandForecasts(spec, series, inputs, new Float32Array([1, 2]));
    expect(forecasts.map((f) => f.method)).toEqual(['lstm', 'seasonal-naive', 'last-value']);
    // The run answers in units (2 loans each); fallbacks repeat loans as they were.
    expect(forecasts.map((f) => f.values)).toEqual([[2, 4], [history[1]!.values[1], history[1]!.values[2]], [5, 5]]);
    expect(maxHorizon(oneStep.description)).toBe(12);
    expect(() => demandModelInputs(spec, series, 13)).toThrow('horizon must be an integer from 1 to 12, got 13');
    expect(() => demandModelInputs({ description: direct.description, loansPerUnit: 1 }, series, 5)).toThrow('from 1 to 4');
  });
});
