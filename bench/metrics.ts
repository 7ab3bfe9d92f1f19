/**
 * Prometheus scrapes of the gateway and the subgraphs, and the deltas between two scrapes that
 * the benchmark reports: inference runs and rows per model, and the time each process spent
 * answering /graphql (exact sums and counts of the request-duration histograms).
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of every sample of `name` whose labels include `where`. */
export function total(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

export interface ProcessCounters {
  /** Inference runs and rows scored, by model. */
  runs: Record<string, number>;
  rows: Record<string, number>;
  /**
   * Runs made inside /graphql requests (model_request_inference_runs), by model: the requests
   * that ran the model, their runs, and those of them that ran it more than once.
   */
  requestRuns: { requests: Record<string, number>; runs: Record<string, number>; overOne: Record<string, number> };
  /** /graphql requests answered and the seconds spent on them. */
  requests: number;
  seconds: number;
  /** Entities held in feature memos (a gauge, summed over memos). */
  memoEntries: number;
  /** Prediction-log records written to the store and dropped, every model. */
  logWritten: number;
  logDropped: number;
  /** CPU seconds the process has used (prom-client's process_cpu_seconds_total). */
  cpuSeconds: number;
}

function counters(samples: readonly Sample[]): ProcessCounters {
  const runs: Record<string, number> = {};
  const rows: Record<string, number> = {};
  const requestRuns: ProcessCounters['requestRuns'] = { requests: {}, runs: {}, overOne: {} };
  const add = (into: Record<string, number>, model: string, value: number) => {
    into[model] = (into[model] ?? 0) + value;
  };
  for (const s of samples) {
    const model = s.labels.model!;
    if (s.name === 'model_inference_runs_total') add(runs, model, s.value);
    if (s.name === 'model_inference_batch_size_sum') add(rows, model, s.value);
    if (s.name === 'model_request_inference_runs_count') {
      add(requestRuns.requests, model, s.value);
      add(requestRuns.overOne, model, s.value);
    }
    if (s.name === 'model_request_inference_runs_sum') add(requestRuns.runs, model, s.value);
    if (s.name === 'model_request_inference_runs_bucket' && s.labels.le === '1') add(requestRuns.overOne, model, -s.value);
  }
  return {
    runs,
    rows,
    requestRuns,
    requests: total(samples, 'http_request_duration_seconds_count', { route: '/graphql' }),
    seconds: total(samples, 'http_request_duration_seconds_sum', { route: '/graphql' }),
    memoEntries: total(samples, 'feature_memo_entries'),
    logWritten: total(samples, 'prediction_log_records_total'),
    logDropped: total(samples, 'prediction_log_dropped_total'),
    cpuSeconds: total(samples, 'process_cpu_seconds_total'),
  };
}

export function metricsUrl(graphqlUrl: string): string {
  return graphqlUrl.replace(/\/graphql$/, '/metrics');
}

/** Scrapes every process; a process that does not answer within `timeoutMs` is left out. */
export async function scrapeAll(urls: ReadonlyMap<string, string>, timeoutMs = 5000): Promise<Map<string, ProcessCounters>> {
  const entries = await Promise.all(
    [...urls].map(async ([name, url]) => {
      try {
        const response = await fetch(metricsUrl(url), { signal: AbortSignal.timeout(timeoutMs) });
        return [name, counters(parsePrometheus(await response.text()))] as const;
      } catch {
        return undefined;
      }
    }),
  );
  return new Map(entries.filter((e): e is readonly [string, ProcessCounters] => e !== undefined));
}

export function difference(after: ProcessCounters, before: ProcessCounters | undefined): ProcessCounters {
  const minus = (a: Record<string, number>, b: Record<string, number> = {}) =>
    Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));
  return {
    runs: minus(after.runs, before?.runs),
    rows: minus(after.rows, before?.rows),
    requestRuns: {
      requests: minus(after.requestRuns.requests, before?.requestRuns.requests),
      runs: minus(after.requestRuns.runs, before?.requestRuns.runs),
      overOne: minus(after.requestRuns.overOne, before?.requestRuns.overOne),
    },
    requests: after.requests - (before?.requests ?? 0),
    seconds: after.seconds - (before?.seconds ?? 0),
    memoEntries: after.memoEntries,
    logWritten: after.logWritten - (before?.logWritten ?? 0),
    logDropped: after.logDropped - (before?.logDropped ?? 0),
    cpuSeconds: after.cpuSeconds - (before?.cpuSeconds ?? 0),
  };
}

/**
 * Waits until the graph is at rest: no /graphql request still being answered (counts stable
 * between two scrapes), no feature memo still filling, and no process busy with background work
 * (an aggregate's scan, a roll) that moves neither: each used under `idleShare` of a core
 * between the two scrapes. Returns the memo entries held.
 */
export async function quiesce(urls: ReadonlyMap<string, string>, { pollMs = 300, timeoutMs = 120_000, idleShare = 0.1 } = {}): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const key = (m: Map<string, ProcessCounters>) => [...m].map(([name, c]) => `${name}:${c.requests}:${c.memoEntries}`).join(',');
  let before = await scrapeAll(urls);
  let since = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    const now = await scrapeAll(urls);
    const seconds = (Date.now() - since) / 1000;
    const idle = [...now].every(([name, c]) => c.cpuSeconds - (before.get(name)?.cpuSeconds ?? 0) <= idleShare * seconds);
    if ((key(now) === key(before) && idle) || Date.now() > deadline) return [...now.values()].reduce((sum, c) => sum + c.memoEntries, 0);
    before = now;
    since = Date.now();
  }
}
