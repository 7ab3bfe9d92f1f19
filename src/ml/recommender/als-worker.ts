/** An ALS worker thread (als-threads.ts): solves the rows of the half-steps it is sent. */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { HalfStepJob, HalfStepReportPort, HalfStepWorkerData } from './als-threads';
import { solveRows } from './half-step';

const { signal } = workerData as HalfStepWorkerData;
let report: MessagePort | undefined;

parentPort?.on('message', (message: HalfStepJob | HalfStepReportPort) => {
  if ('report' in message) {
    report = message.report;
    Atomics.add(signal, 1, 1);
    Atomics.notify(signal, 1);
    return;
  }
  try {
    solveRows(message, message.fixed, message.gram, message.target, message.prior, message.settings, message.from, message.to);
  } catch (error) {
    // Reported before the job counts as finished, so the caller finds it when it wakes.
    report?.postMessage({ error: error instanceof Error ? error.message : String(error) });
    Atomics.add(signal, 2, 1);
  }
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
});
