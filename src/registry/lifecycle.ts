/**
 * The lifecycle of model versions: register, promote, roll back, archive.
 *
 * Every change runs under the registry lock and in the same order, so that a server reading
 * the folder at the same time never sees a half-written version and a crash leaves nothing the
 * next command cannot tidy:
 *   1. copy each moving version directory into its new stage (complete before it appears);
 *   2. write registry.json atomically — the commit point;
 *   3. remove the old directories.
 * Leftovers of an interrupted command (temporary copies, the old directory of a version that
 * moved) are removed by the next command that touches the same model.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { openServingSession } from '../ml/onnx/session';
import { RegistryError } from './errors';
import { copyDirAtomic, createDirAtomic, INCOMING_PREFIX, removeDir, sha256, toJson, writeFileAtomic } from './files';
import { withRegistryLock } from './lock';
import type { LockOptions } from './lock';
import { checkParity } from './parity';
import type { OutcomeSeasons } from '../monitoring/seasons';
import type { DriftConfig } from '../monitoring/drift';
import type { HeldOutWeeks } from '../monitoring/quality';
import {
  checkModelName,
  findVersion,
  productionVersion,
  readRegistry,
  registryPath,
  relativeVersionDir,
  versionDir,
  writeRegistry,
} from './registry-file';
import type { ModelRecord, RegistryFile } from './registry-file';
import { compareVersions, latestVersion, nextVersion } from './semver';
import { STAGES } from './types';
import type { DriftReferences } from '../monitoring/drift';
import type {
  ArtefactFile,
  LifecycleAction,
  ModelMetadata,
  ModelMetadataDraft,
  ParityFile,
  RegisteredVersion,
  Stage,
  StageChange,
  ValidationReport,
} from './types';
import { failedChecks, METADATA_FILE, MODEL_FILE, PARITY_FILE, readMetadata, validateEntry } from './validate';
import type { ValidateOptions } from './validate';

export const CHARTS_FILE = 'charts.json';
/** A version's model card, when its registrant gives a renderer. */
export const CARD_FILE = 'card.html';
const RESERVED_FILES = new Set([MODEL_FILE, METADATA_FILE, PARITY_FILE, CHARTS_FILE, CARD_FILE]);
const EXTRA_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The login name of whoever runs the command, for the stage history. */
export function currentUser(): string {
  try {
    return userInfo().username || 'unknown';
  } catch {
    // Containers may run under a uid with no passwd entry.
    return 'unknown';
  }
}

/** The part of a model's contract with its serving code: what the feature module must produce. */
export function featureSignature(metadata: Pick<ModelMetadata, 'featureSpec' | 'inputs'>): string {
  return sha256(
    JSON.stringify({
      features: metadata.featureSpec.map((f) => [f.name, f.type]),
      inputs: metadata.inputs.map((i) => [i.name, i.elementType, i.shape, i.featureAxis ?? null]),
    }),
  );
}

function registeredVersion(metadata: ModelMetadata, stage: Stage, history: StageChange[]): RegisteredVersion {
  return {
    name: metadata.name,
    version: metadata.version,
    stage,
    dir: relativeVersionDir(stage, metadata.name, metadata.version),
    sha256: metadata.sha256,
    created: metadata.created,
    headlineMetric: metadata.headlineMetric,
    baselineValue: metadata.metrics.baseline.metrics[metadata.headlineMetric.name] ?? null,
    baselineName: metadata.metrics.baseline.name,
    featureSignature: featureSignature(metadata),
    history,
  };
}

function modelRecord(registry: RegistryFile, name: string): ModelRecord {
  registry.models[name] ??= { previousProduction: [], versions: {} };
  return registry.models[name];
}

/** Removes what an interrupted command left in this model's stage folders. Call under the lock. */
function sweepLeftovers(modelsDir: string, registry: RegistryFile, name: string): void {
  const metadataFolder = path.dirname(registryPath(modelsDir));
  if (existsSync(metadataFolder)) {
    for (const child of readdirSync(metadataFolder)) if (child.startsWith(INCOMING_PREFIX)) removeDir(path.join(metadataFolder, child));
  }
  const versions = registry.models[name]?.versions ?? {};
  for (const stage of STAGES) {
    const folder = path.join(modelsDir, stage, name);
    if (!existsSync(folder)) continue;
    for (const child of readdirSync(folder)) {
      const full = path.join(folder, child);
      if (child.startsWith(INCOMING_PREFIX)) {
        removeDir(full);
        continue;
      }
      const entry = versions[child];
      // A copy in the wrong stage is only removed when the registered copy is really there.
      if (entry && entry.stage !== stage && existsSync(path.join(modelsDir, entry.dir, MODEL_FILE))) removeDir(full);
    }
  }
}

function checkDraft(draft: ModelMetadataDraft): void {
  checkModelName(draft.name);
  const problems: string[] = [];
  if (draft.featureSpec.length === 0) problems.push('featureSpec is empty');
  if (draft.inputs.length === 0) problems.push('inputs is empty');
  if (draft.outputs.length === 0) problems.push('outputs is empty');
  const headline = draft.headlineMetric;
  if (draft.metrics.heldOut[headline.name] === undefined) problems.push(`headline metric ${headline.name} is not among the held-out metrics`);
  else if (draft.metrics.heldOut[headline.name] !== headline.value) problems.push(`headline metric ${headline.name} is ${headline.value}, the held-out value ${draft.metrics.heldOut[headline.name]}`);
  for (const [metric, v] of Object.entries(draft.metrics.heldOut)) if (!Number.isFinite(v)) problems.push(`held-out metric ${metric} is ${v}`);
  if (problems.length > 0) throw new RegistryError('invalid-input', `cannot register ${draft.name}: ${problems.join('; ')}`);
}

/** By code unit, not locale, so metadata.json is the same on every machine. */
function byPath(a: ArtefactFile, b: ArtefactFile): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

export interface RegisterOptions {
  metadata: ModelMetadataDraft;
  onnxBytes: Uint8Array;
  /** Rows the trainer scored itself; written as parity.json and re-run through onnxruntime-node. */
  parity: ParityFile;
  /** Further artefacts by file name, e.g. { 'similar.onnx': bytes }. */
  extraFiles?: Record<string, Uint8Array | string>;
  /** When given, kept in charts.json (the registry does not read them). */
  charts?: readonly unknown[];
  /** When given, called with the final metadata; what it answers is written as card.html and listed in the metadata's files. */
  renderCard?: (metadata: ModelMetadata) => string;
  stage: 'experiments' | 'staging';
  who?: string;
  reason?: string;
  lock?: LockOptions;
}

export interface RegisteredModel {
  metadata: ModelMetadata;
  /** Absolute path of the new version directory. */
  dir: string;
}

/**
 * Registers a trained model as a new version. The registry picks the version: 1.0.0 first, then
 * a minor bump for a retrain with the same feature spec and input tensors, a major bump when
 * they changed. Parity is measured here, not taken from the trainer.
 */
export async function registerVersion(modelsDir: string, options: RegisterOptions): Promise<RegisteredModel> {
  const { metadata: draft, onnxBytes, parity, extraFiles = {}, charts, renderCard, stage } = options;
  checkDraft(draft);
  for (const name of Object.keys(extraFiles)) {
    if (!EXTRA_FILE_NAME.test(name) || RESERVED_FILES.has(name)) {
      throw new RegistryError('invalid-input', `cannot register ${draft.name}: "${name}" cannot be an extra file name (plain names only; ${[...RESERVED_FILES].join(', ')} are the registry's)`);
    }
  }
  let session: InferenceSession;
  try {
    session = await openServingSession(onnxBytes);
  } catch (error) {
    throw new RegistryError('invalid-input', `cannot register ${draft.name}: onnxruntime-node cannot load the model: ${(error as Error).message}`);
  }
  const parityOutcome = await checkParity(session, parity).finally(() => session.release());

  const files: Record<string, Uint8Array | string> = { ...extraFiles, [PARITY_FILE]: toJson(parity) };
  if (charts) files[CHARTS_FILE] = toJson(charts);

  return withRegistryLock(
    modelsDir,
    async () => {
      const registry = readRegistry(modelsDir);
      sweepLeftovers(modelsDir, registry, draft.name);
      const record = modelRecord(registry, draft.name);
      const signature = featureSignature(draft);

      let latest = latestVersion(Object.keys(record.versions));
      let version = nextVersion(latest, latest !== undefined && record.versions[latest]!.featureSignature !== signature);
      // A directory no registry entry knows (e.g. copied in by hand) keeps its number.
      while (STAGES.some((s) => existsSync(versionDir(modelsDir, s, draft.name, version)))) {
        latest = version;
        version = nextVersion(latest, false);
      }

      const artefacts: ArtefactFile[] = Object.entries(files)
        .map(([file, contents]) => ({ path: file, sha256: sha256(contents), bytes: Buffer.byteLength(contents) }))
        .sort(byPath);
      const { created, ...rest } = draft;
      let metadata: ModelMetadata = {
        ...rest,
        version,
        stage,
        created: created ?? new Date().toISOString(),
        parity: parityOutcome.result,
        sha256: sha256(onnxBytes),
        files: artefacts,
      };
      let card: string | undefined;
      if (renderCard) {
        card = renderCard(metadata);
        metadata = { ...metadata, files: [...artefacts, { path: CARD_FILE, sha256: sha256(card), bytes: Buffer.byteLength(card) }].sort(byPath) };
      }

      const dir = versionDir(modelsDir, stage, draft.name, version);
      createDirAtomic(dir, (incoming) => {
        mkdirSync(incoming);
        writeFileSync(path.join(incoming, MODEL_FILE), onnxBytes);
        for (const [file, contents] of Object.entries(files)) writeFileSync(path.join(incoming, file), contents);
        if (card !== undefined) writeFileSync(path.join(incoming, CARD_FILE), card);
        writeFileSync(path.join(incoming, METADATA_FILE), toJson(metadata));
      });
      const history: StageChange[] = [
        { action: 'register', from: null, to: stage, when: new Date().toISOString(), who: options.who ?? currentUser(), why: options.reason ?? `registered in ${stage}` },
      ];
      record.versions[version] = registeredVersion(metadata, stage, history);
      writeRegistry(modelsDir, registry);
      return { metadata, dir };
    },
    options.lock,
  );
}

export interface LifecycleOptions {
  who: string;
  reason?: string;
  lock?: LockOptions;
}

export interface ForceOption {
  /** Overrides failed validation; the reason is kept in the stage history. */
  force?: { reason: string };
}

/**
 * Moves a version directory to another stage: the copy is complete before it appears. Returns
 * the removal of the old directory, to run once registry.json is committed.
 */
function moveVersion(
  modelsDir: string,
  entry: RegisteredVersion,
  to: Stage,
  change: Omit<StageChange, 'from' | 'to' | 'when'>,
): () => void {
  const source = path.join(modelsDir, entry.dir);
  const target = versionDir(modelsDir, to, entry.name, entry.version);
  if (!existsSync(path.join(source, MODEL_FILE))) {
    throw new RegistryError('corrupt', `${entry.name} ${entry.version} is registered in ${entry.stage} but ${entry.dir}/${MODEL_FILE} is missing`);
  }
  // A copy left in the target by an interrupted command is stale: the registry says the version is elsewhere.
  removeDir(target);
  copyDirAtomic(source, target, (copy) => {
    const metadata = readMetadata(copy);
    writeFileSync(path.join(copy, METADATA_FILE), toJson({ ...metadata, stage: to }));
  });
  entry.history.push({ ...change, from: entry.stage, to, when: new Date().toISOString() });
  entry.stage = to;
  entry.dir = relativeVersionDir(to, entry.name, entry.version);
  return () => removeDir(source);
}

function change(action: LifecycleAction, who: string, why: string, forced?: StageChange['forced']): Omit<StageChange, 'from' | 'to' | 'when'> {
  return forced ? { action, who, why, forced } : { action, who, why };
}

/** Runs a registry change under the lock: read, tidy, change, commit, then remove old directories. */
async function mutate<T>(
  modelsDir: string,
  name: string,
  lock: LockOptions | undefined,
  work: (registry: RegistryFile, cleanups: (() => void)[]) => Promise<T>,
): Promise<T> {
  checkModelName(name);
  return withRegistryLock(
    modelsDir,
    async () => {
      const registry = readRegistry(modelsDir);
      sweepLeftovers(modelsDir, registry, name);
      const cleanups: (() => void)[] = [];
      const result = await work(registry, cleanups);
      writeRegistry(modelsDir, registry);
      for (const cleanup of cleanups) cleanup();
      return result;
    },
    lock,
  );
}

export interface PromotionResult {
  version: string;
  /** The version that was in production before, now archived. */
  previous: string | null;
  report: ValidationReport;
  forced: boolean;
}

function describeRefusal(name: string, version: string, report: ValidationReport): string {
  const failed = failedChecks(report);
  const ran = failed.filter((check) => !check.notRun);
  const notRun = failed.filter((check) => check.notRun).map((check) => check.name);
  return (
    `refusing to promote ${name} ${version}: ${ran.length} check${ran.length === 1 ? '' : 's'} failed: ` +
    ran.map((check) => `${check.name} (${check.detail})`).join('; ') +
    (notRun.length > 0 ? `; not run: ${notRun.join(', ')}` : '') +
    '. To override: --force --reason "..."'
  );
}

/**
 * Makes a version the production version of its model, after validation. The production version
 * it replaces goes to archived/ and can be restored with `rollback`.
 */
export async function promoteVersion(
  modelsDir: string,
  name: string,
  version: string,
  options: LifecycleOptions & ForceOption & ValidateOptions,
): Promise<PromotionResult> {
  if (options.force && !options.force.reason.trim()) throw new RegistryError('invalid-input', 'forcing a promotion needs a reason');
  return mutate(modelsDir, name, options.lock, async (registry, cleanups) => {
    const entry = findVersion(registry, name, version);
    if (entry.stage === 'production') throw new RegistryError('invalid-state', `${name} ${version} is already the production version`);

    const report = await validateEntry(modelsDir, registry, entry, options);
    const failed = failedChecks(report);
    if (failed.length > 0 && !options.force) {
      throw new RegistryError('validation-failed', describeRefusal(name, version, report), report);
    }
    const forced = failed.length > 0 && options.force ? { reason: options.force.reason, failedChecks: failed.map((c) => c.name) } : undefined;

    const record = modelRecord(registry, name);
    const previous = productionVersion(registry, name);
    const why = options.force?.reason ?? options.reason ?? 'promoted after validation passed';
    cleanups.push(moveVersion(modelsDir, entry, 'production', change('promote', options.who, why, forced)));
    if (previous) {
      cleanups.push(moveVersion(modelsDir, previous, 'archived', change('archive', options.who, `replaced in production by ${version}`)));
      record.previousProduction = [...record.previousProduction.filter((v) => v !== previous.version && v !== version), previous.version];
    } else {
      record.previousProduction = record.previousProduction.filter((v) => v !== version);
    }
    return { version, previous: previous?.version ?? null, report, forced: forced !== undefined };
  });
}

export interface RollbackResult {
  /** The version now in production again. */
  restored: string;
  /** The version taken out of production and where it went; null when the model had none. */
  withdrawn: { version: string; to: Stage } | null;
}

/**
 * Undoes the last promotion of a model: the version it replaced comes back from archived/, and
 * the withdrawn version returns to the stage it was promoted from, so promote-then-rollback
 * leaves the folders and registry as they were (apart from the history).
 */
export interface RollbackOptions extends LifecycleOptions, ForceOption {
  /**
   * Throws the reason the serving code cannot load a version (its directory given): the same
   * checks a subgraph makes before serving it. The registry knows no model's serving code, so
   * the caller supplies them.
   */
  canServe?: (version: string, dir: string) => Promise<void>;
}

/**
 * Restores the version that was in production before the current one. Refused, unless forced,
 * when the two differ in feature spec or input tensors (a major version apart): the subgraph
 * serving the current version would refuse the restored one and keep serving what it has.
 * Refused even when forced when `canServe` says serving cannot load the restored version: the
 * registry would then name a production version no subgraph serves.
 */
export async function rollback(modelsDir: string, name: string, options: RollbackOptions): Promise<RollbackResult> {
  return mutate(modelsDir, name, options.lock, async (registry, cleanups) => {
    const current = productionVersion(registry, name);
    const record = registry.models[name];
    if (!record) throw new RegistryError('not-found', `no model named ${name} is registered`);
    const target = record.previousProduction.at(-1);
    if (target === undefined) {
      throw new RegistryError('invalid-state', `${name} has no earlier production version to roll back to`);
    }
    const restored = findVersion(registry, name, target);
    if (restored.stage !== 'archived') {
      throw new RegistryError('invalid-state', `cannot roll back ${name} to ${target}: it is in ${restored.stage}, not archived`);
    }
    if (current && restored.featureSignature !== current.featureSignature && !options.force) {
      throw new RegistryError(
        'invalid-state',
        `cannot roll back ${name} ${current.version} to ${target}: its feature spec or input tensors differ, so subgraphs built for ${current.version} cannot serve it; ` +
          'use --force --reason "..." to roll back anyway',
      );
    }
    if (options.canServe) {
      try {
        await options.canServe(target, path.join(modelsDir, restored.dir));
      } catch (error) {
        throw new RegistryError(
          'invalid-state',
          `cannot roll back ${name}${current ? ` ${current.version}` : ''} to ${target}: the serving code cannot load it (${(error as Error).message}); --force does not override this`,
        );
      }
    }
    const why = options.force?.reason ?? options.reason ?? 'rolled back';
    let withdrawn: RollbackResult['withdrawn'] = null;
    if (current) {
      const lastPromotion = [...current.history].reverse().find((h) => h.to === 'production');
      const to: Stage = lastPromotion?.from && lastPromotion.from !== 'production' ? lastPromotion.from : 'archived';
      cleanups.push(moveVersion(modelsDir, current, to, change('rollback', options.who, why)));
      withdrawn = { version: current.version, to };
    }
    cleanups.push(moveVersion(modelsDir, restored, 'production', change('restore', options.who, why)));
    record.previousProduction = record.previousProduction.slice(0, -1);
    return { restored: target, withdrawn };
  });
}

/** Archives a version. The production version is only archived with force: it leaves the model with none. */
export async function archiveVersion(modelsDir: string, name: string, version: string, options: LifecycleOptions & ForceOption): Promise<RegisteredVersion> {
  return mutate(modelsDir, name, options.lock, async (registry, cleanups) => {
    const entry = findVersion(registry, name, version);
    if (entry.stage === 'archived') throw new RegistryError('invalid-state', `${name} ${version} is already archived`);
    if (entry.stage === 'production' && !options.force) {
      throw new RegistryError(
        'invalid-state',
        `${name} ${version} is the production version; archiving it leaves ${name} with none. Promote another version or roll back instead, or use --force --reason "..."`,
      );
    }
    const why = options.force?.reason ?? options.reason ?? 'archived';
    const forced = entry.stage === 'production' && options.force ? { reason: options.force.reason, failedChecks: [] } : undefined;
    cleanups.push(moveVersion(modelsDir, entry, 'archived', change('archive', options.who, why, forced)));
    return entry;
  });
}

/** What `setDriftReferences` writes: the references, and the monitoring fields derived from the same library. */
export interface MonitoringMetadata {
  driftReferences: DriftReferences;
  /** Written when given (overdue: from its training rows, as its trainer does); an absent one leaves the stored one as it is. */
  outcomeSeasons?: OutcomeSeasons;
  /** Written when given (`models reference --calibrate-weeks`); an absent one leaves the stored one as it is. */
  driftThresholds?: DriftConfig;
  /** Written into `metrics.heldOutWeeks` when given (overdue: from its held-out rows, as its trainer does); an absent one leaves the stored one as it is. */
  heldOutWeeks?: Record<string, HeldOutWeeks>;
}

/**
 * Stores drift references (and, when `build` gives them, outcome seasons) in a registered
 * version's metadata.json, replacing any it had. Nothing checksummed changes: model.onnx and
 * the artefacts stay byte for byte, so the version validates as before. `build` gets the
 * version's directory and current metadata.
 */
export async function setDriftReferences(
  modelsDir: string,
  name: string,
  version: string,
  build: (dir: string, metadata: ModelMetadata) => Promise<MonitoringMetadata>,
  options: { lock?: LockOptions } = {},
): Promise<ModelMetadata> {
  checkModelName(name);
  return withRegistryLock(
    modelsDir,
    async () => {
      const entry = findVersion(readRegistry(modelsDir), name, version);
      const dir = path.join(modelsDir, entry.dir);
      const metadata = readMetadata(dir);
      const { driftReferences, outcomeSeasons, driftThresholds, heldOutWeeks } = await build(dir, metadata);
      const metrics = heldOutWeeks ? { ...metadata.metrics, heldOutWeeks } : metadata.metrics;
      const updated = { ...metadata, metrics, driftReferences, ...(outcomeSeasons ? { outcomeSeasons } : {}), ...(driftThresholds ? { driftThresholds } : {}) };
      writeFileAtomic(path.join(dir, METADATA_FILE), toJson(updated));
      return updated;
    },
    options.lock,
  );
}

/** Every registered version, by model name then newest version first. */
export function listModels(modelsDir: string, name?: string): RegisteredVersion[] {
  const registry = readRegistry(modelsDir);
  const records = name ? [registry.models[name]].filter((r): r is ModelRecord => r !== undefined) : Object.values(registry.models);
  return records
    .flatMap((record) => Object.values(record.versions))
    .sort((a, b) => a.name.localeCompare(b.name) || compareVersions(b.version, a.version));
}

export interface ProductionModel {
  version: string;
  /** Absolute path of the version directory. */
  dir: string;
  metadata: ModelMetadata;
}

export function getProduction(modelsDir: string, name: string): ProductionModel | null {
  const entry = productionVersion(readRegistry(modelsDir), name);
  if (!entry) return null;
  const dir = path.join(modelsDir, entry.dir);
  return { version: entry.version, dir, metadata: readMetadata(dir) };
}
