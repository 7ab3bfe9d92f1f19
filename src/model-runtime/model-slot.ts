/**
 * A ModelSlot holds the production version of one model inside a running subgraph and swaps
 * it for a newly promoted (or rolled-back) version without a restart.
 *
 * Contract: `run()` always scores with one complete, validated version and reports which
 * version that was, with that version's serving settings. A candidate version is loaded and
 * checked (sha256 of every file, tensor names against its metadata, its serving settings parsed
 * by the model's own parser) before the swap; a candidate that fails is logged and never
 * served, and the old version keeps answering. A slot that holds no version (at start) and
 * cannot load the production version falls back to the newest earlier production version that
 * passes the same checks. While the version served is not the registry's production version the
 * slot says so: `status()` (readiness and the `models` answer), the
 * `model_serving_fallback{model,version,production}` gauge and an error in the log.
 * A replaced session is released only after
 * the runs that started on it have finished, so no request in flight fails during a switch.
 *
 * Callers read a version's settings and its ModelRef from what `run()` answers, never from
 * `current()` after a run: a swap may land while the run computes, and a later slot may hold
 * several versions at once (the arms of an experiment), each answer naming its own.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { ErrorCode, shelfmarkError } from '../errors';
import type { ModelRef } from '../graphql/prediction-types';
import type { Logger } from '../logging';
import type { ProcessMetrics } from '../metrics';
import { countRequestRun } from '../metrics/request-runs';
import { openServingSession } from '../ml/onnx/session';
import { inSpan } from '../tracing';

/** Where the production version of a model lives now, as the registry says. */
export interface ProductionPointer {
  version: string;
  dir: string;
}

/** The parts of metadata.json the serving path relies on. */
export interface ServingMetadata {
  name: string;
  version: string;
  sha256: string;
  featureSpec?: { name: string; type?: string }[];
  inputs: { name: string }[];
  outputs: { name: string }[];
  /** Every other file of the version with its sha256 (as the registry wrote them). */
  files?: { path: string; sha256: string }[];
  /** Serving constants the trainer measured: reference values for explanations, thresholds, lookups. */
  serving?: Record<string, unknown>;
}

/**
 * Reads a version's serving settings (metadata.serving, and artefacts such as index maps) into
 * the model's typed form, once, when the version loads; throws to refuse a version whose
 * settings this code cannot serve.
 */
export type ServingParser<S> = (metadata: ServingMetadata, artefacts: Readonly<Record<string, unknown>>) => S;

/** What a model subgraph declares about one model it serves. */
export interface SlotSpec<S> {
  model: string;
  /** Extra .onnx files of a version to open beside model.onnx, e.g. ['similar']. */
  extraGraphs?: readonly string[];
  /** Extra JSON files of a version to read, e.g. ['index'] for index.json. */
  artefacts?: readonly string[];
  serving: ServingParser<S>;
  /** Further checks on a candidate (its sessions, say); throw to refuse it. */
  validate?(candidate: LoadedModel<S>): Promise<void> | void;
}

export interface LoadedModel<S = unknown> {
  name: string;
  version: string;
  /** How answers name this version: name, version and the experiment arm (null outside experiments). */
  ref: ModelRef;
  dir: string;
  metadata: ServingMetadata;
  /** The version's serving settings, parsed once when it loaded. */
  serving: S;
  /** `model` is model.onnx; other keys are extra graphs of the same version (e.g. `similar`). */
  sessions: Record<string, InferenceSession>;
  /** Extra JSON artefacts of the version (e.g. index maps), by file name without extension. */
  artefacts: Record<string, unknown>;
}

export interface ModelSlotOptions<S> extends SlotSpec<S> {
  locate: () => Promise<ProductionPointer | undefined>;
  /** Earlier production versions, most recent first: what the slot falls back to when production does not load. */
  fallbacks?: () => Promise<ProductionPointer[]>;
  logger: Logger;
  metrics: ProcessMetrics;
  reloadIntervalMs: number;
}

/** What a slot serves, next to what the registry has in production. */
export interface SlotStatus {
  model: string;
  /** The registry's production version the slot last saw (null: none). */
  production: string | null;
  /** The version answering requests (null: none loaded). */
  serving: string | null;
  /** True while `serving` is not `production` because production could not be loaded. */
  fallback: boolean;
  /** Why production was refused, while falling back. */
  reason?: string;
  /** Set when the served version's files changed on disk and no longer verify (it serves its verified copy in memory). */
  filesOnDisk?: string;
}

interface Held<S> {
  model: LoadedModel<S>;
  inFlight: number;
  retired: boolean;
  /** Size and modification time of its graph files when last verified: a change is hashed again. */
  filesSeen: string;
}

/** The .onnx files of a loaded version. */
function graphFiles(model: LoadedModel<unknown>): string[] {
  return Object.keys(model.sessions).map((graph) => `${graph}.onnx`);
}

async function filesSeen(dir: string, files: readonly string[]): Promise<string> {
  const seen = await Promise.all(files.map((file) => stat(path.join(dir, file)).then((s) => `${s.ino}:${s.size}:${s.mtimeMs}`, () => 'missing')));
  return seen.join('|');
}

/** Throws unless `bytes` of a version's graph `file` have the sha256 its metadata records. */
function checkGraphSha(metadata: ServingMetadata, file: string, bytes: Uint8Array): void {
  const expected = file === 'model.onnx' ? metadata.sha256 : metadata.files?.find((f) => f.path === file)?.sha256;
  const actual = sha256(bytes);
  if (expected !== actual) throw new Error(`${file}: sha256 ${actual} does not match metadata (${expected ?? 'none recorded'})`);
}

/** Why the files of a loaded version no longer match its metadata, or undefined when they do. */
async function filesProblem(model: LoadedModel<unknown>): Promise<string | undefined> {
  for (const file of graphFiles(model)) {
    try {
      checkGraphSha(model.metadata, file, await readFile(path.join(model.dir, file)));
    } catch (error) {
      return `on disk: ${(error as Error).message}`;
    }
  }
  return undefined;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export class ModelSlot<S = unknown> {
  private held: Held<S> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private lastRefused: string | undefined;
  private production: string | null = null;
  private refusal: string | undefined;
  private fallbackLabels: { model: string; version: string; production: string } | undefined;
  private diskProblem: string | undefined;

  constructor(private readonly options: ModelSlotOptions<S>) {}

  get name(): string {
    return this.options.model;
  }

  /** Loads the current production version (if any) and starts watching for changes. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.reloadIntervalMs);
    this.timer.unref();
  }

  isReady(): boolean {
    return this.held !== undefined;
  }

  status(): SlotStatus {
    const serving = this.held?.model.version ?? null;
    const fallback = this.refusal !== undefined && serving !== null && serving !== this.production;
    const status: SlotStatus = { model: this.name, production: this.production, serving, fallback, ...(fallback ? { reason: this.refusal } : {}) };
    return this.diskProblem ? { ...status, filesOnDisk: this.diskProblem } : status;
  }

  /**
   * The version being served now, or a MODEL_UNAVAILABLE error: for work that needs no run
   * (an empty batch, a cache keyed by version). An answer computed by `run()` takes its version
   * from the run.
   */
  current(): LoadedModel<S> {
    return this.heldOrUnavailable().model;
  }

  private heldOrUnavailable(): Held<S> {
    if (!this.held) {
      throw shelfmarkError(ErrorCode.MODEL_UNAVAILABLE, `no production version of the ${this.name} model is loaded`, { model: this.name });
    }
    return this.held;
  }

  /**
   * One inference run over a whole batch. `build` receives the version that will run so feeds
   * can follow its spec and settings; the answer names that version and carries its settings.
   */
  async run<T>(
    batchSize: number,
    build: (model: LoadedModel<S>) => Record<string, Tensor>,
    read: (outputs: InferenceSession.ReturnType, model: LoadedModel<S>) => T,
    graph = 'model',
  ): Promise<{ result: T; model: LoadedModel<S> }> {
    const h = this.heldOrUnavailable();
    h.inFlight += 1;
    try {
      const session = h.model.sessions[graph];
      if (!session) throw new Error(`${this.name} ${h.model.version} has no graph "${graph}"`);
      const feeds = build(h.model);
      const stopTimer = this.options.metrics.inferenceSeconds.startTimer({ model: this.name });
      const outputs = await inSpan('model.inference', { 'shelfmark.model': this.name, 'shelfmark.model.version': h.model.version, 'shelfmark.batch_size': batchSize }, () => session.run(feeds));
      stopTimer();
      this.options.metrics.inferenceRuns.inc({ model: this.name });
      countRequestRun(this.name);
      this.options.metrics.inferenceBatchSize.observe({ model: this.name }, batchSize);
      return { result: read(outputs, h.model), model: h.model };
    } finally {
      h.inFlight -= 1;
      if (h.retired && h.inFlight === 0) void this.release(h);
    }
  }

  /** Checks the registry once; loads and swaps in a new production version if there is one. */
  async refresh(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const pointer = await this.options.locate();
      if (!pointer) return;
      this.production = pointer.version;
      const key = `${pointer.version}@${pointer.dir}`;
      if (this.held && this.held.model.version === pointer.version && this.held.model.dir === pointer.dir) {
        await this.recheckFiles(this.held);
        return;
      }
      if (this.lastRefused === key) return;
      try {
        const candidate = await loadModelVersion(this.options, pointer);
        this.refusal = undefined;
        await this.swap(candidate);
      } catch (error) {
        this.lastRefused = key;
        this.refusal = `${pointer.version}: ${(error as Error).message}`;
        if (!this.held) await this.fallBack(pointer.version);
        this.options.logger.error(
          { model: this.name, version: pointer.version, err: (error as Error).message, serving: this.held?.model.version ?? null },
          this.held ? 'cannot load the production model version; serving an earlier version' : 'cannot load the production model version nor any earlier one; serving nothing',
        );
      } finally {
        this.publishFallback();
      }
    } catch (error) {
      this.options.logger.error({ model: this.name, err: (error as Error).message }, 'model registry check failed');
    } finally {
      this.checking = false;
    }
  }

  /** Loads the newest earlier production version that passes every check, if any. */
  private async fallBack(refused: string): Promise<void> {
    for (const pointer of (await this.options.fallbacks?.()) ?? []) {
      if (pointer.version === refused) continue;
      try {
        await this.swap(await loadModelVersion(this.options, pointer));
        return;
      } catch (error) {
        this.options.logger.warn({ model: this.name, version: pointer.version, err: (error as Error).message }, 'cannot fall back to this earlier model version either');
      }
    }
  }

  private async swap(candidate: LoadedModel<S>): Promise<void> {
    const previous = this.held;
    this.held = { model: candidate, inFlight: 0, retired: false, filesSeen: await filesSeen(candidate.dir, graphFiles(candidate)) };
    this.diskProblem = undefined;
    if (previous) this.options.metrics.modelVersion.remove({ model: this.name, version: previous.model.version });
    this.options.metrics.modelVersion.set({ model: this.name, version: candidate.version }, 1);
    this.options.logger.info({ model: this.name, version: candidate.version, previous: previous?.model.version }, 'serving model version');
    if (previous) {
      previous.retired = true;
      if (previous.inFlight === 0) await this.release(previous);
    }
  }

  /**
   * The version served was verified when it loaded and keeps serving from memory; if its files
   * change on disk and no longer verify, a restart could not load it (it would fall back), so
   * the status and the log say so until they verify again.
   */
  private async recheckFiles(held: Held<S>): Promise<void> {
    const seen = await filesSeen(held.model.dir, graphFiles(held.model));
    if (seen === held.filesSeen) return;
    held.filesSeen = seen;
    this.diskProblem = await filesProblem(held.model);
    if (this.diskProblem) {
      this.options.logger.error({ model: this.name, version: held.model.version, err: this.diskProblem }, 'the files of the served model version changed on disk and no longer verify; serving the verified copy in memory, a restart would fall back');
    }
  }

  /** The fallback gauge: one series (value 1) while falling back, none otherwise. */
  private publishFallback(): void {
    const status = this.status();
    const gauge = this.options.metrics.modelServingFallback;
    if (this.fallbackLabels) gauge.remove(this.fallbackLabels);
    this.fallbackLabels = status.fallback && status.serving && status.production ? { model: this.name, version: status.serving, production: status.production } : undefined;
    if (this.fallbackLabels) gauge.set(this.fallbackLabels, 1);
  }

  private async release(held: Held<S>): Promise<void> {
    await Promise.all(Object.values(held.model.sessions).map((s) => s.release().catch(() => undefined)));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.held) {
      this.held.retired = true;
      if (this.held.inFlight === 0) await this.release(this.held);
    }
  }
}

/**
 * Loads one version as serving would and checks it: metadata against the pointer, the sha256
 * of every graph, tensor names, the model's serving parser and its further checks. Throws with
 * the reason a version cannot be served. The caller owns the sessions of what it answers.
 */
export async function loadModelVersion<S>(spec: SlotSpec<S>, pointer: Pick<ProductionPointer, 'version' | 'dir'>): Promise<LoadedModel<S>> {
  const name = spec.model;
  const metadata = JSON.parse(await readFile(path.join(pointer.dir, 'metadata.json'), 'utf8')) as ServingMetadata;
  if (metadata.name !== name) throw new Error(`metadata names model "${metadata.name}", expected "${name}"`);
  if (metadata.version !== pointer.version) throw new Error(`metadata says version ${metadata.version}, registry says ${pointer.version}`);
  const sessions: Record<string, InferenceSession> = {};
  try {
    for (const graph of ['model', ...(spec.extraGraphs ?? [])]) {
      const file = `${graph}.onnx`;
      const bytes = await readFile(path.join(pointer.dir, file));
      checkGraphSha(metadata, file, bytes);
      sessions[graph] = await openServingSession(bytes);
    }
    const main = sessions.model;
    if (!main) throw new Error('model.onnx did not open');
    for (const input of metadata.inputs) {
      if (!main.inputNames.includes(input.name)) throw new Error(`model.onnx has no input "${input.name}" (it has ${main.inputNames.join(', ')})`);
    }
    for (const output of metadata.outputs) {
      if (!main.outputNames.includes(output.name)) throw new Error(`model.onnx has no output "${output.name}" (it has ${main.outputNames.join(', ')})`);
    }
    const artefacts: Record<string, unknown> = {};
    for (const artefact of spec.artefacts ?? []) {
      artefacts[artefact] = JSON.parse(await readFile(path.join(pointer.dir, `${artefact}.json`), 'utf8'));
    }
    const serving = spec.serving(metadata, artefacts);
    const ref: ModelRef = { name, version: pointer.version, arm: null };
    const candidate: LoadedModel<S> = { name, version: pointer.version, ref, dir: pointer.dir, metadata, serving, sessions, artefacts };
    await spec.validate?.(candidate);
    return candidate;
  } catch (error) {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
    throw error;
  }
}

/** Throws the reason serving cannot load a version (as `loadModelVersion`), releasing what it opened. */
export async function checkServable<S>(spec: SlotSpec<S>, pointer: Pick<ProductionPointer, 'version' | 'dir'>): Promise<void> {
  const loaded = await loadModelVersion(spec, pointer);
  await Promise.all(Object.values(loaded.sessions).map((s) => s.release().catch(() => undefined)));
}

/** Throws unless a version's feature spec names exactly `names`, in order: the columns the serving code sends. */
export function checkFeatureSpec(metadata: ServingMetadata, names: readonly string[]): void {
  const spec = (metadata.featureSpec ?? []).map((f) => f.name);
  if (spec.join(',') !== names.join(',')) {
    throw new Error(`${metadata.name} ${metadata.version}: feature spec [${spec.join(', ')}] differs from the serving features [${names.join(', ')}]`);
  }
}
