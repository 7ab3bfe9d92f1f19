/**
 * Training: runs a model's trainer on the store, decides its stage from the numbers, and
 * registers the version. A candidate that beats its baseline on the headline metric goes to
 * staging/ (ready for `models promote`); one that does not goes to experiments/.
 */
import type { ModelName } from '../config';
import { renderModelCard } from '../model-cards';
import { referencesFromRows } from '../monitoring/references';
import { promoteVersion, registerVersion, type RegisteredModel } from '../registry';
import type { Store } from '../store';
import { trainChurn } from './churn';
import { trainDemand } from './demand';
import { trainOverdue } from './overdue';
import { trainRecommendations } from './recommendations';
import { trainMemberSegmentation } from './segmentation';
import type { TrainedModel, TrainOptions } from './types';

export type { Progress, TrainedModel, TrainOptions } from './types';

export type Trainer = (store: Store, options: TrainOptions) => Promise<TrainedModel>;

export const TRAINERS: Record<ModelName, Trainer> = {
  overdue: trainOverdue,
  churn: trainChurn,
  recommendations: trainRecommendations,
  segmentation: trainMemberSegmentation,
  demand: trainDemand,
};

export function beatsBaseline(trained: TrainedModel): boolean {
  const { headlineMetric, metrics } = trained.metadata;
  const baseline = metrics.baseline.metrics[headlineMetric.name];
  if (baseline === undefined) return true;
  return headlineMetric.higherIsBetter ? headlineMetric.value > baseline : headlineMetric.value < baseline;
}

export interface TrainAndRegisterOptions extends TrainOptions {
  modelsDir: string;
  who: string;
  /** Promote right away when validation passes (used to seed a fresh models/ folder). */
  promote?: boolean;
}

export async function trainAndRegister(
  name: ModelName,
  store: Store,
  options: TrainAndRegisterOptions,
): Promise<{ registered: RegisteredModel; trained: TrainedModel; seconds: number; promoted: boolean }> {
  const trainer = TRAINERS[name];
  const started = process.hrtime.bigint();
  const trained = await trainer(store, options);
  const metadata = { ...trained.metadata, driftReferences: referencesFromRows(trained.referenceRows) };
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const stage = beatsBaseline(trained) ? 'staging' : 'experiments';
  const registered = await registerVersion(options.modelsDir, {
    metadata,
    onnxBytes: trained.onnxBytes,
    parity: trained.parity,
    extraFiles: trained.extraFiles,
    charts: trained.charts,
    renderCard: (metadata) => renderModelCard(metadata, trained.charts),
    stage,
    who: options.who,
    reason: stage === 'staging' ? 'beats its baseline on held-out data' : 'does not beat its baseline on held-out data',
  });
  let promoted = false;
  if (options.promote && stage === 'staging') {
    await promoteVersion(options.modelsDir, name, registered.metadata.version, { who: options.who, reason: 'trained with --promote' });
    promoted = true;
  }
  return { registered, trained, seconds, promoted };
}
