/**
 * Validation of one registered version, as promotion runs it: every check runs and reports,
 * so a refusal can list everything that is wrong at once rather than the first problem only.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { openServingSession } from '../ml/onnx/session';
import { sha256 } from './files';
import { checkParity } from './parity';
import { findVersion, productionVersion, readRegistry } from './registry-file';
import type { RegistryFile } from './registry-file';
import type { CheckName, ModelMetadata, ParityFile, RegisteredVersion, TensorSpec, ValidationCheck, ValidationReport } from './types';

export const MODEL_FILE = 'model.onnx';
export const METADATA_FILE = 'metadata.json';
export const PARITY_FILE = 'parity.json';

/** Relative: a candidate may be at most 2% worse than production on the headline metric. */
export const DEFAULT_REGRESSION_TOLERANCE = 0.02;

/** A version as a re-scoring reads it: its folder and metadata. */
export interface RescoredVersion {
  version: string;
  dir: string;
  metadata: ModelMetadata;
}

/**
 * Re-scores production and the candidate on one holdout with the same code and judges the
 * difference on those rows (a paired test); `tolerance` is the allowed relative regression.
 */
export type Rescore = (production: RescoredVersion, candidate: RescoredVersion, tolerance: number) => Promise<{ passed: boolean; detail: string }>;

export interface ValidateOptions {
  /** Allowed relative regression of the headline metric against production (0.02 = 2%). */
  regressionTolerance?: number;
  /**
   * When given, the regression check re-scores both versions on the same rows instead of
   * comparing their stored headlines, which were measured on different data.
   */
  rescore?: Rescore;
}

export function readMetadata(dir: string): ModelMetadata {
  return JSON.parse(readFileSync(path.join(dir, METADATA_FILE), 'utf8')) as ModelMetadata;
}

function formatShape(shape: readonly (number | string)[]): string {
  return `[${shape.join(', ')}]`;
}

/** What differs between the tensors the metadata promises and those the model declares. */
function compareTensors(
  kind: 'input' | 'output',
  promised: TensorSpec[],
  declared: readonly InferenceSession.ValueMetadata[],
  featureCount: number,
): string[] {
  const problems: string[] = [];
  const byName = new Map(declared.map((value) => [value.name, value]));
  for (const spec of promised) {
    const actual = byName.get(spec.name);
    if (!actual) {
      problems.push(`metadata names ${kind} "${spec.name}", the model has ${declared.map((d) => `"${d.name}"`).join(', ') || 'none'}`);
      continue;
    }
    if (!actual.isTensor) {
      problems.push(`${kind} "${spec.name}" is not a tensor in the model`);
      continue;
    }
    if (actual.type !== spec.elementType) problems.push(`${kind} "${spec.name}": metadata says ${spec.elementType}, the model ${actual.type}`);
    if (actual.shape.length !== spec.shape.length) {
      problems.push(`${kind} "${spec.name}": metadata shape ${formatShape(spec.shape)} has rank ${spec.shape.length}, the model's ${formatShape(actual.shape)} rank ${actual.shape.length}`);
    } else {
      spec.shape.forEach((dim, axis) => {
        const modelDim = actual.shape[axis]!;
        // Symbolic names may differ ('batch' vs 'N'); what matters is which axes are fixed, and to what.
        const bothSymbolic = typeof dim === 'string' && typeof modelDim === 'string';
        if (!bothSymbolic && dim !== modelDim) {
          problems.push(`${kind} "${spec.name}": axis ${axis} is ${dim} in metadata, ${modelDim} in the model`);
        }
      });
    }
    if (spec.featureAxis !== undefined && actual.shape[spec.featureAxis] !== featureCount) {
      problems.push(`${kind} "${spec.name}": axis ${spec.featureAxis} carries the feature spec's ${featureCount} features, the model has ${String(actual.shape[spec.featureAxis])}`);
    }
  }
  const promisedNames = new Set(promised.map((spec) => spec.name));
  for (const value of declared) {
    if (!promisedNames.has(value.name)) problems.push(`the model has ${kind} "${value.name}", which the metadata does not list`);
  }
  return problems;
}

async function regressionCheck(
  registry: RegistryFile,
  modelsDir: string,
  entry: RegisteredVersion,
  metadata: ModelMetadata,
  tolerance: number,
  rescore: Rescore | undefined,
): Promise<ValidationCheck> {
  const production = productionVersion(registry, entry.name);
  if (!production) return { name: 'regression', passed: true, detail: 'no production version to compare with' };
  if (production.version === entry.version) return { name: 'regression', passed: true, detail: 'this is the production version' };
  if (rescore) {
    try {
      const productionDir = path.join(modelsDir, production.dir);
      const outcome = await rescore(
        { version: production.version, dir: productionDir, metadata: readMetadata(productionDir) },
        { version: entry.version, dir: path.join(modelsDir, entry.dir), metadata },
        tolerance,
      );
      return { name: 'regression', ...outcome };
    } catch (error) {
      return { name: 'regression', passed: false, detail: `re-scoring on one holdout failed: ${(error as Error).message}` };
    }
  }

  const { name, value, higherIsBetter } = metadata.headlineMetric;
  let productionValue: number | undefined;
  try {
    productionValue = readMetadata(path.join(modelsDir, production.dir)).metrics.heldOut[name];
  } catch {
    productionValue = production.headlineMetric.name === name ? production.headlineMetric.value : undefined;
  }
  if (productionValue === undefined) {
    return { name: 'regression', passed: false, detail: `production ${production.version} reports no held-out ${name}, so the two cannot be compared` };
  }
  const worseBy = higherIsBetter ? productionValue - value : value - productionValue;
  const relative = productionValue !== 0 ? worseBy / Math.abs(productionValue) : worseBy;
  const comparison = `${name} ${format(value)} vs production ${production.version}'s ${format(productionValue)}`;
  if (relative > tolerance) {
    return { name: 'regression', passed: false, detail: `${comparison}: ${percent(relative)} worse, beyond the ${percent(tolerance)} tolerance` };
  }
  const verdict = relative > 0 ? `${percent(relative)} worse, within the ${percent(tolerance)} tolerance` : relative < 0 ? `${percent(-relative)} better` : 'equal';
  return { name: 'regression', passed: true, detail: `${comparison}: ${verdict}` };
}

function format(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/** Enough of the shape that the checks below can read it; a hand-edited file may not have it. */
function hasMetadataShape(value: ModelMetadata): boolean {
  const m = value as Partial<ModelMetadata> | null;
  return (
    typeof m?.name === 'string' &&
    typeof m.version === 'string' &&
    typeof m.sha256 === 'string' &&
    Array.isArray(m.files) &&
    Array.isArray(m.featureSpec) &&
    Array.isArray(m.inputs) &&
    Array.isArray(m.outputs) &&
    typeof m.metrics?.heldOut === 'object' &&
    typeof m.headlineMetric?.name === 'string'
  );
}

const ALL_CHECKS: CheckName[] = ['files', 'sha256', 'loads', 'inputs', 'outputs', 'parity', 'regression'];

/** Validates against a registry already read (promotion reads it under the lock). */
export async function validateEntry(
  modelsDir: string,
  registry: RegistryFile,
  entry: RegisteredVersion,
  options: ValidateOptions = {},
): Promise<ValidationReport> {
  const tolerance = options.regressionTolerance ?? DEFAULT_REGRESSION_TOLERANCE;
  const dir = path.join(modelsDir, entry.dir);
  const checks: ValidationCheck[] = [];
  const report = (): ValidationReport => {
    const reported = new Set(checks.map((c) => c.name));
    for (const name of ALL_CHECKS) {
      if (!reported.has(name)) checks.push({ name, passed: false, detail: 'not run: an earlier check failed', notRun: true });
    }
    checks.sort((a, b) => ALL_CHECKS.indexOf(a.name) - ALL_CHECKS.indexOf(b.name));
    return { name: entry.name, version: entry.version, stage: entry.stage, passed: checks.every((c) => c.passed), checks };
  };

  // files: the directory holds what the registry promises, and metadata.json describes this version.
  const fileProblems: string[] = [];
  let metadata: ModelMetadata | undefined;
  let modelBytes: Buffer | undefined;
  if (!existsSync(path.join(dir, MODEL_FILE))) fileProblems.push(`${MODEL_FILE} is missing from ${entry.dir}`);
  else modelBytes = readFileSync(path.join(dir, MODEL_FILE));
  try {
    metadata = readMetadata(dir);
  } catch (error) {
    fileProblems.push(`${METADATA_FILE} cannot be read: ${(error as Error).message}`);
  }
  if (metadata && !hasMetadataShape(metadata)) {
    fileProblems.push(`${METADATA_FILE} lacks one of name, version, sha256, files, featureSpec, inputs, outputs, metrics.heldOut, headlineMetric`);
    metadata = undefined;
  }
  if (metadata) {
    if (metadata.name !== entry.name || metadata.version !== entry.version) {
      fileProblems.push(`${METADATA_FILE} describes ${metadata.name} ${metadata.version}, the registry ${entry.name} ${entry.version}`);
    }
    if (metadata.metrics.heldOut[metadata.headlineMetric.name] !== metadata.headlineMetric.value) {
      fileProblems.push(`the headline metric ${metadata.headlineMetric?.name} is not the held-out value in metrics`);
    }
    for (const file of metadata.files) {
      if (!existsSync(path.join(dir, file.path))) fileProblems.push(`${file.path} is listed but missing`);
    }
    if (!metadata.files.some((file) => file.path === PARITY_FILE)) fileProblems.push(`${PARITY_FILE} is not among the version's files`);
  }
  checks.push({ name: 'files', passed: fileProblems.length === 0, detail: fileProblems.join('; ') || `${MODEL_FILE}, ${METADATA_FILE} and ${metadata?.files.length ?? 0} listed files present` });
  if (!metadata || !modelBytes) return report();

  // sha256: the bytes are the ones that were registered, for model.onnx and every listed artefact.
  const shaProblems: string[] = [];
  const modelSha = sha256(modelBytes);
  if (modelSha !== metadata.sha256) shaProblems.push(`${MODEL_FILE} has sha256 ${modelSha.slice(0, 12)}…, metadata says ${metadata.sha256.slice(0, 12)}…`);
  if (metadata.sha256 !== entry.sha256) shaProblems.push(`metadata's sha256 ${metadata.sha256.slice(0, 12)}… differs from the registry's ${entry.sha256.slice(0, 12)}…`);
  for (const file of metadata.files) {
    const full = path.join(dir, file.path);
    if (existsSync(full) && sha256(readFileSync(full)) !== file.sha256) shaProblems.push(`${file.path} does not match its recorded sha256`);
  }
  checks.push({ name: 'sha256', passed: shaProblems.length === 0, detail: shaProblems.join('; ') || `${MODEL_FILE} ${modelSha.slice(0, 12)}… and ${metadata.files.length} artefacts match` });

  let session: InferenceSession | undefined;
  try {
    session = await openServingSession(modelBytes);
    checks.push({ name: 'loads', passed: true, detail: 'onnxruntime-node loads the model' });
  } catch (error) {
    checks.push({ name: 'loads', passed: false, detail: `onnxruntime-node cannot load ${MODEL_FILE}: ${(error as Error).message}` });
  }

  try {
    if (session) {
      const featureCount = metadata.featureSpec.length;
      const inputProblems = compareTensors('input', metadata.inputs, session.inputMetadata, featureCount);
      checks.push({ name: 'inputs', passed: inputProblems.length === 0, detail: inputProblems.join('; ') || `${metadata.inputs.map((i) => `${i.name} ${i.elementType}${formatShape(i.shape)}`).join(', ')} as in metadata` });
      const outputProblems = compareTensors('output', metadata.outputs, session.outputMetadata, featureCount);
      checks.push({ name: 'outputs', passed: outputProblems.length === 0, detail: outputProblems.join('; ') || `${metadata.outputs.map((o) => `${o.name} ${o.elementType}${formatShape(o.shape)}`).join(', ')} as in metadata` });

      let parity: ParityFile | undefined;
      try {
        parity = JSON.parse(readFileSync(path.join(dir, PARITY_FILE), 'utf8')) as ParityFile;
      } catch (error) {
        checks.push({ name: 'parity', passed: false, detail: `${PARITY_FILE} cannot be read: ${(error as Error).message}` });
      }
      if (parity) {
        const outcome = await checkParity(session, parity);
        const { maxAbsError, rows } = outcome.result;
        const measured = `${rows} rows, max abs error ${maxAbsError === null ? 'n/a' : maxAbsError.toExponential(2)} (tolerance ${parity.tolerance})`;
        checks.push({ name: 'parity', passed: outcome.result.passed, detail: outcome.result.passed ? measured : `${measured}: ${outcome.problems.join('; ')}` });
      }
    }
  } finally {
    await session?.release();
  }

  checks.push(await regressionCheck(registry, modelsDir, entry, metadata, tolerance, options.rescore));
  return report();
}

export async function validateVersion(modelsDir: string, name: string, version: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  const registry = readRegistry(modelsDir);
  return validateEntry(modelsDir, registry, findVersion(registry, name, version), options);
}

export function failedChecks(report: ValidationReport): ValidationCheck[] {
  return report.checks.filter((check) => !check.passed);
}
