/**
 * A batch of prediction-log records in the compact form that crosses to the writer thread:
 * one `postMessage` per batch, never one per record, and nothing serialised to JSON on the
 * answer path.
 *
 * Contract: `encodeBatch` lays the records out column-major in three flat arrays (numbers in
 * a Float64Array whose buffer is transferred, strings and nested values in plain arrays that
 * the structured clone copies without per-record keys); `storedRows` reads it back as one
 * array of column values per record, in `PREDICTION_LOG_COLUMNS` order, JSON columns encoded.
 * Both ends agree on the layout only through this module.
 */
import type { PredictionRecord } from './prediction-log';

/** The table's columns, in the order `storedRows` gives their values. */
export const PREDICTION_LOG_COLUMNS = [
  'process_id',
  'sequence',
  'accepted_through',
  'request_id',
  'predicted_at',
  'as_of',
  'model',
  'version',
  'arm',
  'entity_kind',
  'entity_id',
  'score',
  'items',
  'label',
  'factors',
  'features',
  'feature_ref',
] as const;

export type StoredValue = string | number | null;

export interface EncodedBatch {
  processId: string;
  count: number;
  /** Per record: sequence, accepted-through, score (NaN for none). */
  numbers: Float64Array;
  /** Per record: request id, predicted at, as of, model, version, arm, entity kind, entity id, label, feature ref. */
  strings: (string | null)[];
  /** Per record: items, factors, features (structured-cloned, encoded as JSON by the writer). */
  nested: unknown[];
}

const NUMBERS = 3;
const STRINGS = 10;
const NESTED = 3;

export function encodeBatch(processId: string, records: readonly PredictionRecord[]): EncodedBatch {
  const count = records.length;
  const numbers = new Float64Array(count * NUMBERS);
  const strings = new Array<string | null>(count * STRINGS);
  const nested = new Array<unknown>(count * NESTED);
  for (let i = 0; i < count; i++) {
    const r = records[i] as PredictionRecord;
    const n = i * NUMBERS;
    numbers[n] = r.sequence;
    numbers[n + 1] = r.acceptedThrough;
    numbers[n + 2] = r.score ?? NaN;
    const s = i * STRINGS;
    strings[s] = r.requestId;
    strings[s + 1] = r.at;
    strings[s + 2] = r.asOf ?? null;
    strings[s + 3] = r.model;
    strings[s + 4] = r.version;
    strings[s + 5] = r.arm;
    strings[s + 6] = r.entityKind;
    strings[s + 7] = r.entityId;
    strings[s + 8] = r.label ?? null;
    strings[s + 9] = r.featureRef;
    const o = i * NESTED;
    nested[o] = r.items;
    nested[o + 1] = r.factors;
    nested[o + 2] = r.features;
  }
  return { processId, count, numbers, strings, nested };
}

const json = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

/** Each record as its row's values in `PREDICTION_LOG_COLUMNS` order. */
export function storedRows(batch: EncodedBatch): StoredValue[][] {
  const rows = new Array<StoredValue[]>(batch.count);
  const { numbers, strings, nested } = batch;
  for (let i = 0; i < batch.count; i++) {
    const n = i * NUMBERS;
    const s = i * STRINGS;
    const o = i * NESTED;
    const score = numbers[n + 2] as number;
    rows[i] = [
      batch.processId,
      numbers[n] as number,
      numbers[n + 1] as number,
      strings[s] as string,
      strings[s + 1] as string,
      strings[s + 2] ?? null,
      strings[s + 3] as string,
      strings[s + 4] as string,
      strings[s + 5] ?? null,
      strings[s + 6] as string,
      strings[s + 7] as string,
      Number.isNaN(score) ? null : score,
      json(nested[o]),
      strings[s + 8] ?? null,
      json(nested[o + 1]) ?? '[]',
      json(nested[o + 2]),
      strings[s + 9] ?? null,
    ];
  }
  return rows;
}
