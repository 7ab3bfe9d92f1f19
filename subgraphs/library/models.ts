/**
 * `Query.models`: every model's production version, as the registry records it, and the version
 * serving answers with (an earlier one when production cannot be loaded, checked as a subgraph
 * checks it).
 */
import { DateTimeResolver } from 'graphql-scalars';
import { Ctx, Field, Float, ObjectType, Query, Resolver } from 'type-graphql';
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
