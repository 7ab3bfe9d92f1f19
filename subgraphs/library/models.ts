/** `Query.models`: the model versions in production, read from the registry's folders. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DateTimeResolver } from 'graphql-scalars';
import { Ctx, Field, Float, ObjectType, Query, Resolver } from 'type-graphql';
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

  @Field(() => DateTimeResolver)
  trainedAt!: Date;

  @Field(() => ModelMetric, { nullable: true, description: 'The figure the promotion gate compares.' })
  headlineMetric?: ModelMetric | null;

  @Field(() => [ModelMetric], { description: 'Held-out metrics of this version.' })
  metrics!: ModelMetric[];

  @Field(() => [ModelMetric], { description: 'The same metrics for the simple baseline it is compared with.' })
  baselineMetrics!: ModelMetric[];
}

interface MetadataShape {
  name: string;
  version: string;
  stage: string;
  created: string;
  headlineMetric?: { name: string; value: number };
  metrics?: { heldOut?: Record<string, number>; baseline?: { metrics?: Record<string, number> } };
}

function toMetrics(record: Record<string, number> | undefined): ModelMetric[] {
  return Object.entries(record ?? {})
    .filter(([, value]) => typeof value === 'number' && Number.isFinite(value))
    .map(([name, value]) => ({ name, value }));
}

export function readProductionModels(modelsDir: string): ModelInfo[] {
  const productionDir = path.join(modelsDir, 'production');
  let names: string[];
  try {
    names = readdirSync(productionDir).sort();
  } catch {
    return [];
  }
  const models: ModelInfo[] = [];
  for (const name of names) {
    let versions: string[];
    try {
      versions = readdirSync(path.join(productionDir, name)).filter((v) => !v.startsWith('.'));
    } catch {
      continue;
    }
    for (const version of versions) {
      const metadata = JSON.parse(readFileSync(path.join(productionDir, name, version, 'metadata.json'), 'utf8')) as MetadataShape;
      models.push({
        name: metadata.name,
        version: metadata.version,
        stage: 'production',
        trainedAt: new Date(metadata.created),
        headlineMetric: metadata.headlineMetric ? { name: metadata.headlineMetric.name, value: metadata.headlineMetric.value } : null,
        metrics: toMetrics(metadata.metrics?.heldOut),
        baselineMetrics: toMetrics(metadata.metrics?.baseline?.metrics),
      });
    }
  }
  return models;
}

@Resolver()
export class ModelsResolver {
  @Query(() => [ModelInfo], { description: "Every model's production version, with its held-out metrics and baseline." })
  models(@Ctx() ctx: LibraryContext): ModelInfo[] {
    return readProductionModels(ctx.modelsDir);
  }
}
