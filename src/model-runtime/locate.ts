/**
 * Finds the production version of a model on disk: the one version folder under
 * `models/production/<model>/`. Folders whose names start with a dot are a promotion still
 * being written and are ignored, so a reader never sees a half-copied version.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ProductionPointer } from './model-slot';

export function compareSemver(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export async function locateProduction(modelsDir: string, name: string): Promise<ProductionPointer | undefined> {
  const dir = path.join(modelsDir, 'production', name);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return undefined;
  }
  const versions = entries.filter((e) => /^\d+\.\d+\.\d+$/.test(e)).sort(compareSemver);
  const version = versions[versions.length - 1];
  return version ? { version, dir: path.join(dir, version) } : undefined;
}
