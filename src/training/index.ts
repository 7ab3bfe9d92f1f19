/**
 * Training: runs a model's trainer on the store, decides its stage from the numbers, and
 * registers the version. A candidate that beats its baseline on the headline metric goes to
 * staging/ (ready for `models promote`); one that does not goes to experiments/.
 */
import type { ModelName } from '../config';
import { renderModelCard } from '../model-cards';
import { referencesFromRows } from '../monitoring/references';
import { getProduction, promoteVersion, registerVersion, type RegisteredModel } from '../registry';
import type { Store } from '../store';
import { trainChurn } from './churn';
import { trainDemand } from './demand';
import { trainOverdue } from './overdue';
import { trainRecommendations } from './recommendations';
import { trainMemberSegmentation } from './segmentation';
import type { TrainedModel, TrainOptions } from './types';

export type { Progress, TrainedModel, TrainOptions } from './types';
export { DEFAULT_MAX_THREADS, defaultTrainingThreads } from './types';

export type Trainer = (store: Store, options: TrainOptions) => Promise<TrainedModel>;

export const TRAINERS: Record<ModelName, Trainer> = {
  overdue: trainOverdue,
  churn: trainChurn,
  recommendations: trainRecommendations,
  segmentation: trainMemberSegmentation,
  demand: trainDemand,
};

/**
 * The gate at registration: the headline metric must beat the BEST of the baselines that report
 * it (the main one and every other), not just the main one. A headline no baseline reports is not
 * a pass: there is no evidence that the model beats anything.
 */
export function beatsBaseline(trained: Pick<TrainedModel, 'metadata'>): boolean {
  return baselineVerdict(trained).passed;
}

/** beatsBaseline's decision with the best baseline named, for the registry's reason. */
export function baselineVerdict({ metadata }: Pick<TrainedModel, 'metadata'>): { passed: boolean; reason: string } {
  const { headlineMetric, metrics } = metadata;
  const { name, value, higherIsBetter } = headlineMetric;
  const reporting = [metrics.baseline, ...(metrics.otherBaselines ?? [])].filter((b) => Number.isFinite(b.metrics[name]));
  if (reporting.length === 0 || !Number.isFinite(value)) {
    return { passed: false, reason: `no baseline reports ${name} on held-out data, so nothing shows it beats one` };
  }
  const better = (a: number, b: number): boolean => (higherIsBetter ? a > b : a < b);
  const best = reporting.reduce((a, b) => (better(b.metrics[name]!, a.metrics[name]!) ? b : a));
  const bestValue = best.metrics[name]!;
  const figures = `${name} ${value.toPrecision(4)} against ${bestValue.toPrecision(4)} for the best baseline (${best.name})`;
  return better(value, bestValue)
    ? { passed: true, reason: `beats its best baseline on held-out data: ${figures}` }
    : { passed: false, reason: `does not beat its best baseline on held-out data: ${figures}` };
}

export interface TrainAndRegisterOptions extends TrainOptions {
  modelsDir: string;
  who: string;
  /** Promote right away when validation passes. */
  promote?: boolean;
  /**
   * Promote even a version that does not beat its best baseline when the model has no production
   * version yet (seeding a fresh models/ folder: every field needs a version to serve). The
   * registry's history records that it did not beat its baseline.
   */
  seedProduction?: boolean;
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
  const verdict = baselineVerdict(trained);
  const stage = verdict.passed ? 'staging' : 'experiments';
  const registered = await registerVersion(options.modelsDir, {
    metadata,
    onnxBytes: trained.onnxBytes,
    parity: trained.parity,
    extraFiles: trained.extraFiles,
    charts: trained.charts,
    renderCard: (metadata) => renderModelCard(metadata, trained.charts),
    stage,
    who: options.who,
    reason: verdict.reason,
  });
  let promoted = false;
  if (options.promote && stage === 'staging') {
    await promoteVersion(options.modelsDir, name, registered.metadata.version, { who: options.who, reason: 'trained with --promote' });
    promoted = true;
  } else if (options.seedProduction && getProduction(options.modelsDir, name) === null) {
    const reason = `first version of ${name}, served so the field answers; ${verdict.reason}`;
    await promoteVersion(options.modelsDir, name, registered.metadata.version, { who: options.who, reason });
    promoted = true;
  }
  return { registered, trained, seconds, promoted };
}
