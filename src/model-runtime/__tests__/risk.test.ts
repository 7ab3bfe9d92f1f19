import { describe, expect, it } from '@jest/globals';
import type { Tensor } from 'onnxruntime-node';
import type { LoadedModel, ModelSlot, ServingMetadata } from '../model-slot';
import { featureColumns, parseRiskServing, scoreRisks, withReferenceRows, type FeatureBatch, type RiskServing } from '../risk';

const names = ['loans_90d', 'renewals', 'days_late', 'tenure'];
const reference = [2, 0, 0.1, 365];
const weights = [-0.3, 0.8, 1.7, -0.002];

/** A stand-in classifier, row by row like a tree ensemble: each row's output depends on that row only. */
function probabilityOf(row: ArrayLike<number>): number {
  let z = 0.5;
  for (let j = 0; j < row.length; j++) z += weights[j]! * row[j]!;
  return Math.fround(1 / (1 + Math.exp(-z)));
}

function fakeSlot(columns?: number[]): { slot: ModelSlot<RiskServing>; rowsSent: number[] } {
  const model = {
    name: 'fake',
    version: '1.0.0',
    ref: { name: 'fake', version: '1.0.0', arm: null },
    serving: { reference, riskThresholds: { medium: 0.3, high: 0.6 }, ...(columns ? { columns } : {}) },
    dir: '',
    metadata: { featureSpec: names.map((name) => ({ name })), serving: { reference, riskThresholds: { medium: 0.3, high: 0.6 } } },
    sessions: {},
    artefacts: {},
  } as unknown as LoadedModel;
  const rowsSent: number[] = [];
  const slot = {
    current: () => model,
    run: async (_n: number, build: (m: LoadedModel) => Record<string, Tensor>, read: (outputs: Record<string, unknown>, m: LoadedModel) => unknown) => {
      const features = build(model).features!;
      const [rows, d] = features.dims as [number, number];
      rowsSent.push(rows);
      const data = features.data as Float32Array;
      const probability = new Float32Array(rows);
      for (let r = 0; r < rows; r++) probability[r] = probabilityOf(data.subarray(r * d, (r + 1) * d));
      return { result: read({ probability: { data: probability } }, model), model };
    },
  } as unknown as ModelSlot<RiskServing>;
  return { slot, rowsSent };
}

/** The definition, every substitution scored: weight = p(row) - p(row with feature j at its reference), zero weights left out. */
function expectedFactors(row: Float32Array, top: number) {
  const p = probabilityOf(row);
  const factors = names
    .map((feature, j) => {
      const changed = Float32Array.from(row);
      changed[j] = reference[j]!;
      return { feature, weight: p - probabilityOf(changed), value: row[j]!, reference: reference[j]! };
    })
    .filter((f) => f.weight !== 0)
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
  return { probability: p, factors: factors.slice(0, top) };
}

const batch: FeatureBatch = {
  names,
  n: 4,
  values: Float32Array.from([
    ...[5, 0, 0.1, 900], // two features at their reference
    ...[2, 0, 0.1, 365], // every feature at its reference: no factor
    ...[1, 3, 2.5, 40], // none at its reference
    ...[2, 1, 0.1000001, 365], // 0.1000001 is another float32 than 0.1
  ]),
};

describe('risk explanations', () => {
  it('sends only the substitutions that change a row, and says where each one is', () => {
    const { rows, rowOf } = withReferenceRows(batch, reference);
    const d = names.length;
    // 4 rows + 2 + 0 + 4 + 2 changed substitutions.
    expect(rows.length / d).toBe(12);
    expect(Array.from(rowOf.subarray(0, d + 1))).toEqual([0, 1, -1, -1, 2]);
    expect(Array.from(rowOf.subarray(d + 1, 2 * (d + 1)))).toEqual([3, -1, -1, -1, -1]);
    // Entity 0's substitution of feature 0 is its row with loans_90d at 2.
    expect(Array.from(rows.subarray(1 * d, 2 * d))).toEqual([2, 0, Math.fround(0.1), 900]);
  });

  it('gives the factors of the definition, scoring every substitution', async () => {
    const { slot, rowsSent } = fakeSlot();
    const { risks, model } = await scoreRisks(slot, batch, { topFactors: 3 });
    expect(model).toEqual({ name: 'fake', version: '1.0.0', arm: null });
    expect(rowsSent).toEqual([12]);
    risks.forEach((risk, i) => {
      const expected = expectedFactors(batch.values.slice(i * names.length, (i + 1) * names.length), 3);
      expect(risk.probability).toBe(expected.probability);
      expect(risk.factors.map((f) => ({ feature: f.feature, weight: f.weight, value: f.value, reference: f.reference }))).toEqual(expected.factors);
    });
    expect(risks[1]!.factors).toEqual([]);
    expect(risks[3]!.factors.map((f) => f.feature)).toEqual(expect.arrayContaining(['renewals']));
  });

  it('sends the rows alone when no explanation is asked for', async () => {
    const { slot, rowsSent } = fakeSlot();
    const { risks } = await scoreRisks(slot, batch, { explain: false });
    expect(rowsSent).toEqual([4]);
    expect(risks.map((r) => r.probability)).toEqual([0, 1, 2, 3].map((i) => probabilityOf(batch.values.subarray(i * 4, i * 4 + 4))));
    expect(risks.every((r) => r.factors.length === 0)).toBe(true);
  });

  it('gives a version that takes some of the served columns its own, in its order, with factors named by them', async () => {
    // Served: the batch with one more column, and its columns in another order; the version takes the original four.
    const servedNames = ['tenure', 'extra', 'loans_90d', 'days_late', 'renewals'];
    const served: FeatureBatch = {
      names: servedNames,
      n: batch.n,
      values: Float32Array.from({ length: batch.n * 5 }, (_, k) => {
        const i = Math.floor(k / 5);
        const j = k % 5;
        return j === 1 ? 99 : batch.values[i * 4 + names.indexOf(servedNames[j]!)]!;
      }),
    };
    const metadata = { name: 'fake', version: '1.0.0', featureSpec: names.map((name) => ({ name })), serving: { reference, riskThresholds: { medium: 0.3, high: 0.6 } } } as unknown as ServingMetadata;
    const columns = featureColumns(metadata, servedNames)!;
    expect(columns).toEqual([2, 4, 3, 0]);
    expect(parseRiskServing(metadata, servedNames, { subset: true }).columns).toEqual(columns);
    expect(() => parseRiskServing(metadata, servedNames)).toThrow(/differs from the serving features/);
    expect(() => featureColumns(metadata, ['tenure', 'loans_90d'])).toThrow(/renewals, days_late/);
    expect(featureColumns(metadata, names)).toBeUndefined();

    const { slot, rowsSent } = fakeSlot(columns);
    const { risks } = await scoreRisks(slot, served, { topFactors: 3 });
    expect(rowsSent).toEqual([12]);
    risks.forEach((risk, i) => {
      const expected = expectedFactors(batch.values.slice(i * names.length, (i + 1) * names.length), 3);
      expect(risk.probability).toBe(expected.probability);
      expect(risk.factors.map((f) => ({ feature: f.feature, weight: f.weight, value: f.value, reference: f.reference }))).toEqual(expected.factors);
    });
  });
});
