/**
 * A batch of prediction-log records in the compact form that crosses to the writer thread:
 * one `postMessage` per batch, never one per record, and nothing serialised to JSON on the
 * answer path.
 *
 * Contract: `encodeBatch` lays the records out in flat arrays: numbers in a Float64Array whose
 * buffer is transferred, strings in one array, and the items, factors and feature values (each
 * a list of key and value pairs) in one array of keys and one of values, so the structured clone
 * copies no object and no property name per record. `storedRows` reads it back as one array of
 * column values per record, in `PREDICTION_LOG_COLUMNS` order, with the JSON columns exactly as
 * `JSON.stringify` would write them. Both ends agree on the layout only through this module.
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
  /** Per record: sequence, accepted-through, score (NaN for none), then the pairs of items, factors and features (-1 for none). */
  numbers: Float64Array;
  /** Per record: request id, predicted at, as of, model, version, arm, entity kind, entity id, label, feature ref. */
  strings: (string | null)[];
  /** Item ids, factor names and feature names, record after record. */
  keys: string[];
  /** Their scores, weights and feature values. */
  values: (number | string | null)[];
}

const NUMBERS = 6;
const STRINGS = 10;
const NONE = -1;

export function encodeBatch(processId: string, records: readonly PredictionRecord[]): EncodedBatch {
  const count = records.length;
  const numbers = new Float64Array(count * NUMBERS);
  const strings = new Array<string | null>(count * STRINGS);
  const keys: string[] = [];
  const values: (number | string | null)[] = [];
  for (let i = 0; i < count; i++) {
    const r = records[i] as PredictionRecord;
    const n = i * NUMBERS;
    numbers[n] = r.sequence;
    numbers[n + 1] = r.acceptedThrough;
    numbers[n + 2] = r.score ?? NaN;
    if (r.items) {
      for (const item of r.items) keys.push(item.id), values.push(item.score);
      numbers[n + 3] = r.items.length;
    } else numbers[n + 3] = NONE;
    for (const factor of r.factors) keys.push(factor.name), values.push(factor.weight);
    numbers[n + 4] = r.factors.length;
    if (r.features) {
      let pairs = 0;
      for (const name in r.features) {
        const value = r.features[name];
        if (value === undefined) continue;
        keys.push(name), values.push(value);
        pairs++;
      }
      numbers[n + 5] = pairs;
    } else numbers[n + 5] = NONE;
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
  }
  return { processId, count, numbers, strings, keys, values };
}

/** A value as JSON.stringify writes it (non-finite numbers become null). */
function jsonValue(value: number | string | null | undefined): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  return value === null || value === undefined ? 'null' : JSON.stringify(value);
}

/** Reads `pairs` key/value pairs from `from` as a JSON array of {keyName, valueName} objects. */
function pairList(batch: EncodedBatch, from: number, pairs: number, keyName: string, valueName: string): string {
  let text = '[';
  for (let p = 0; p < pairs; p++) {
    if (p > 0) text += ',';
    text += `{"${keyName}":${JSON.stringify(batch.keys[from + p])},"${valueName}":${jsonValue(batch.values[from + p])}}`;
  }
  return `${text}]`;
}

function pairObject(batch: EncodedBatch, from: number, pairs: number): string {
  let text = '{';
  for (let p = 0; p < pairs; p++) {
    if (p > 0) text += ',';
    text += `${JSON.stringify(batch.keys[from + p])}:${jsonValue(batch.values[from + p])}`;
  }
  return `${text}}`;
}

/** Each record as its row's values in `PREDICTION_LOG_COLUMNS` order. */
export function storedRows(batch: EncodedBatch): StoredValue[][] {
  const rows = new Array<StoredValue[]>(batch.count);
  const { numbers, strings } = batch;
  let pair = 0;
  for (let i = 0; i < batch.count; i++) {
    const n = i * NUMBERS;
    const s = i * STRINGS;
    const score = numbers[n + 2] as number;
    const itemPairs = numbers[n + 3] as number;
    const factorPairs = numbers[n + 4] as number;
    const featurePairs = numbers[n + 5] as number;
    let items: string | null = null;
    if (itemPairs !== NONE) {
      items = pairList(batch, pair, itemPairs, 'id', 'score');
      pair += itemPairs;
    }
    const factors = pairList(batch, pair, factorPairs, 'name', 'weight');
    pair += factorPairs;
    let features: string | null = null;
    if (featurePairs !== NONE) {
      features = pairObject(batch, pair, featurePairs);
      pair += featurePairs;
    }
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
      items,
      strings[s + 8] ?? null,
      factors,
      features,
      strings[s + 9] ?? null,
    ];
  }
  return rows;
}
