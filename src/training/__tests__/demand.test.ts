/**
 * The demand trainer on the small simulated library: what it registers besides model.onnx
 * (the collection graph, serving descriptions, forecast charts) and the figures it reports
 * next to its baselines. Parity and same-seed bytes are covered by trainers.test.ts.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { openServingSession } from '../../ml/onnx/session';
import { CHARTS_FILE, getProduction, type ModelMetadata } from '../../registry';
import type { ForecastChart } from '../../model-cards';
import { DEMAND_FEATURE_NAMES, DEMAND_TENSORS } from '../../ml/lstm';
import { demandServing, MAX_HORIZON_MONTHS, MAX_HORIZON_WEEKS } from '../../models/demand';
import { DEMAND_METHODS } from '../../evaluation/demand-baselines';
import { DEMAND_METHOD_LABELS } from '../../evaluation/demand-evaluation';
import { trainingSample } from '../demand';
import { smallLibrary } from '../../../test/fixtures/small-library';

let metadata: ModelMetadata;
let dir: string;

beforeAll(async () => {
  const library = await smallLibrary();
  const production = getProduction(library.modelsDir, 'demand');
  if (!production) throw new Error('the small library has no production demand version');
  metadata = production.metadata;
  dir = production.dir;
}, 300_000);

describe('the demand version', () => {
  it('carries a collection graph with the same tensors, recorded with its sha256', async () => {
    const file = metadata.files.find((f) => f.path === 'collection.onnx');
    expect(file?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const session = await openServingSession(readFileSync(path.join(dir, 'collection.onnx')));
    try {
      expect(session.inputNames).toEqual([DEMAND_TENSORS.features, DEMAND_TENSORS.sequenceLens, DEMAND_TENSORS.seasonalAnchor]);
      expect(session.outputNames).toContain(DEMAND_TENSORS.forecast);
    } finally {
      await session.release();
    }
  });

  it('tells the subgraph how to read both graphs, for the horizons the schema promises', () => {
    const serving = demandServing(metadata.serving);
    expect(serving.book.description).toMatchObject({ seasonLength: 52, strategy: 'recursive', seasonInputs: true });
    expect(serving.book.description.intervals?.coverage).toBe(0.8);
    expect(serving.collection.description).toMatchObject({ seasonLength: 12, strategy: 'recursive' });
    expect(serving.book.loansPerUnit).toBe(5);
    expect([serving.maxHorizonWeeks, serving.maxHorizonMonths]).toEqual([MAX_HORIZON_WEEKS, MAX_HORIZON_MONTHS]);
    expect(metadata.featureSpec.map((f) => f.name)).toEqual([...DEMAND_FEATURE_NAMES]);
  });

  it('refuses serving metadata it could not serve from', () => {
    const serving = metadata.serving as Record<string, unknown>;
    expect(() => demandServing(undefined)).toThrow('needs a positive loansPerUnit');
    expect(() => demandServing({ ...serving, maxHorizonWeeks: 60 })).toThrow('the model answers at most 52 in one run');
    expect(() => demandServing({ ...serving, collection: serving.book })).toThrow('has season length 52, expected 12');
  });

  it('reports squared and absolute errors against seasonal naive and the other baselines, for books and collections', () => {
    const { heldOut, baseline, otherBaselines = [] } = metadata.metrics;
    expect(metadata.headlineMetric).toEqual({ name: 'rmse', value: heldOut.rmse, higherIsBetter: false });
    expect(baseline.name).toMatch(/^seasonal naive/);
    expect(baseline.metrics.ratioToSeasonalNaive).toBe(1);
    // Every simple method but seasonal naive (the main baseline) and the method served for books.
    const served = demandServing(metadata.serving).methods!;
    expect(otherBaselines.map((b) => b.name)).toEqual([
      expect.stringMatching(/^trend-scaled seasonal naive/),
      ...DEMAND_METHODS.filter((m) => m !== 'seasonalNaive' && m !== served.book.method).map((m) => DEMAND_METHOD_LABELS[m]),
      'no loans (0 every week)',
    ]);
    const ranges = [served.book.method === 'lstm' ? 'intervalCoverage' : [], served.collection.method === 'lstm' ? 'collectionIntervalCoverage' : []].flat();
    for (const key of ['summedAbsoluteError', 'mae', 'ratioToSeasonalNaive', 'totalRatioToSeasonalNaive', 'bias', 'collectionRatioToSeasonalNaive', 'lstmRmse', 'collectionLstmRmse', ...ranges]) {
      expect(Number.isFinite(heldOut[key])).toBe(true);
    }
    expect(heldOut.booksForecastByLstm! + heldOut.booksForecastByFallback!).toBe(served.book.method === 'lstm' ? 10_000 : 0);
    expect(heldOut.rmse).toBeLessThan(baseline.metrics.rmse!);
    expect(metadata.notes).toContain('no oracle');
  });

  it('serves, per level, the candidate with the lowest mean RMSE over the backtest folds, and records every fold', () => {
    const served = demandServing(metadata.serving).methods!;
    const backtests = metadata.metrics.backtests ?? [];
    expect(backtests.map((b) => b.name)).toEqual(['books (weekly loans)', 'collections (monthly loans)']);
    backtests.forEach((b, i) => {
      const level = i === 0 ? served.book : served.collection;
      const best = b.candidates.reduce((x, y) => (y.mean < x.mean ? y : x));
      expect({ chosen: b.chosen, served: level.method }).toEqual({ chosen: best.name, served: best.name });
      expect(b.candidates.map((c) => c.name)).toEqual([...DEMAND_METHODS, 'lstm']);
      expect(b.folds).toHaveLength(3);
      expect(b.candidates.every((c) => c.scores.length === 3 && c.sd >= 0)).toBe(true);
    });
    expect([metadata.hyperparameters.bookMethod, metadata.hyperparameters.collectionMethod]).toEqual([served.book.method, served.collection.method]);
    // The folds validate inside the training window: the last ends before the first held-out week.
    expect(backtests[0]!.folds.at(-1)).toMatch(/ to 2024-09-23$/);
    expect(readFileSync(path.join(dir, 'card.html'), 'utf8')).toContain('Chosen by backtest: books (weekly loans)');
  });

  it('draws actual against forecast, with ranges where the LSTM serves, for the most borrowed book and for the library', () => {
    const charts = JSON.parse(readFileSync(path.join(dir, CHARTS_FILE), 'utf8')) as ForecastChart[];
    expect(charts.map((c) => c.kind)).toEqual(['forecast', 'forecast']);
    expect(charts[0]!.title).toMatch(/^Weekly loans of ".+", the most borrowed book$/);
    expect(charts[1]!.title).toBe('Monthly loans, whole library');
    const forecast = charts[0]!.points.filter((p) => p.forecast !== null);
    expect(forecast).toHaveLength(13);
    const ranged = demandServing(metadata.serving).methods?.book.method === 'lstm';
    expect(forecast.every((p) => p.actual !== null && (ranged ? p.low! <= p.forecast! && p.forecast! <= p.high! : p.low === undefined))).toBe(true);
    expect(charts[1]!.points.filter((p) => p.forecast !== null)).toHaveLength(6);
  });
});

describe('trainingSample', () => {
  it('spreads the sample evenly over the popularity ranking, best-seller first, ties by position', () => {
    expect(trainingSample([5, 0, 9, 9, 1, 3], 3)).toEqual([2, 0, 4]);
    expect(trainingSample([1, 2], 5)).toEqual([1, 0]);
  });
});
