/**
 * Wakes a follower of a SQLite store soon after a writer commits change records to it, as
 * NOTIFY does on PostgreSQL. The writer touches the store's change signal file (sets its
 * modification time) after each such commit (src/circulation/feed `notifyChanges`), and a watch
 * on that file (inotify on Linux) reports it. Only the change feed's commits touch the file:
 * watching the write-ahead log woke every follower for every commit of the prediction log and
 * the monitor too, several a second under load, each wake a read of the change records that
 * found nothing new.
 *
 * Wakes come at most one per `minGapMs`: the first signal after a quiet spell wakes at once, later
 * ones within the gap are gathered into one wake at its end, so a flood of commits costs a
 * follower a bounded number of reads. Polling stays the follower's floor: a watch that cannot be
 * set up, or fails later, only means waking on the timer again.
 */
import { closeSync, openSync, watch, type FSWatcher } from 'node:fs';
import { changeSignalFile } from '../circulation/feed';
import type { Logger } from '../logging';
import { sqlitePath } from '../store';

export interface CommitWatch {
  close(): void;
}

export function watchCommits(databaseUrl: string, wake: () => void, minGapMs: number, logger: Logger): CommitWatch | undefined {
  const file = sqlitePath(databaseUrl);
  if (file === undefined || file === ':memory:') return undefined;
  const signal = changeSignalFile(file);
  let lastWake = -Infinity;
  let pending: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let closed = false;
  const fire = () => {
    pending = undefined;
    lastWake = performance.now();
    wake();
  };
  const onSignal = (event: string) => {
    // The file was removed or replaced: watch whatever is at its name now.
    if (event === 'rename' && !closed) rearm();
    if (pending) return;
    const wait = lastWake + minGapMs - performance.now();
    if (wait <= 0) fire();
    else pending = setTimeout(fire, wait);
  };
  const arm = (create: boolean): FSWatcher => {
    // No writer may have signalled yet: an empty file to watch, which the first signal touches.
    if (create) closeSync(openSync(signal, 'a'));
    const started = watch(signal, { persistent: false }, onSignal);
    started.on('error', (error) => {
      logger.warn({ err: error.message, file: signal }, 'the watch on the store\'s change signal failed; following by polling only');
      started.close();
    });
    return started;
  };
  // Not recreated here: a file removed with its folder (a library being deleted) stays removed.
  const rearm = () => {
    watcher?.close();
    watcher = undefined;
    try {
      watcher = arm(false);
    } catch (error) {
      logger.debug({ err: (error as Error).message, file: signal }, 'the store\'s change signal is gone; following by polling only');
    }
  };
  try {
    watcher = arm(true);
  } catch (error) {
    logger.warn({ err: (error as Error).message, file: signal }, 'cannot watch the store\'s change signal; following by polling only');
    return undefined;
  }
  return {
    close: () => {
      closed = true;
      clearTimeout(pending);
      watcher?.close();
    },
  };
}
