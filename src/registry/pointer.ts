/**
 * What a running subgraph polls to hot-reload its model: which version is in production, where,
 * and the sha256 its model.onnx must have. A poll costs one stat() of registry.json; the file is
 * parsed again only when it changed (every write replaces it by rename, so its inode changes).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseRegistry, productionVersion, registryPath } from './registry-file';
import type { RegistryFile } from './registry-file';
import type { ProductionPointer } from './types';

interface CachedRegistry {
  ino: number;
  mtimeMs: number;
  size: number;
  registry: RegistryFile;
}

const cache = new Map<string, CachedRegistry>();

function currentRegistry(modelsDir: string): RegistryFile | undefined {
  const file = registryPath(modelsDir);
  let stat;
  try {
    stat = statSync(file);
  } catch {
    cache.delete(file);
    return undefined;
  }
  const cached = cache.get(file);
  if (cached && cached.ino === stat.ino && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached.registry;
  const registry = parseRegistry(readFileSync(file, 'utf8'), file);
  cache.set(file, { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size, registry });
  return registry;
}

/** null when the model has no production version (or nothing is registered yet). */
export function readProductionPointer(modelsDir: string, name: string): ProductionPointer | null {
  const registry = currentRegistry(modelsDir);
  const entry = registry && productionVersion(registry, name);
  if (!entry) return null;
  return { version: entry.version, dir: path.join(modelsDir, entry.dir), sha256: entry.sha256 };
}

/**
 * The versions that were in production before the current one and are still registered, most
 * recent first: where a subgraph that cannot load the production version falls back to.
 */
export function readFallbackPointers(modelsDir: string, name: string): ProductionPointer[] {
  const registry = currentRegistry(modelsDir);
  const record = registry?.models[name];
  if (!registry || !record) return [];
  const current = productionVersion(registry, name)?.version;
  const seen = new Set<string>();
  const pointers: ProductionPointer[] = [];
  for (const version of [...record.previousProduction].reverse()) {
    const entry = record.versions[version];
    if (!entry || version === current || seen.has(version)) continue;
    seen.add(version);
    pointers.push({ version, dir: path.join(modelsDir, entry.dir), sha256: entry.sha256 });
  }
  return pointers;
}

export interface ProductionWatch {
  stop(): void;
}

/**
 * Calls `onChange` with the production pointer now and whenever it changes (another version,
 * or none). A failed read is reported to `onError` and retried at the next tick; the caller
 * keeps serving the model it has until a new one loads.
 */
export function watchProductionPointer(
  modelsDir: string,
  name: string,
  onChange: (pointer: ProductionPointer | null) => void,
  { intervalMs = 1000, onError = () => {} }: { intervalMs?: number; onError?: (error: Error) => void } = {},
): ProductionWatch {
  let last: string | undefined;
  const poll = (): void => {
    try {
      const pointer = readProductionPointer(modelsDir, name);
      const key = pointer ? `${pointer.version}:${pointer.sha256}` : 'none';
      if (key !== last) {
        last = key;
        onChange(pointer);
      }
    } catch (error) {
      onError(error as Error);
    }
  };
  poll();
  const timer = setInterval(poll, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
