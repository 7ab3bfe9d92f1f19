/**
 * One registry command at a time: every change to the models folder runs inside
 * `withRegistryLock`, which holds `metadata/registry.lock`, created with O_EXCL so that exactly
 * one process (or one call within a process) wins.
 *
 * A lock left behind by a process that died is stale: on this host when its pid no longer
 * runs, elsewhere (a shared volume) when it is older than `staleMs`. Breaking a stale lock is
 * itself guarded by a short-lived `registry.lock.break` file, so that two waiters cannot both
 * break it and then both believe they hold it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RegistryError } from './errors';

export interface LockOptions {
  /** How long to wait for another command to finish. */
  timeoutMs?: number;
  /** Age after which a lock from another host is considered abandoned. */
  staleMs?: number;
}

interface LockHolder {
  pid: number;
  host: string;
  since: string;
  token: string;
}

/** A lock file that is still empty this long after creation was abandoned mid-write. */
const EMPTY_LOCK_GRACE_MS = 5_000;
const BREAKER_STALE_MS = 10_000;

export function lockPath(modelsDir: string): string {
  return path.join(modelsDir, 'metadata', 'registry.lock');
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error).code) : undefined;
}

function createExclusive(file: string, contents: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, contents);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readLock(file: string): { raw: string; holder: LockHolder | undefined; ageMs: number } | undefined {
  try {
    const raw = readFileSync(file, 'utf8');
    const ageMs = Date.now() - statSync(file).mtimeMs;
    try {
      return { raw, holder: JSON.parse(raw) as LockHolder, ageMs };
    } catch {
      return { raw, holder: undefined, ageMs };
    }
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return errorCode(error) === 'EPERM';
  }
}

function isStale(lock: { holder: LockHolder | undefined; ageMs: number }, staleMs: number): boolean {
  if (!lock.holder) return lock.ageMs > EMPTY_LOCK_GRACE_MS;
  if (lock.holder.host === hostname()) return !processIsAlive(lock.holder.pid);
  return lock.ageMs > staleMs;
}

function breakStaleLock(file: string, staleRaw: string): void {
  const breaker = `${file}.break`;
  if (!createExclusive(breaker, String(process.pid))) {
    const age = readLock(breaker)?.ageMs ?? 0;
    if (age > BREAKER_STALE_MS) unlinkIfPresent(breaker);
    return;
  }
  try {
    // Only remove the lock we judged stale: someone may have broken and re-taken it meanwhile.
    if (readLock(file)?.raw === staleRaw) unlinkIfPresent(file);
  } finally {
    unlinkIfPresent(breaker);
  }
}

function unlinkIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}

export async function withRegistryLock<T>(modelsDir: string, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const { timeoutMs = 30_000, staleMs = 10 * 60_000 } = options;
  const file = lockPath(modelsDir);
  mkdirSync(path.dirname(file), { recursive: true });
  const holder: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  const contents = JSON.stringify(holder);
  const deadline = Date.now() + timeoutMs;

  while (!createExclusive(file, contents)) {
    const current = readLock(file);
    if (current === undefined) continue;
    if (isStale(current, staleMs)) {
      breakStaleLock(file, current.raw);
      continue;
    }
    if (Date.now() > deadline) {
      const who = current.holder ? `process ${current.holder.pid} on ${current.holder.host} since ${current.holder.since}` : 'another process';
      throw new RegistryError('locked', `the model registry is busy: ${who} holds ${file}`);
    }
    await sleep(20 + Math.random() * 30);
  }

  try {
    return await work();
  } finally {
    if (readLock(file)?.raw === contents) unlinkIfPresent(file);
  }
}
