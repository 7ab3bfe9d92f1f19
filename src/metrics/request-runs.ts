/**
 * Inference runs per GraphQL request, by model. The subgraph server opens a scope for each
 * request; a model slot counts each run in the scope it runs in, and when the answer is sent
 * the counts go into `model_request_inference_runs{model}`. A run outside any request (a
 * background ranking, the warm-up) is in no scope: `model_inference_runs_total` counts it and
 * this does not, so the two tell a request's runs from the background's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Histogram } from 'prom-client';

/** Runs by model within one request. */
export type RequestRuns = Map<string, number>;

const scope = new AsyncLocalStorage<RequestRuns>();

/** Runs `fn` (and everything it starts) inside `runs`' request scope. */
export function inRequestScope<T>(runs: RequestRuns, fn: () => T): T {
  return scope.run(runs, fn);
}

/** Counts one inference run of `model` in the current request, if the caller is serving one. */
export function countRequestRun(model: string): void {
  const runs = scope.getStore();
  if (runs) runs.set(model, (runs.get(model) ?? 0) + 1);
}

/** Records a finished request's runs: one observation per model that ran in it. */
export function observeRequestRuns(histogram: Histogram<'model'>, runs: RequestRuns): void {
  for (const [model, count] of runs) histogram.observe({ model }, count);
}
