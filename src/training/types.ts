import { availableParallelism } from 'node:os';
import type { ChartData } from '../model-cards';
import type { ReferenceRows } from '../monitoring/references';
import type { ModelMetadataDraft, ParityFile } from '../registry';

export type Progress = (message: string, details?: Record<string, unknown>) => void;

export interface TrainOptions {
  seed: number;
  progress: Progress;
  /** Threads for the steps that split over them (1 when absent); a model is the same for any number. */
  threads?: number;
}

/** The most threads a training uses unless told otherwise. */
export const DEFAULT_MAX_THREADS = 8;

/** The machine's cores, at most DEFAULT_MAX_THREADS. */
export function defaultTrainingThreads(): number {
  return Math.max(1, Math.min(DEFAULT_MAX_THREADS, availableParallelism()));
}

/** What a trainer hands to the registry. */
export interface TrainedModel {
  metadata: ModelMetadataDraft;
  onnxBytes: Uint8Array;
  parity: ParityFile;
  extraFiles?: Record<string, Uint8Array | string>;
  charts: ChartData[];
  /** The training rows through the serving feature path, and the score on them: the version's drift references. */
  referenceRows: ReferenceRows;
}
