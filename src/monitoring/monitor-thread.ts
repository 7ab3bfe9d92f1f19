/**
 * The serving thread's side of the live monitor's thread (monitor-worker.ts): what the library
 * subgraph holds instead of a LiveMonitor of its own.
 *
 * Contract:
 * - `health(model, window)` answers from the last snapshot the thread posted, as
 *   LiveMonitor.health does (empty before the first run completes): `Model.health` does no work
 *   and never waits for the thread.
 * - Each posted run sets the monitoring gauges (`model_live_metric`, `model_feature_drift`,
 *   `model_offline_metric`) of the process's registry to the thread's values, so /metrics shows
 *   them as when the monitor ran on the serving thread. Like there, a sample the monitor no
 *   longer sets keeps its last value. It also sets `monitor_thread_heap_used_bytes` and
 *   `monitor_thread_heap_total_bytes` to the thread's V8 heap in use and held at the end of the
 *   run (the default nodejs_heap_* metrics are the serving thread's).
 * - A thread that ends unexpectedly (an uncaught error) is logged and started again after
 *   `intervalMs`; the last snapshot keeps answering meanwhile.
 * - `stop` lets the run in hand finish and ends the thread; the thread never keeps the process
 *   alive by itself.
 */
import { Worker } from 'node:worker_threads';
import type { Gauge } from 'prom-client';
import type { Logger } from '../logging';
import type { MonitoringGauges, ProcessMetrics } from '../metrics';
import { healthIn, type ModelHealth } from './monitor';
import type { FromMonitor, MonitorThreadSettings, ToMonitor } from './monitor-worker';
import type { QualityWindow } from './windows';
import { monitoringScript } from './worker-script';

export interface MonitorThread {
  health(model: string, window: QualityWindow): ModelHealth[];
  /** Resolves after the next run the thread posts (tests and benches). */
  nextRun(): Promise<void>;
  stop(): Promise<void>;
}

export interface MonitorThreadOptions {
  /** The monitoring gauges, and where the thread's heap goes (the library's process metrics have both). */
  metrics: MonitoringGauges & Partial<Pick<ProcessMetrics, 'monitorThreadHeap' | 'monitorThreadHeapTotal'>>;
  logger: Logger;
  /** The compiled worker script; found beside this module by default. */
  workerFile?: string;
}

export function startMonitorThread(settings: MonitorThreadSettings, { metrics, logger, workerFile = monitoringScript('monitor-worker.js', "the live monitor's thread") }: MonitorThreadOptions): MonitorThread {
  let snapshot: ModelHealth[] = [];
  let waiting: Array<() => void> = [];
  let worker: Worker | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopping = false;
  let restart: NodeJS.Timeout | undefined;

  const onRun = (message: FromMonitor) => {
    snapshot = message.health;
    for (const { gauge, labels, value } of message.gauges) (metrics[gauge] as Gauge<string>).set(labels, value);
    if (Number.isFinite(message.heapUsedBytes)) metrics.monitorThreadHeap?.set(message.heapUsedBytes);
    if (Number.isFinite(message.heapTotalBytes)) metrics.monitorThreadHeapTotal?.set(message.heapTotalBytes);
    const heard = waiting;
    waiting = [];
    for (const resolve of heard) resolve();
  };

  const launch = () => {
    const started = new Worker(workerFile, { workerData: settings });
    started.unref();
    exited = new Promise<void>((resolve) => started.once('exit', () => resolve()));
    started.on('message', onRun);
    started.on('error', (error: unknown) => logger.error({ err: (error as Error | undefined)?.message ?? String(error) }, "the live monitor's thread failed"));
    started.on('exit', (code) => {
      if (stopping) return;
      logger.error({ code }, `the live monitor's thread ended; started again in ${settings.intervalMs} ms`);
      restart = setTimeout(launch, settings.intervalMs);
      restart.unref();
    });
    worker = started;
  };
  launch();

  return {
    health: (model, window) => healthIn(snapshot, model, window),
    nextRun: () => new Promise<void>((resolve) => waiting.push(resolve)),
    async stop() {
      stopping = true;
      clearTimeout(restart);
      const message: ToMonitor = { kind: 'stop' };
      // A thread that has already ended ignores the message; `exited` is then settled.
      worker?.ref();
      worker?.postMessage(message);
      await exited;
    },
  };
}
