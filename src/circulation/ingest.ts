/**
 * Bulk ingest: a stream of numbered events through the write path, `batchSize` events per
 * transaction (each transaction holds its events, their effects and their change records).
 * Re-running the same file after a crash reaches the same end state: events applied before
 * the crash are answered as duplicates, and the rest apply as they would have.
 */
import type { Store } from '../store';
import { applyEvents, type ApplyOptions, type EventResult } from './apply';
import type { CirculationError } from './errors';
import type { CirculationEvent } from './events';
import type { SourceLine } from './sources';

export interface IngestProgress {
  lines: number;
  applied: number;
  duplicates: number;
  refused: number;
  skipped: number;
}

export interface RefusedLine {
  line: number;
  eventId: string | undefined;
  reason: CirculationError['reason'];
  message: string;
}

export interface IngestOptions extends ApplyOptions {
  batchSize?: number;
  onRefused?: (refused: RefusedLine) => void;
  /** Called after each committed batch. */
  onProgress?: (progress: IngestProgress) => void;
}

export const DEFAULT_BATCH_SIZE = 1000;
export const MAX_BATCH_SIZE = 50_000;

function refusedLine(line: number, error: CirculationError): RefusedLine {
  return { line, eventId: error.eventId, reason: error.reason, message: error.message };
}

export async function ingestEvents(store: Store, source: AsyncIterable<SourceLine>, options: IngestOptions = {}): Promise<IngestProgress> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) throw new RangeError(`batch size must be in 1..${MAX_BATCH_SIZE}, got ${batchSize}`);
  const progress: IngestProgress = { lines: 0, applied: 0, duplicates: 0, refused: 0, skipped: 0 };
  const refuse = (refused: RefusedLine) => {
    progress.refused += 1;
    options.onRefused?.(refused);
  };
  let batch: { line: number; event: CirculationEvent }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const results: EventResult[] = await applyEvents(store, batch.map((b) => b.event), options);
    results.forEach((result, i) => {
      if ('error' in result) refuse(refusedLine(batch[i]?.line ?? 0, result.error));
      else if (result.applied) progress.applied += 1;
      else progress.duplicates += 1;
    });
    batch = [];
    options.onProgress?.({ ...progress });
  };
  for await (const item of source) {
    progress.lines = item.line;
    if ('event' in item) {
      batch.push(item);
      if (batch.length >= batchSize) await flush();
    } else if ('error' in item) refuse(refusedLine(item.line, item.error));
    else progress.skipped += 1;
  }
  await flush();
  return progress;
}
