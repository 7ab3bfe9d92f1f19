/** Tiny models and metadata for registry tests: a logistic scorer over a few features. */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeModel, node, tensor, valueInfo } from '../../ml/onnx/builder';
import { registerVersion } from '..';
import type { ModelMetadataDraft, ParityFile, RegisteredModel } from '..';
import { sha256 } from '../files';

export function tempModelsDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'shelfmark-registry-'));
}

export interface Scorer {
  weights: number[];
  bias: number;
  /** Name of the model's input tensor. */
  inputName?: string;
}

export function logisticModel({ weights, bias, inputName = 'features' }: Scorer): Uint8Array {
  return encodeModel({
    graph: {
      name: 'logistic',
      inputs: [valueInfo(inputName, 'float', ['batch', weights.length])],
      outputs: [valueInfo('probability', 'float', ['batch', 1])],
      initializers: [tensor('w', 'float', [weights.length, 1], weights), tensor('b', 'float', [1], [bias])],
      nodes: [node('MatMul', [inputName, 'w'], ['xw']), node('Add', ['xw', 'b'], ['logit']), node('Sigmoid', ['logit'], ['probability'])],
    },
  });
}

export const ROWS = [
  [0.1, 2, 3],
  [1, 0, 0.5],
  [0.3, 0.7, 1.1],
  [2, 1, 0],
];

/** What the "trained" scorer says in TypeScript, for parity.json. */
export function parityFor({ weights, bias, inputName = 'features' }: Scorer, rows: number[][] = ROWS.map((r) => r.slice(0, weights.length))): ParityFile {
  const scores = rows.map((row) => 1 / (1 + Math.exp(-(row.reduce((sum, x, i) => sum + x * weights[i]!, 0) + bias))));
  return {
    inputs: [{ name: inputName, type: 'float32', dims: [rows.length, weights.length], data: rows.flat() }],
    expected: [{ name: 'probability', data: scores }],
    tolerance: 1e-5,
  };
}

export function churnDraft(auc: number, featureNames: string[] = ['loans_last_90d', 'days_since_last_loan', 'renewal_rate']): ModelMetadataDraft {
  return {
    name: 'churn',
    created: '2024-06-30T12:00:00.000Z',
    task: 'classification',
    predicts: 'How likely a member is to stop borrowing in the next 90 days.',
    algorithm: 'gradient boosting',
    trainingData: { window: { from: '2022-01-01', to: '2024-06-30' }, rows: { train: 800, test: 200 }, asOf: '2024-06-30', seed: 7 },
    featureSpec: featureNames.map((name) => ({ name, type: 'numeric', description: `the member's ${name.replace(/_/g, ' ')}` })),
    inputs: [{ name: 'features', elementType: 'float32', shape: ['batch', featureNames.length], featureAxis: 1 }],
    outputs: [{ name: 'probability', elementType: 'float32', shape: ['batch', 1] }],
    metrics: {
      heldOut: { auc, brier: 0.12 },
      baseline: { name: 'days since last loan', metrics: { auc: 0.7, brier: 0.2 } },
      oracle: { metrics: { auc: 0.9, brier: 0.1 } },
    },
    headlineMetric: { name: 'auc', value: auc, higherIsBetter: true },
    hyperparameters: { trees: 50, learningRate: 0.1 },
    notes: 'test model',
  };
}

export async function registerChurn(
  modelsDir: string,
  { auc = 0.8, weights = [0.5, -0.25, 1], stage = 'staging', featureNames }: { auc?: number; weights?: number[]; stage?: 'staging' | 'experiments'; featureNames?: string[] } = {},
): Promise<RegisteredModel> {
  const scorer = { weights, bias: 0.1 };
  return registerVersion(modelsDir, {
    metadata: churnDraft(auc, featureNames ?? ['loans_last_90d', 'days_since_last_loan', 'renewal_rate'].slice(0, weights.length)),
    onnxBytes: logisticModel(scorer),
    parity: parityFor(scorer),
    stage,
    who: 'trainer',
  });
}

/** Every file under `dir` (relative path → sha256), for comparing folder states. */
export function snapshotFiles(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (current: string): void => {
    for (const child of readdirSync(current)) {
      const full = path.join(current, child);
      if (statSync(full).isDirectory()) walk(full);
      else files[path.relative(dir, full)] = sha256(readFileSync(full));
    }
  };
  walk(dir);
  return files;
}

export function readRegistryJson(modelsDir: string): { models: Record<string, { previousProduction: string[]; versions: Record<string, { stage: string; history: unknown[] }> }> } {
  return JSON.parse(readFileSync(path.join(modelsDir, 'metadata', 'registry.json'), 'utf8'));
}
