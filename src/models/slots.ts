/** Every model's slot spec by name: what serving loads and checks for each model the registry holds. */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { ModelName } from '../config';
import { readFallbackPointers, readProductionPointer } from '../registry';
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

/** Which version serving answers with for a model, as a subgraph started now would choose it. */
export interface ServingChoice {
  /** Production when it loads, else the newest earlier production version that does; null when none does. */
  version: string | null;
  /** True when `version` is not production because production cannot be loaded. */
  fallback: boolean;
  /** Why production cannot be loaded. */
  reason?: string;
}

const choices = new Map<string, { key: string; choice: ServingChoice }>();

function statKey(dir: string): string {
  try {
    const stat = statSync(path.join(dir, 'model.onnx'));
    return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

/**
 * The version a subgraph serving `name` would load from `modelsDir`, by the same checks and
 * fallback order as its slot. Remembered until the registry's production or earlier versions,
 * or a model.onnx among them, change.
 */
export async function servingChoice(modelsDir: string, name: string): Promise<ServingChoice> {
  const production = readProductionPointer(modelsDir, name);
  if (!production) return { version: null, fallback: false };
  const candidates = [production, ...readFallbackPointers(modelsDir, name)];
  const key = candidates.map((c) => `${c.version}@${c.dir}#${c.sha256}#${statKey(c.dir)}`).join('|');
  const cached = choices.get(`${modelsDir}\0${name}`);
  if (cached?.key === key) return cached.choice;
  let choice: ServingChoice = { version: null, fallback: false };
  let reason: string | undefined;
  for (const candidate of candidates) {
    try {
      await checkServingCanLoad(name, candidate.version, candidate.dir);
      choice = candidate === production ? { version: candidate.version, fallback: false } : { version: candidate.version, fallback: true, ...(reason ? { reason } : {}) };
      break;
    } catch (error) {
      reason ??= `${production.version}: ${(error as Error).message}`;
    }
  }
  choices.set(`${modelsDir}\0${name}`, { key, choice });
  return choice;
}
