/**
 * Single events from many clients, written in shared transactions (group commit). A process
 * that answers mutations sends each event through one `EventWriter`: while a transaction is
 * running, the events that arrive wait, and the next transaction takes all of them (up to
 * `maxBatch`) through `applyEvents`. An event that arrives when nothing is running starts its
 * transaction at once, so batching adds no wait to an idle writer; under load, the cost of a
 * transaction (its reads of the clock, ids and branches, and its commit) is shared.
 *
 * Each event keeps its own answer: applied, a duplicate, or refused with its CirculationError,
 * exactly as `applyEvent` would answer it alone. An unexpected database error rolls back the
 * whole transaction and is thrown to every event in it: none of them was applied.
 */
import type { Store } from '../store';
import { applyEvents, type AppliedEvent, type ApplyOptions, type EventResult } from './apply';
import type { CirculationEvent } from './events';

export interface EventWriter {
  /** Applies one event; throws its CirculationError when refused. */
  write(event: CirculationEvent): Promise<AppliedEvent>;
}

/** Events per shared transaction at most. */
export const MAX_EVENTS_PER_TRANSACTION = 200;

interface Waiting {
  event: CirculationEvent;
  resolve: (result: EventResult) => void;
  reject: (error: unknown) => void;
}

export function eventWriter(store: Store, options: ApplyOptions = {}, maxBatch = MAX_EVENTS_PER_TRANSACTION): EventWriter {
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`events per transaction must be a positive integer, got ${maxBatch}`);
  const waiting: Waiting[] = [];
  let running = false;

  const drain = async () => {
    running = true;
    while (waiting.length > 0) {
      const batch = waiting.splice(0, maxBatch);
      try {
        const results = await applyEvents(store, batch.map((w) => w.event), options);
        batch.forEach((w, i) => {
          const result = results[i];
          if (result) w.resolve(result);
          else w.reject(new Error('applyEvents answered fewer results than events'));
        });
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    running = false;
  };

  return {
    async write(event) {
      const result = await new Promise<EventResult>((resolve, reject) => {
        waiting.push({ event, resolve, reject });
        if (!running) void drain();
      });
      if ('error' in result) throw result.error;
      return result;
    },
  };
}
