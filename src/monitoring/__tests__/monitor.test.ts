/**
 * The live monitor on a writable copy of the small library that lives on for 30 simulated days:
 * every day the open loans' overdue risk is logged (the simulator's true probability as the
 * score) and the monitor runs once, incrementally. Its live AUC then equals the AUC computed
 * offline from the same log and the same loans (up to its documented bin error), its gauges
 * carry the same figure, the judged predictions are in the store, the CBPE estimate is labelled
 * as one, and a version without drift references says so. Churn answers a rule gave (LAPSED)
 * stay out of churn's live figures. Overdue's drift window holds each loan once, as of its
 * checkout day, and its outcome ratio the loans seen from their checkout day. Recommendations'
 * drift window holds the borrowers of the days it served lists on. The monitor's own thread, as the library subgraph runs it,
 * answers the same health and sets the same gauges as a monitor on the calling thread.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rmSync } from 'node:fs';
import { readClock } from '../../circulation';
import { createLogger } from '../../logging';
import { createProcessMetrics, type ProcessMetrics } from '../../metrics';
import { auc } from '../../ml/metrics';
import { getProduction } from '../../registry';
import { liveOn } from '../../simulator';
import { migrateStore, openStore, type Store } from '../../store';
import { addDays } from '../../util/dates';
import { LiveMonitor, type ModelHealth } from '../monitor';
import { startMonitorThread } from '../monitor-thread';
import { judgeOutcomes, liveOutcomes, RULE_ANSWER_LABEL } from '../outcomes';
import type { PredictionRecord } from '../prediction-log';
import { createStorePredictionSink } from '../prediction-log-store';
import { smallLibrary, writableCopy, type SmallLibrary } from '../../../test/fixtures/small-library';

const DAYS = 30;
let copy: SmallLibrary;
let store: Store;
let metrics: ProcessMetrics;
let monitor: LiveMonitor;
let version = '';
let listsVersion = '';
let clock = '';
const logged: PredictionRecord[] = [];

beforeAll(async () => {
  copy = writableCopy(await smallLibrary({ models: ['overdue', 'churn', 'recommendations'] }));
}, 1_200_000);

beforeAll(async () => {
  store = openStore(copy.databaseUrl);
  await migrateStore(store);
  version = getProduction(copy.modelsDir, 'overdue')?.version ?? '';
  listsVersion = getProduction(copy.modelsDir, 'recommendations')?.version ?? '';
  metrics = createProcessMetrics('library');
  monitor = new LiveMonitor({ store, modelsDir: copy.modelsDir, metrics, logger: createLogger('monitor-test', 'warn'), clock: () => readClock(store) });
  const sink = createStorePredictionSink(store.db);
  let sequence = 0;
  // Day d: the open loans are scored at the clock of day d and the monitor runs; one continuous liveOn moves the days.
  const logDay = async (day: number): Promise<void> => {
    const today = await readClock(store);
    const open = await store.db
      .selectFrom('loans')
      .innerJoin('sim_loan_truth', 'sim_loan_truth.loan_id', 'loans.id')
      .select(['loans.id', 'loans.member_id', 'sim_loan_truth.late_probability'])
      .where('returned_at', 'is', null)
      .where('due_at', '>=', today)
      .execute();
    const records: PredictionRecord[] = open.map((loan) => {
      sequence += 1;
      return {
        processId: 'overdue-test', sequence, acceptedThrough: sequence, requestId: `day-${day}`, at: new Date(Date.UTC(2030, 0, 1, 0, 0, sequence)).toISOString(), asOf: today,
        model: 'overdue', version, arm: null, entityKind: 'loan', entityId: String(loan.id), score: loan.late_probability, items: null, label: null, factors: [], features: null, featureRef: `as-of:${today}`,
      };
    });
    // One member's recommendations a day: recommendations' drift window is the day's borrowers, not the members lists were for.
    const list: PredictionRecord = {
      processId: 'recommendations-test', sequence: day + 1, acceptedThrough: day + 1, requestId: `day-${day}`, at: new Date(Date.UTC(2030, 0, 1, 0, 0, day)).toISOString(), asOf: today,
      model: 'recommendations', version: listsVersion, arm: null, entityKind: 'member', entityId: '1', score: null, items: [{ id: '1', score: 1 }], label: null, factors: [], features: null, featureRef: null,
    };
    await sink.write([...records, list]);
    logged.push(...records);
    await monitor.runOnce();
  };
  await logDay(0);
  await liveOn(store, { days: DAYS, onDay: async (lived) => (lived.index < DAYS ? logDay(lived.index) : undefined) });
  await monitor.runOnce();
  clock = await readClock(store);
}, 900_000);

afterAll(async () => {
  await monitor?.stop();
  await store?.close();
  if (copy) rmSync(copy.dir, { recursive: true, force: true });
});

describe('live quality, run incrementally, equals the same figures computed offline', () => {
  it('has the offline AUC of the same loans, within the bin error it reports', async () => {
    const known = liveOutcomes(await judgeOutcomes(store, 'overdue', logged, clock)).filter((j) => (j.outcome?.knownOn ?? '') > addDays(clock, -30));
    const offline = auc(known.map((j) => j.prediction.score ?? 0), known.map((j) => j.outcome?.value ?? 0));
    const health = monitor.health('overdue', '30d').find((h) => h.version === version);
    const live = health?.metrics.find((m) => m.name === 'auc' && !m.estimated);
    expect(known.length).toBeGreaterThan(100);
    expect(live?.rows).toBe(known.length);
    expect(Math.abs((live?.value ?? NaN) - offline)).toBeLessThanOrEqual(0.001);
    expect(live?.low).toBeLessThan(live?.value ?? NaN);
    expect(live?.high).toBeGreaterThan(live?.value ?? NaN);
    expect(health?.knownOutcomes).toBe(known.length);

    const gauge = (await metrics.registry.getSingleMetric('model_live_metric')?.get())?.values.find((v) => v.labels.model === 'overdue' && v.labels.version === version && v.labels.metric === 'auc' && v.labels.window === '30d');
    expect(gauge?.value).toBeCloseTo(live?.value ?? NaN, 12);
  });

  it('labels the CBPE estimate from served probabilities as an estimate', () => {
    const estimate = monitor.health('overdue', 'week').find((h) => h.version === version)?.metrics.find((m) => m.name === 'auc' && m.estimated);
    expect(estimate?.rows).toBeGreaterThan(0);
    expect(estimate?.value).toBeGreaterThan(0.5);
  });

  it('writes every judged prediction to the store, the known ones with their outcome', async () => {
    const all = liveOutcomes(await judgeOutcomes(store, 'overdue', logged, clock));
    const rows = await store.db.selectFrom('prediction_outcomes' as never).selectAll().where('model' as never, '=', 'overdue' as never).where('status' as never, '=', 'known' as never).execute() as unknown as Array<{ subject: string; outcome: number; sequence: number }>;
    expect(rows).toHaveLength(all.length);
    const bySubject = new Map(rows.map((r) => [r.subject, r]));
    for (const j of all.slice(0, 50)) {
      expect(bySubject.get(j.subject)?.outcome).toBe(j.outcome?.value);
      expect(Number(bySubject.get(j.subject)?.sequence)).toBe(j.prediction.sequence);
    }
  });

  it('says "no reference" for drift when the version carries none, and compares the score when it does', () => {
    const health = monitor.health('overdue', 'week').find((h) => h.version === version);
    const metadata = getProduction(copy.modelsDir, 'overdue')?.metadata as unknown as { driftReferences?: unknown };
    expect(health?.driftReference).toBe(metadata.driftReferences !== undefined);
    if (health?.driftReference) expect(health.drift.map((d) => d.feature)).toContain('__score__');
    else expect(health?.drift).toEqual([]);
  });
});

describe("overdue's drift window and outcome ratio: each loan once, from its checkout day", () => {
  const checkoutDays = async () => new Map((await store.db.selectFrom('loans').select(['id', 'checked_out_at']).execute()).map((l) => [String(l.id), l.checked_out_at]));

  it('holds the loans first asked about on their checkout day, once each, not every open loan of every day', async () => {
    const checkedOut = await checkoutDays();
    const weekFrom = addDays(clock, -7);
    const inWeek = logged.filter((r) => (r.asOf ?? '') > weekFrom);
    const atCheckout = new Set(inWeek.filter((r) => r.asOf === checkedOut.get(r.entityId)).map((r) => r.entityId));
    const health = monitor.health('overdue', 'week').find((h) => h.version === version);
    expect(health?.driftReference).toBe(true);
    expect(atCheckout.size).toBeGreaterThan(20);
    // The open loans of each day: every loan counted once for each day it stayed out.
    expect(inWeek.length).toBeGreaterThan(3 * atCheckout.size);
    for (const feature of ['renewals', 'book_popularity', '__score__']) expect(health?.drift.find((d) => d.feature === feature)?.count).toBe(atCheckout.size);
  });

  it('counts in the outcome ratio only the settled loans it saw from their checkout day', async () => {
    const checkedOut = await checkoutDays();
    const fromCheckout = new Set(logged.filter((r) => r.asOf === checkedOut.get(r.entityId)).map((r) => `loan:${r.entityId}`));
    const settled = liveOutcomes(await judgeOutcomes(store, 'overdue', logged, clock)).filter((j) => (j.outcome?.settledOn ?? '') > addDays(clock, -30) && (j.outcome?.settledOn ?? '') <= clock);
    const kept = settled.filter((j) => fromCheckout.has(j.subject));
    // The loans already out on the first logged day settled in this window too: they are the ones left out.
    expect(settled.length - kept.length).toBeGreaterThan(20);
    expect(kept.length).toBeGreaterThan(20);
    const ratio = monitor.health('overdue', '30d').find((h) => h.version === version)?.metrics.find((m) => m.name === 'outcome_ratio' && !m.estimated);
    expect(ratio?.rows).toBe(kept.length);
  });
});

describe("recommendations' drift window: the borrowers of the days it served lists on", () => {
  it('holds the genre of every book checked out on each day that is over, and the history lengths of those days\' borrowers', async () => {
    const health = monitor.health('recommendations', 'week').find((h) => h.version === listsVersion);
    const metadata = getProduction(copy.modelsDir, 'recommendations')?.metadata as unknown as { driftThresholds?: { windowRows?: Record<string, number> } };
    const most = (feature: string) => metadata.driftThresholds?.windowRows?.[feature] ?? Infinity;
    // The week window ends at the clock; the clock's own day is not over.
    const loans = await store.db.selectFrom('loans').select(['member_id', 'checked_out_at']).where('checked_out_at', '>', addDays(clock, -7)).where('checked_out_at', '<', clock).execute();
    const borrowersByDay = new Set(loans.map((l) => `${l.member_id}@${l.checked_out_at}`));
    expect(health?.driftReference).toBe(true);
    expect(loans.length).toBeGreaterThan(50);
    expect(health?.drift.find((d) => d.feature === 'borrowed_genre')?.count).toBe(Math.min(loans.length, most('borrowed_genre')));
    expect(health?.drift.find((d) => d.feature === 'history_books')?.count).toBe(Math.min(borrowersByDay.size, most('history_books')));
  });
});

describe('churn answers a rule gave instead of the model', () => {
  it('leaves LAPSED answers out of the live AUC and the outcomes it counts', async () => {
    // Predictions made 95 days before the clock: "churned" outcomes are known 4 days ago, inside the 30-day window.
    const asOf = addDays(clock, -95);
    const churnVersion = getProduction(copy.modelsDir, 'churn')?.version ?? '';
    const members = await store.db.selectFrom('members').select('id').where('joined_at', '<=', asOf).orderBy('id').execute();
    const records: PredictionRecord[] = members.map((m, i) => ({
      processId: 'churn-test', sequence: i + 1, acceptedThrough: i + 1, requestId: 'churn', at: new Date(Date.UTC(2030, 0, 2, 0, 0, i)).toISOString(), asOf,
      model: 'churn', version: churnVersion, arm: null, entityKind: 'member', entityId: String(m.id), score: (m.id % 97) / 97,
      items: null, label: null, factors: [], features: {}, featureRef: null,
    }));
    const lapsed = records.map((r, i) => (i % 3 === 0 ? { ...r, score: 0.86, label: RULE_ANSWER_LABEL } : r));
    await createStorePredictionSink(store.db).write(lapsed);
    const churnMonitor = new LiveMonitor({ store, modelsDir: copy.modelsDir, metrics: createProcessMetrics('library'), logger: createLogger('monitor-test', 'warn'), clock: () => readClock(store) }, { persist: false });
    await churnMonitor.runOnce();

    const inWindow = async (rs: PredictionRecord[]) => liveOutcomes(await judgeOutcomes(store, 'churn', rs, clock)).filter((j) => (j.outcome?.knownOn ?? '') > addDays(clock, -30));
    const scored = await inWindow(lapsed.filter((r) => r.label === null));
    const labels = scored.map((j) => j.outcome?.value ?? 0);
    expect(labels.filter((l) => l === 1).length).toBeGreaterThan(0);
    expect(labels.filter((l) => l === 0).length).toBeGreaterThan(0);
    // Were LAPSED answers judged, the window would hold more outcomes than the scored ones.
    expect((await inWindow(records)).length).toBeGreaterThan(scored.length);
    expect((await judgeOutcomes(store, 'churn', lapsed.filter((r) => r.label !== null), clock)).every((j) => j.status === 'not_judged')).toBe(true);

    const health = churnMonitor.health('churn', '30d').find((h) => h.version === churnVersion);
    const live = health?.metrics.find((m) => m.name === 'auc' && !m.estimated);
    expect(live?.rows).toBe(scored.length);
    expect(health?.knownOutcomes).toBe(scored.length);
    expect(Math.abs((live?.value ?? NaN) - auc(scored.map((j) => j.prediction.score ?? 0), labels))).toBeLessThanOrEqual(0.001);
    await churnMonitor.stop();
  });
});

describe("the monitor's own thread (what the library subgraph runs)", () => {
  it('answers the health and sets the gauges a monitor on the calling thread computes from the same log', async () => {
    const here = new LiveMonitor({ store, modelsDir: copy.modelsDir, metrics: createProcessMetrics('library'), logger: createLogger('monitor-test', 'warn'), clock: () => readClock(store) }, { persist: false });
    await here.runOnce();
    const served = createProcessMetrics('library');
    const thread = startMonitorThread({ databaseUrl: copy.databaseUrl, modelsDir: copy.modelsDir, clock: 'stored', intervalMs: 3_600_000, logLevel: 'warn', busyTimeoutMs: 2000 }, { metrics: served, logger: createLogger('monitor-test', 'warn') });
    try {
      expect(thread.health('overdue', 'week')).toEqual([]);
      await thread.nextRun();
      const withoutTime = (entries: ModelHealth[]) => entries.map(({ computedAt: _computedAt, ...rest }) => rest);
      for (const window of ['day', 'week', '30d'] as const) {
        const expected = here.health('overdue', window);
        expect(expected.length).toBeGreaterThan(0);
        expect(withoutTime(thread.health('overdue', window))).toEqual(withoutTime(expected));
      }
      const auc = (await served.modelLiveMetric.get()).values.find((v) => v.labels.model === 'overdue' && v.labels.metric === 'auc' && v.labels.window === 'week');
      expect(auc?.value).toBe(here.health('overdue', 'week')[0]?.metrics.find((m) => m.name === 'auc' && !m.estimated)?.value);
      expect((await served.modelOfflineMetric.get()).values.length).toBeGreaterThan(0);
      // The thread's own heap, not the serving thread's: it holds the monitor's windows.
      const heap = (await served.monitorThreadHeap.get()).values[0]?.value ?? 0;
      expect(heap).toBeGreaterThan(1024 * 1024);
      expect(heap).not.toBe(process.memoryUsage().heapUsed);
      // All the heap it holds, in use or not, is at least what it uses.
      expect((await served.monitorThreadHeapTotal.get()).values[0]?.value ?? 0).toBeGreaterThanOrEqual(heap);
    } finally {
      await thread.stop();
      await here.stop();
    }
  });
});
