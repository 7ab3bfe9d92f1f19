/**
 * The live monitor's thread: runs the library subgraph's LiveMonitor (monitor.ts) off the
 * serving thread, with a store connection of its own, and posts each run's result to the
 * serving thread. Started by monitor-thread.ts (`startMonitorThread`), never on its own.
 *
 * Why a thread: a monitor run reads every new prediction-log record, judges outcomes with
 * feature queries, bootstraps intervals and compares drift windows. On the serving thread that
 * work (hundreds of milliseconds per run on a living library) sat between the requests and the
 * circulation writes the library subgraph answers; here it costs the serving thread one
 * structured clone of the snapshot per run.
 *
 * Contract:
 * - Runs every `intervalMs` (the first run at once); runs never overlap (LiveMonitor.start).
 * - After each completed run it posts `run`: every entry of the snapshot (what `Model.health`
 *   answers) and every sample of the monitoring gauges the monitor set on this thread's own
 *   registry (nobody scrapes it; the serving thread copies the samples onto the process's).
 * - A failed run is logged here and retried at the next interval (LiveMonitor.start).
 * - `stop` lets the run in hand finish, closes the connection and ends the thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { readClock } from '../circulation';
import type { ClockMode } from '../config';
import { createLogger } from '../logging';
import { createMonitoringGauges, type MonitoringGauges } from '../metrics';
import { openStore } from '../store';
import { LiveMonitor, type ModelHealth } from './monitor';

export interface MonitorThreadSettings {
  databaseUrl: string;
  modelsDir: string;
  clock: ClockMode;
  intervalMs: number;
  logLevel: string;
  /** SQLite: how long the monitor's statements wait for the writer's lock (this thread may block). */
  busyTimeoutMs: number;
}

/** The gauges a monitor run sets (monitor.ts's MonitorDeps['metrics']). */
export const MONITOR_GAUGES = ['modelLiveMetric', 'modelFeatureDrift', 'modelOfflineMetric'] as const;
export type MonitorGaugeName = (typeof MONITOR_GAUGES)[number];

export interface GaugeSample {
  gauge: MonitorGaugeName;
  labels: Record<string, string | number>;
  value: number;
}

export type ToMonitor = { kind: 'stop' };

/** After each run: the health snapshot, the gauges' values, and the thread's V8 heap in use and held (bytes). */
export type FromMonitor = { kind: 'run'; health: ModelHealth[]; gauges: GaugeSample[]; heapUsedBytes: number; heapTotalBytes: number };

async function samplesOf(gauges: MonitoringGauges): Promise<GaugeSample[]> {
  const samples: GaugeSample[] = [];
  for (const gauge of MONITOR_GAUGES) {
    for (const { labels, value } of (await gauges[gauge].get()).values) samples.push({ gauge, labels: labels, value });
  }
  return samples;
}

function run(port: NonNullable<typeof parentPort>, settings: MonitorThreadSettings): void {
  const logger = createLogger('library-monitor', settings.logLevel);
  const store = openStore(settings.databaseUrl, { busyTimeoutMs: settings.busyTimeoutMs });
  const gauges = createMonitoringGauges(new Registry());
  const monitor = new LiveMonitor({ store, modelsDir: settings.modelsDir, metrics: gauges, logger, clock: () => readClock(store, { mode: settings.clock }) });
  monitor.start(settings.intervalMs, () => {
    void samplesOf(gauges).then((samples) => {
      const { heapUsed, heapTotal } = process.memoryUsage();
      const message: FromMonitor = { kind: 'run', health: monitor.snapshotEntries(), gauges: samples, heapUsedBytes: heapUsed, heapTotalBytes: heapTotal };
      port.postMessage(message);
    });
  });
  port.on('message', (message: ToMonitor) => {
    if (message.kind !== 'stop') throw new Error(`the live monitor's thread got an unknown message: ${JSON.stringify(message)}`);
    void (async () => {
      await monitor.stop();
      await store.close();
      // Ends this thread only; the serving thread waits for its 'exit'.
      process.exit(0);
    })();
  });
}

if (parentPort) run(parentPort, workerData as MonitorThreadSettings);
