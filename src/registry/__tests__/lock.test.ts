import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { lockPath, withRegistryLock } from '../lock';
import { tempModelsDir } from './fixtures';

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid;
}

function writeLock(modelsDir: string, holder: object): void {
  mkdirSync(path.join(modelsDir, 'metadata'), { recursive: true });
  writeFileSync(lockPath(modelsDir), JSON.stringify(holder));
}

describe('withRegistryLock', () => {
  it('runs one holder at a time and removes the lock afterwards', async () => {
    const modelsDir = tempModelsDir();
    const events: string[] = [];
    const hold = (label: string) =>
      withRegistryLock(modelsDir, async () => {
        events.push(`${label} in`);
        await new Promise((resolve) => setTimeout(resolve, 30));
        events.push(`${label} out`);
      });
    await Promise.all([hold('a'), hold('b'), hold('c')]);
    for (let i = 0; i < events.length; i += 2) expect(events[i + 1]).toBe(events[i]!.replace('in', 'out'));
    expect(existsSync(lockPath(modelsDir))).toBe(false);
  });

  it('releases the lock when the work throws', async () => {
    const modelsDir = tempModelsDir();
    await expect(withRegistryLock(modelsDir, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(existsSync(lockPath(modelsDir))).toBe(false);
  });

  it('breaks a lock left by a process that no longer runs', async () => {
    const modelsDir = tempModelsDir();
    writeLock(modelsDir, { pid: deadPid(), host: hostname(), since: '2024-01-01T00:00:00.000Z', token: 'dead' });
    await expect(withRegistryLock(modelsDir, async () => 'ran', { timeoutMs: 1000 })).resolves.toBe('ran');
  });

  it('gives up with a clear message while a live process holds the lock', async () => {
    const modelsDir = tempModelsDir();
    writeLock(modelsDir, { pid: process.pid, host: hostname(), since: '2024-01-01T00:00:00.000Z', token: 'live' });
    await expect(withRegistryLock(modelsDir, async () => 'ran', { timeoutMs: 100 })).rejects.toThrow(
      `the model registry is busy: process ${process.pid} on ${hostname()} since 2024-01-01T00:00:00.000Z holds ${lockPath(modelsDir)}`,
    );
    expect(existsSync(lockPath(modelsDir))).toBe(true);
  });

  it('treats a lock from another host as stale only after staleMs', async () => {
    const modelsDir = tempModelsDir();
    writeLock(modelsDir, { pid: 1, host: 'elsewhere', since: '2024-01-01T00:00:00.000Z', token: 'remote' });
    await expect(withRegistryLock(modelsDir, async () => 'ran', { timeoutMs: 100 })).rejects.toThrow('the model registry is busy');
    await new Promise((resolve) => setTimeout(resolve, 30));
    await expect(withRegistryLock(modelsDir, async () => 'ran', { timeoutMs: 100, staleMs: 10 })).resolves.toBe('ran');
  });
});
