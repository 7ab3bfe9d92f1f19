/**
 * models/metadata/registry.json: every version of every model, its stage and its stage history.
 * It is the source of truth; version directories follow it. Written only under the registry lock
 * and always atomically, so a reader sees either the old or the new file, never half of one.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { RegistryError } from './errors';
import { writeFileAtomic, toJson } from './files';
import { compareVersions } from './semver';
import { STAGES } from './types';
import type { RegisteredVersion, Stage } from './types';

export const REGISTRY_FORMAT = 'shelfmark-model-registry';

export interface ModelRecord {
  /**
   * Versions that were in production before the current one, most recent last: `rollback` goes
   * back to the last of them.
   */
  previousProduction: string[];
  versions: Record<string, RegisteredVersion>;
}

export interface RegistryFile {
  format: typeof REGISTRY_FORMAT;
  formatVersion: 1;
  models: Record<string, ModelRecord>;
}

const MODEL_NAME = /^[a-z][a-z0-9-]*$/;

export function checkModelName(name: string): void {
  if (!MODEL_NAME.test(name)) {
    throw new RegistryError('invalid-input', `a model name is lower-case letters, digits and dashes (e.g. "churn"), got "${name}"`);
  }
}

export function registryPath(modelsDir: string): string {
  return path.join(modelsDir, 'metadata', 'registry.json');
}

export function versionDir(modelsDir: string, stage: Stage, name: string, version: string): string {
  return path.join(modelsDir, stage, name, version);
}

export function relativeVersionDir(stage: Stage, name: string, version: string): string {
  return [stage, name, version].join('/');
}

export function emptyRegistry(): RegistryFile {
  return { format: REGISTRY_FORMAT, formatVersion: 1, models: {} };
}

export function parseRegistry(raw: string, file: string): RegistryFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new RegistryError('corrupt', `${file} is not valid JSON: ${(error as Error).message}`);
  }
  const registry = parsed as Partial<RegistryFile> | null;
  if (registry?.format !== REGISTRY_FORMAT || registry.formatVersion !== 1 || typeof registry.models !== 'object') {
    throw new RegistryError('corrupt', `${file} is not a Shelfmark model registry (format ${REGISTRY_FORMAT}, version 1)`);
  }
  return registry as RegistryFile;
}

export function readRegistry(modelsDir: string): RegistryFile {
  const file = registryPath(modelsDir);
  if (!existsSync(file)) return emptyRegistry();
  return parseRegistry(readFileSync(file, 'utf8'), file);
}

export function writeRegistry(modelsDir: string, registry: RegistryFile): void {
  const file = registryPath(modelsDir);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, toJson(registry));
}

export function findVersion(registry: RegistryFile, name: string, version: string): RegisteredVersion {
  const entry = registry.models[name]?.versions[version];
  if (!entry) {
    const known = registry.models[name] ? Object.keys(registry.models[name].versions).sort(compareVersions).join(', ') : '';
    throw new RegistryError(
      'not-found',
      registry.models[name] ? `${name} has no version ${version} (registered: ${known})` : `no model named ${name} is registered`,
    );
  }
  return entry;
}

export function productionVersion(registry: RegistryFile, name: string): RegisteredVersion | undefined {
  const versions = Object.values(registry.models[name]?.versions ?? {});
  return versions.find((entry) => entry.stage === 'production');
}

export function isStage(text: string): text is Stage {
  return (STAGES as readonly string[]).includes(text);
}
