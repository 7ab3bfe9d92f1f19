/**
 * The life of a server process started by the launcher or by hand: tell the parent (over IPC,
 * when there is one) where it listens, and stop cleanly on SIGINT/SIGTERM.
 */
export interface Stoppable {
  url: string;
  stop(): Promise<void>;
}

export function serveUntilSignal(name: string, running: Stoppable): void {
  process.send?.({ type: 'listening', name, url: running.url });
  const stop = async () => {
    await running.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
