/**
 * Wakes a follower of a SQLite store soon after any process commits to it, as NOTIFY does on
 * PostgreSQL. Every commit appends to the database's write-ahead log (`<file>-wal`), and a
 * watch on its directory (inotify on Linux) reports the write; readers never write the log.
 * The directory is watched, not the log itself, because SQLite may delete and recreate the log.
 *
 * Wakes come at most one per `minGapMs`: the first write after a quiet spell wakes at once, later
 * ones within the gap are gathered into one wake at its end, so a flood of commits costs a
 * follower a bounded number of reads. Polling stays the follower's floor: a watch that cannot be
 * set up, or fails later, only means waking on the timer again.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logging';
import { sqlitePath } from '../store';

export interface CommitWatch {
  close(): void;
}

export function watchCommits(databaseUrl: string, wake: () => void, minGapMs: number, logger: Logger): CommitWatch | undefined {
  const file = sqlitePath(databaseUrl);
  if (file === undefined || file === ':memory:') return undefined;
  const log = `${path.basename(file)}-wal`;
  let lastWake = -Infinity;
  let pending: NodeJS.Timeout | undefined;
  const fire = () => {
    pending = undefined;
    lastWake = performance.now();
    wake();
  };
  const onWrite = (_event: string, name: string | Buffer | null) => {
    if (pending || (name !== null && name.toString() !== log)) return;
    const wait = lastWake + minGapMs - performance.now();
    if (wait <= 0) fire();
    else pending = setTimeout(fire, wait);
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(path.dirname(path.resolve(file)), { persistent: false }, onWrite);
  } catch (error) {
    logger.warn({ err: (error as Error).message, file }, 'cannot watch the store for commits; following by polling only');
    return undefined;
  }
  watcher.on('error', (error) => {
    logger.warn({ err: error.message, file }, 'the watch on the store failed; following by polling only');
    watcher.close();
  });
  return {
    close: () => {
      clearTimeout(pending);
      watcher.close();
    },
  };
}
