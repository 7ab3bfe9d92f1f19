import type { ChartData } from '../model-cards';
import type { ReferenceRows } from '../monitoring/references';
import type { ModelMetadataDraft, ParityFile } from '../registry';

export type Progress = (message: string, details?: Record<string, unknown>) => void;

export interface TrainOptions {
  seed: number;
  progress: Progress;
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
