/** The runner without Redis: each result's work runs in this process, one run at a time. */
import type { Logger } from '../logging';
import type { BackgroundResult, BackgroundResults, Computed } from './index';

export function openInProcessResults(logger: Logger): BackgroundResults {
  const running = new Set<Promise<void>>();
  let closed = false;

  const define = <T>(name: string, compute: () => Promise<T>): BackgroundResult<T> => {
    let last: Computed<T> | undefined;
    let run: Promise<void> | undefined;
    let again = false;

    const start = (): void => {
      run = (async () => {
        do {
          again = false;
          const started = Date.now();
          try {
            const value = await compute();
            last = { value, computedAt: new Date().toISOString() };
            logger.info({ result: name, ms: Date.now() - started }, 'background result computed');
          } catch (error) {
            logger.warn({ result: name, err: (error as Error).message }, 'computing a background result failed; the previous one keeps answering');
          }
        } while (again && !closed);
      })().finally(() => {
        if (run) running.delete(run);
        run = undefined;
      });
      running.add(run);
    };

    return {
      request: () => {
        if (closed) return;
        if (run) again = true;
        else start();
      },
      latest: async () => last,
      pending: async () => run !== undefined,
    };
  };

  return {
    define,
    runner: 'in-process',
    close: async () => {
      closed = true;
      await Promise.all(running);
    },
  };
}
