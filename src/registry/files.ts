/**
 * File operations that a server reading the models folder at the same time can live with: a
 * file or directory appears under its final name only once it is complete (write or copy to a
 * temporary name in the same folder, then rename, which is atomic on one file system).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, cpSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Temporary names start with a dot so that listings of versions skip them. */
export const INCOMING_PREFIX = '.incoming-';

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function temporaryName(dir: string, base: string): string {
  return path.join(dir, `${INCOMING_PREFIX}${base}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

export function writeFileAtomic(file: string, contents: Uint8Array | string): void {
  const temporary = temporaryName(path.dirname(file), path.basename(file));
  const fd = openSync(temporary, 'w');
  try {
    writeSync(fd, typeof contents === 'string' ? Buffer.from(contents) : contents);
    // Without the fsync a crash right after the rename can leave an empty file under the final name.
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
}

/** The same object always serialises to the same bytes, so a moved-and-moved-back file is unchanged. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * Builds a directory under a temporary name beside `finalDir`, lets `fill` write into it, then
 * renames it into place. `finalDir` must not exist.
 */
export function createDirAtomic(finalDir: string, fill: (dir: string) => void): void {
  mkdirSync(path.dirname(finalDir), { recursive: true });
  const temporary = temporaryName(path.dirname(finalDir), path.basename(finalDir));
  try {
    fill(temporary);
    renameSync(temporary, finalDir);
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    throw error;
  }
}

export function copyDirAtomic(source: string, finalDir: string, edit: (copy: string) => void = () => {}): void {
  createDirAtomic(finalDir, (temporary) => {
    cpSync(source, temporary, { recursive: true, errorOnExist: true, force: false });
    edit(temporary);
  });
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
