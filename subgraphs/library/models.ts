/**
 * `Query.models`: every model's production version, as the registry records it, and the version
 * serving answers with (an earlier one when production cannot be loaded, checked as a subgraph
 * checks it).
 */
import { DateTimeResolver } from 'graphql-scalars';
import { Ctx, Field, Float, Int, ObjectType, Query, Resolver } from 'type-graphql';
import type { SliceFigures, ThresholdFigures } from '../../src/registry';
import { MODEL_NAMES } from '../../src/config';
import { servingChoice } from '../../src/models/slots';
import { getProduction } from '../../src/registry';
import type { LibraryContext } from './context';

@ObjectType({ description: 'One named figure of a model, measured on held-out data.' })
export class ModelMetric {
  @Field(() => String)
  name!: string;

  @Field(() => Float)
  value!: number;
}

@ObjectType({
  description:
    'A served risk level of a classifier and what it does on held-out rows: a prediction is at this level or above when its ' +
    'probability is at least `value`. Compare precision with baseRate (flagging the same share at random).',
})
export class ServedThreshold {
  @Field(() => String, { description: 'MEDIUM or HIGH.' })
  level!: string;

  @Field(() => Float)
  value!: number;

  @Field(() => String, { description: 'The rule that chose the value on validation rows, in words.' })
  rule!: string;

  @Field(() => Float, { nullable: true, description: 'Share of the flagged rows that were positive; null when none is flagged.' })
  precision!: number | null;

  @Field(() => Float, { description: 'Share of the positives flagged.' })
  recall!: number;

  @Field(() => Float, { description: 'Share of the rows flagged.' })
  share!: number;

  @Field(() => Float, { nullable: true, description: 'precision / baseRate.' })
  lift!: number | null;

  @Field(() => Float, { description: 'Positive rate of the held-out rows: the precision of a dummy flagging at random.' })
  baseRate!: number;

  @Field(() => Int)
  truePositives!: number;

  @Field(() => Int)
  falsePositives!: number;

  @Field(() => Int)
  falseNegatives!: number;

  @Field(() => Int)
  trueNegatives!: number;
}

@ObjectType({ description: 'A classifier on a part of its held-out rows (churn: new, declining, steady members), next to the oracle.' })
export class ModelSlice {
  @Field(() => String)
  name!: string;

  @Field(() => Int)
  rows!: number;

  @Field(() => Float)
  positiveRate!: number;

  @Field(() => Float, { nullable: true, description: 'Null when the slice holds one class only.' })
  auc!: number | null;

  @Field(() => Float, { nullable: true, description: 'On simulated data: the true probabilities\' AUC on the same rows.' })
  oracleAuc!: number | null;
}

@ObjectType({ description: 'A model version and how well it did on held-out data.' })
export class ModelInfo {
  @Field(() => String)
  name!: string;

  @Field(() => String)
  version!: string;

  @Field(() => String, { description: 'experiments, staging, production or archived' })
  stage!: string;

  @Field(() => String, {
    nullable: true,
    description: 'The version serving answers with: this one, or an earlier production version when this one cannot be loaded (corrupted files, settings the serving code cannot read); null when none can.',
  })
  servingVersion!: string | null;

  @Field(() => Boolean, { description: 'True when serving answers with an earlier version because this production version cannot be loaded.' })
  fallback!: boolean;

  @Field(() => DateTimeResolver)
  trainedAt!: Date;

  @Field(() => ModelMetric, { description: 'The figure the promotion gate compares.' })
  headlineMetric!: ModelMetric;

  @Field(() => [ModelMetric], { description: 'Held-out metrics of this version.' })
  metrics!: ModelMetric[];

  @Field(() => String, { description: 'The simple baseline it is compared with.' })
  baselineName!: string;

  @Field(() => [ModelMetric], { description: 'The baseline\'s figures on the same held-out data.' })
  baselineMetrics!: ModelMetric[];

  @Field(() => [ModelMetric], { description: 'On simulated data: the figures of the true probabilities (the ceiling). Empty otherwise.' })
  oracleMetrics!: ModelMetric[];

  @Field(() => [ServedThreshold], { description: 'Classifiers: each served risk level on the held-out rows. Empty for other models and for versions trained before thresholds were chosen by rule.' })
  thresholds!: ServedThreshold[];

  @Field(() => [ModelSlice], { description: 'Classifiers: AUC by slice of the held-out rows. Empty when the version reports none.' })
  slices!: ModelSlice[];
}

function toThreshold(t: ThresholdFigures): ServedThreshold {
  const { confusion, ...figures } = t;
  return { ...figures, ...confusion };
}

function toSlice(s: SliceFigures): ModelSlice {
  return { name: s.name, rows: s.rows, positiveRate: s.positiveRate, auc: s.auc, oracleAuc: s.oracleAuc };
}

function toMetrics(record: Record<string, number> | undefined): ModelMetric[] {
  return Object.entries(record ?? {})
    .filter(([, value]) => typeof value === 'number' && Number.isFinite(value))
    .map(([name, value]) => ({ name, value }));
}

export async function readProductionModels(modelsDir: string): Promise<ModelInfo[]> {
  const models: ModelInfo[] = [];
  for (const name of MODEL_NAMES) {
    const production = getProduction(modelsDir, name);
    if (!production) continue;
    const { metadata } = production;
    const serving = await servingChoice(modelsDir, name);
    models.push({
      name: metadata.name,
      version: metadata.version,
      stage: metadata.stage,
      servingVersion: serving.version,
      fallback: serving.fallback,
      trainedAt: new Date(metadata.created),
      headlineMetric: { name: metadata.headlineMetric.name, value: metadata.headlineMetric.value },
      metrics: toMetrics(metadata.metrics.heldOut),
      baselineName: metadata.metrics.baseline.name,
      baselineMetrics: toMetrics(metadata.metrics.baseline.metrics),
      oracleMetrics: toMetrics(metadata.metrics.oracle?.metrics),
      thresholds: (metadata.metrics.thresholds ?? []).map(toThreshold),
      slices: (metadata.metrics.slices ?? []).map(toSlice),
    });
  }
  return models;
}

@Resolver()
export class ModelsResolver {
  @Query(() => [ModelInfo], { description: "Every model's production version, with its held-out metrics next to its baseline." })
  models(@Ctx() ctx: LibraryContext): Promise<ModelInfo[]> {
    return readProductionModels(ctx.modelsDir);
  }
}
