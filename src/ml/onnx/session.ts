/**
 * The one way Shelfmark opens an ONNX graph: serving, promotion checks, parity checks and the
 * trainers' evaluation runs all score with the same session options, so a figure measured
 * before promotion is the figure served.
 *
 * One thread per session: a model subgraph scores one small batch at a time and several
 * Shelfmark processes share the machine's cores, where onnxruntime's default pool (a thread per
 * core, spinning while it waits for work) cost both wall and CPU time (BENCHMARKS.md). No
 * memory arena either: an arena keeps the largest intermediates a session ever needed for the
 * life of the process, which the recommendations graph (intermediates grow with batch x
 * longest reading history) would hold for nothing; the models run as fast without it.
 */
import { InferenceSession } from 'onnxruntime-node';

export const SERVING_SESSION_OPTIONS: InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  enableCpuMemArena: false,
};

/** Opens a graph from its bytes or its file path with the serving options. */
export function openServingSession(model: Uint8Array | string): Promise<InferenceSession> {
  return typeof model === 'string' ? InferenceSession.create(model, SERVING_SESSION_OPTIONS) : InferenceSession.create(model, SERVING_SESSION_OPTIONS);
}
