/**
 * The ALS half-steps on worker threads.
 *
 * Contract: `HalfStepThreads.start(n)` starts n - 1 workers (none, and undefined, for n <= 1).
 * `solve` splits a half-step's rows into n contiguous ranges of about equal cost, solves the
 * first on the calling thread and the others on the workers, and returns when every row is
 * written: synchronously (the caller blocks in `Atomics.wait`), so the trainer stays a plain
 * function. Every row is solved by the same `solveRows` from the same inputs, so the factors
 * are bit for bit those of one thread. The arrays a half-step reads and writes must live on
 * SharedArrayBuffers (`sharedRows`, `sharedFloat64`); a worker's failure is thrown here with its
 * message. `close` ends the workers (they never keep the process alive).
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { compiledScript } from '../../util/worker-script';
import { solveRows, type HalfStepSettings } from './half-step';
import type { SparseRows } from './sparse-rows';

/** What a worker is asked to do: rows `from` to `to` of one half-step. */
export interface HalfStepJob {
  rowStart: Int32Array;
  column: Int32Array;
  weight: Float64Array;
  fixed: Float64Array;
  gram: Float64Array;
  target: Float64Array;
  prior: Float64Array | undefined;
  settings: HalfStepSettings;
  from: number;
  to: number;
}

export interface HalfStepWorkerData {
  /** [jobs finished, workers started, jobs failed]: the workers add to them and notify. */
  signal: Int32Array;
}

/** The worker's first message: the port it reports a failed job's error on. */
export interface HalfStepReportPort {
  report: MessagePort;
}

/** How long a worker may take to start before the trainer gives up on it. */
const START_TIMEOUT_MS = 120_000;

export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * Float64Array.BYTES_PER_ELEMENT));
}

function sharedCopy<T extends Int32Array | Float64Array>(array: T, make: (buffer: SharedArrayBuffer) => T): T {
  const copy = make(new SharedArrayBuffer(array.byteLength));
  copy.set(array);
  return copy;
}

/** The rows with their arrays copied onto SharedArrayBuffers. */
export function sharedRows(rows: SparseRows): SparseRows {
  return {
    rows: rows.rows,
    columns: rows.columns,
    rowStart: sharedCopy(rows.rowStart, (b) => new Int32Array(b)),
    column: sharedCopy(rows.column, (b) => new Int32Array(b)),
    weight: sharedCopy(rows.weight, (b) => new Float64Array(b)),
  };
}

function assertShared(name: string, array: { buffer: ArrayBufferLike } | undefined): void {
  if (array && !(array.buffer instanceof SharedArrayBuffer)) throw new Error(`ALS threads: ${name} must live on a SharedArrayBuffer`);
}

/** Boundaries of `parts` contiguous row ranges of about equal cost (each row: its interactions plus a k-sized constant for its solve). */
export function balancedRanges(rowStart: Int32Array, rows: number, k: number, parts: number): number[] {
  const cost = (r: number) => rowStart[r]! + r * (k / 2);
  const total = cost(rows);
  const bounds = [0];
  let r = 0;
  for (let p = 1; p < parts; p++) {
    const goal = (total * p) / parts;
    while (r < rows && cost(r) < goal) r++;
    bounds.push(r);
  }
  bounds.push(rows);
  return bounds;
}

function waitUntil(signal: Int32Array, index: number, count: number, timeoutMs: number, what: string): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = Atomics.load(signal, index);
    if (now >= count) return;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`ALS threads: ${what} timed out after ${timeoutMs} ms`);
    Atomics.wait(signal, index, now, left);
  }
}

export class HalfStepThreads {
  private readonly signal = new Int32Array(new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT));

  private constructor(
    private readonly workers: Worker[],
    private readonly reports: MessagePort[],
  ) {}

  /** n threads in all (the caller's and n - 1 workers), or undefined when n <= 1. */
  static start(threads: number, workerFile = compiledScript(__dirname, 'als-worker.js', 'the ALS worker')): HalfStepThreads | undefined {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be an integer >= 1, got ${threads}`);
    if (threads === 1) return undefined;
    const workers: Worker[] = [];
    const reports: MessagePort[] = [];
    const pool = new HalfStepThreads(workers, reports);
    for (let t = 1; t < threads; t++) {
      const { port1, port2 } = new MessageChannel();
      const data: HalfStepWorkerData = { signal: pool.signal };
      const worker = new Worker(workerFile, { workerData: data });
      const first: HalfStepReportPort = { report: port2 };
      worker.postMessage(first, [port2]);
      worker.unref();
      workers.push(worker);
      reports.push(port1);
    }
    try {
      waitUntil(pool.signal, 1, workers.length, START_TIMEOUT_MS, 'starting the workers');
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** One half-step (see `solveRows`), its rows split over the threads. */
  solve(rows: SparseRows, fixed: Float64Array, gram: Float64Array, target: Float64Array, prior: Float64Array | undefined, settings: HalfStepSettings): void {
    for (const [name, array] of Object.entries({ rowStart: rows.rowStart, column: rows.column, weight: rows.weight, fixed, gram, target, prior })) assertShared(name, array);
    const bounds = balancedRanges(rows.rowStart, rows.rows, settings.factors, this.threads);
    Atomics.store(this.signal, 0, 0);
    Atomics.store(this.signal, 2, 0);
    this.workers.forEach((worker, w) => {
      const job: HalfStepJob = { rowStart: rows.rowStart, column: rows.column, weight: rows.weight, fixed, gram, target, prior, settings, from: bounds[w + 1]!, to: bounds[w + 2]! };
      worker.postMessage(job);
    });
    solveRows(rows, fixed, gram, target, prior, settings, bounds[0]!, bounds[1]!);
    // A half-step is long; a worker only misses this when it died, and its report says why.
    waitUntil(this.signal, 0, this.workers.length, 24 * 3600_000, 'a half-step');
    if (Atomics.load(this.signal, 2) === 0) return;
    const errors = this.reports.map((port) => (receiveMessageOnPort(port)?.message as { error?: string } | undefined)?.error).filter((e) => e !== undefined);
    throw new Error(`ALS worker: ${errors.join('; ') || 'a job failed'}`);
  }

  close(): void {
    for (const port of this.reports) port.close();
    for (const worker of this.workers) void worker.terminate();
  }
}
