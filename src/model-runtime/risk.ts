/**
 * Risk predictions with explanations, for any classifier whose graph maps `features`
 * [batch, d] to `probability` [batch].
 *
 * Explanations are computed in the same inference run as the predictions: for each entity the
 * batch holds its own row plus d copies with one feature set to its reference value (the
 * training median). A factor's weight is p(row) - p(row with that feature at reference). One
 * run of n x (d + 1) rows costs little more than one of n rows of a small tree model
 * (BENCHMARKS.md), and needs no second round of calls per entity.
 *
 * A substitution that leaves the row as it is (the feature already at its reference) is not
 * sent: its probability is the row's own, so its weight is 0 and it is never a factor.
 */
import { Tensor } from 'onnxruntime-node';
import { FactorDirection, RiskLevel, type Factor, type ModelRef } from '../graphql/prediction-types';
import { checkFeatureSpec, type ModelSlot, type ServingMetadata } from './model-slot';

export interface FeatureBatch {
  /** Row-major n x d. */
  values: Float32Array;
  n: number;
  names: readonly string[];
}

export interface RiskThresholds {
  /** Probability at or above which a risk is MEDIUM. */
  medium: number;
  /** Probability at or above which a risk is HIGH. */
  high: number;
}

export interface ScoredRisk {
  probability: number;
  level: RiskLevel;
  factors: Factor[];
}

/** What a classifier's subgraph reads from metadata.serving. */
export interface RiskServing {
  /** Per feature of the version, the value a factor's substitution sets it to (the training median). */
  reference: number[];
  riskThresholds: RiskThresholds;
  /**
   * Set when the version takes some of the served feature columns, or takes them in another
   * order: for each of its features, its column in the served batch. Absent when it takes the
   * batch as it is.
   */
  columns?: number[];
}

/**
 * For each of a version's features, its column among the `served` ones; undefined when the
 * version takes exactly the served columns. Throws when the version needs a feature the serving
 * code does not compute.
 */
export function featureColumns(metadata: Pick<ServingMetadata, 'name' | 'version' | 'featureSpec'>, served: readonly string[]): number[] | undefined {
  const spec = (metadata.featureSpec ?? []).map((f) => f.name);
  if (spec.join(',') === served.join(',')) return undefined;
  const missing = spec.filter((name) => !served.includes(name));
  if (spec.length === 0 || missing.length > 0) {
    throw new Error(`${metadata.name} ${metadata.version}: feature spec [${spec.join(', ')}] needs features the serving code does not compute: ${missing.join(', ') || '(empty spec)'}`);
  }
  return spec.map((name) => served.indexOf(name));
}

/** Keeps `columns` (in that order) of a row-major batch of width d. */
export function pickColumns(values: Float32Array, d: number, columns: readonly number[]): Float32Array {
  const n = Math.floor(values.length / d);
  const k = columns.length;
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out[i * k + j] = values[i * d + columns[j]!]!;
  return out;
}

/** The batch as a version takes it: its own columns of the served ones (the batch itself when it takes them all). */
export function versionBatch(batch: FeatureBatch, columns: readonly number[] | undefined): FeatureBatch {
  if (!columns) return batch;
  return { values: pickColumns(batch.values, batch.names.length, columns), n: batch.n, names: columns.map((j) => batch.names[j]!) };
}

/**
 * Reads metadata.serving of a classifier version: one reference value per feature and the risk
 * thresholds. The version's feature spec must be `featureNames`, or, with `subset`, any of them
 * in any order (the model whose feature list grew keeps serving its earlier versions, each
 * scored on its own columns).
 */
export function parseRiskServing(metadata: ServingMetadata, featureNames: readonly string[], { subset = false }: { subset?: boolean } = {}): RiskServing {
  const columns = subset ? featureColumns(metadata, featureNames) : (checkFeatureSpec(metadata, featureNames), undefined);
  const serving = metadata.serving as Partial<RiskServing> | undefined;
  const d = columns?.length ?? featureNames.length;
  const thresholds = serving?.riskThresholds;
  if (!serving?.reference || serving.reference.length !== d || typeof thresholds?.medium !== 'number' || typeof thresholds.high !== 'number') {
    throw new Error(`${metadata.name} ${metadata.version}: metadata.serving needs reference[${d}] and riskThresholds { medium, high }`);
  }
  return { reference: serving.reference, riskThresholds: { medium: thresholds.medium, high: thresholds.high }, ...(columns ? { columns } : {}) };
}

export function riskLevel(probability: number, thresholds: RiskThresholds): RiskLevel {
  if (probability >= thresholds.high) return RiskLevel.HIGH;
  if (probability >= thresholds.medium) return RiskLevel.MEDIUM;
  return RiskLevel.LOW;
}

export interface ReferenceRows {
  /** Row-major m x d: each entity's row, then those of its substitutions that change it. */
  rows: Float32Array;
  /**
   * n x (d + 1): where entity i's row (k = 0) and its substitution of feature k - 1 are in
   * `rows`, or -1 for a substitution left out because it would not change the row.
   */
  rowOf: Int32Array;
}

/** The explanation batch: each row followed by the reference substitutions that change it. */
export function withReferenceRows(batch: FeatureBatch, reference: readonly number[]): ReferenceRows {
  const d = batch.names.length;
  // Compared as the graph sees them: float32.
  const ref = Float32Array.from(reference);
  const rowOf = new Int32Array(batch.n * (d + 1)).fill(-1);
  let m = 0;
  for (let i = 0; i < batch.n; i++) {
    rowOf[i * (d + 1)] = m++;
    for (let j = 0; j < d; j++) if (batch.values[i * d + j] !== ref[j]) rowOf[i * (d + 1) + 1 + j] = m++;
  }
  const rows = new Float32Array(m * d);
  for (let i = 0; i < batch.n; i++) {
    const row = batch.values.subarray(i * d, (i + 1) * d);
    for (let k = 0; k <= d; k++) {
      const at = rowOf[i * (d + 1) + k] ?? -1;
      if (at < 0) continue;
      rows.set(row, at * d);
      if (k > 0) rows[at * d + (k - 1)] = ref[k - 1]!;
    }
  }
  return { rows, rowOf };
}

/** The scores of one batch and the version that produced them, with its thresholds. */
export interface ScoredRisks {
  risks: ScoredRisk[];
  model: ModelRef;
  thresholds: RiskThresholds;
}

/** Scores a batch in one inference run; `explain` adds the top factors from the same run. */
export async function scoreRisks(
  slot: ModelSlot<RiskServing>,
  served: FeatureBatch,
  { explain = true, topFactors = 3 }: { explain?: boolean; topFactors?: number } = {},
): Promise<ScoredRisks> {
  if (served.n === 0) {
    const current = slot.current();
    return { risks: [], model: current.ref, thresholds: current.serving.riskThresholds };
  }
  let rowOf: Int32Array | undefined;
  // The columns of the version that runs the batch (read inside the run, so a swap cannot pair one version's columns with another's model).
  let batch = served;
  const { result: probabilities, model } = await slot.run(
    served.n,
    (m) => {
      batch = versionBatch(served, m.serving.columns);
      let rows = batch.values;
      if (explain) ({ rows, rowOf } = withReferenceRows(batch, m.serving.reference));
      const d = batch.names.length;
      return { features: new Tensor('float32', rows, [rows.length / d, d]) };
    },
    (outputs) => {
      const probability = outputs.probability;
      if (!probability) throw new Error(`${slot.name} answered without a "probability" output`);
      return probability.data as Float32Array;
    },
  );
  const serving = model.serving;
  const d = batch.names.length;
  const risks: ScoredRisk[] = [];
  for (let i = 0; i < batch.n; i++) {
    const probability = probabilities[rowOf ? (rowOf[i * (d + 1)] ?? -1) : i];
    if (probability === undefined) throw new Error(`${slot.name} ${model.version} answered ${probabilities.length} probabilities for a batch of ${batch.n}`);
    const factors: Factor[] = [];
    if (rowOf) {
      for (let j = 0; j < d; j++) {
        const substituted = probabilities[rowOf[i * (d + 1) + 1 + j] ?? -1];
        if (substituted === undefined) continue;
        const weight = probability - substituted;
        if (weight === 0) continue;
        factors.push({
          feature: batch.names[j]!,
          value: batch.values[i * d + j]!,
          reference: serving.reference[j]!,
          weight,
          direction: weight > 0 ? FactorDirection.RAISES : FactorDirection.LOWERS,
        });
      }
      factors.sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
    }
    risks.push({ probability, level: riskLevel(probability, serving.riskThresholds), factors: factors.slice(0, topFactors) });
  }
  return { risks, model: model.ref, thresholds: serving.riskThresholds };
}
