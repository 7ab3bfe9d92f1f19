/** Every model's slot spec by name: what serving loads and checks for each model the registry holds. */
import type { ModelName } from '../config';
import { checkServable, type SlotSpec } from '../model-runtime/model-slot';
import { CHURN_SLOT } from './churn';
import { DEMAND_SLOT } from './demand';
import { OVERDUE_SLOT } from './overdue';
import { RECOMMENDATIONS_SLOT } from './recommendations';
import { SEGMENTATION_SLOT } from './segmentation';

export const SLOT_SPECS: Readonly<Record<ModelName, SlotSpec<unknown>>> = {
  overdue: OVERDUE_SLOT,
  churn: CHURN_SLOT,
  recommendations: RECOMMENDATIONS_SLOT,
  segmentation: SEGMENTATION_SLOT,
  demand: DEMAND_SLOT,
};

/**
 * Throws the reason the current serving code cannot load `version` of model `name` from `dir`
 * (the checks a subgraph makes before serving it); a model this code does not serve passes.
 */
export async function checkServingCanLoad(name: string, version: string, dir: string): Promise<void> {
  const spec = (SLOT_SPECS as Readonly<Record<string, SlotSpec<unknown> | undefined>>)[name];
  if (spec) await checkServable(spec, { version, dir });
}
