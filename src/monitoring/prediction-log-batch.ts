/**
 * A batch of prediction-log records in the compact form that crosses to the writer thread:
 * one `postMessage` per batch, never one per record, and nothing serialised to text on the
 * answer path.
 *
 * Contract: `encodeBatch` lays the records out in flat arrays: numbers (per record, and every
 * item score, factor weight and numeric feature value) in Float64Arrays whose buffers are
 * transferred, strings in one array, and the item ids, factor names and feature names in one
 * array of keys, so the structured clone copies no object and no property name per record.
 * `storedRows` reads it back as one array of column values per record, in
 * `PREDICTION_LOG_COLUMNS` order. Its items, factors and features columns are either JSON text
 * exactly as `JSON.stringify` writes it, or packed pair lists (`packPairs`): the values as
 * binary doubles and the names as one JSON array, which spares the writer the conversion of
 * every double to text. `readPairs` reads either form back. Both ends agree on the layout
 * only through this module.
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

export type StoredValue = string | number | Uint8Array | null;

/** How the items, factors and features columns are written: JSON text, or packed pair lists (SQLite). */
export type PairEncoding = 'json' | 'packed';

export interface EncodedBatch {
  processId: string;
  count: number;
  /** Per record: sequence, accepted-through, score (NaN for none), then the pairs of items, factors and features (-1 for none). */
  numbers: Float64Array;
  /** Per record: request id, predicted at, as of, model, version, arm, entity kind, entity id, label, feature ref. */
  strings: (string | null)[];
  /** Item ids, factor names and feature names, record after record. */
  keys: string[];
  /** Their scores, weights and feature values (NaN for null and for text). */
  values: Float64Array;
  /** Feature values that are text: pair index, then the text, for each. */
  texts: (number | string)[];
}

const NUMBERS = 6;
const STRINGS = 10;
const NONE = -1;

export function encodeBatch(processId: string, records: readonly PredictionRecord[]): EncodedBatch {
  const count = records.length;
  const numbers = new Float64Array(count * NUMBERS);
  const strings = new Array<string | null>(count * STRINGS);
  const keys: string[] = [];
  // Only numbers go in, so V8 keeps them unboxed; copied into a Float64Array once at the end.
  const values: number[] = [];
  const texts: (number | string)[] = [];
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
        if (typeof value === 'string') texts.push(keys.length, value);
        keys.push(name), values.push(typeof value === 'number' ? value : NaN);
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
  return { processId, count, numbers, strings, keys, values: Float64Array.from(values), texts };
}

/** Where a pair list starts in a batch, how long it is, and the batch's text feature values. */
interface PairSlice {
  keys: string[];
  values: Float64Array;
  texts: ReadonlyMap<number, string>;
  from: number;
  pairs: number;
}

/** A number as JSON.stringify writes it (non-finite numbers become null). */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

function jsonValue({ values, texts }: PairSlice, at: number): string {
  const text = texts.get(at);
  return text === undefined ? jsonNumber(values[at] as number) : JSON.stringify(text);
}

/** A pair list as a JSON array of {keyName, valueName} objects. */
function jsonList(slice: PairSlice, keyName: string, valueName: string): string {
  let text = '[';
  for (let p = 0; p < slice.pairs; p++) {
    if (p > 0) text += ',';
    const at = slice.from + p;
    text += `{"${keyName}":${JSON.stringify(slice.keys[at])},"${valueName}":${jsonValue(slice, at)}}`;
  }
  return `${text}]`;
}

function jsonObject(slice: PairSlice): string {
  let text = '{';
  for (let p = 0; p < slice.pairs; p++) {
    if (p > 0) text += ',';
    const at = slice.from + p;
    text += `${JSON.stringify(slice.keys[at])}:${jsonValue(slice, at)}`;
  }
  return `${text}}`;
}

/** First byte of a packed pair list: tells it from JSON text and leaves room for other layouts. */
const PACKED_V1 = 1;
const PACKED_HEADER = 5;

/**
 * A pair list packed as: the format byte, the pair count (uint32 LE), each value as a float64
 * LE, then the names as one JSON array (UTF-8); a name whose value is text is stored as
 * [name, text] in that array, its float slot NaN.
 */
function packPairs(slice: PairSlice): Uint8Array {
  const names = slice.keys.slice(slice.from, slice.from + slice.pairs) as unknown[];
  if (slice.texts.size > 0) {
    names.forEach((name, p) => {
      const text = slice.texts.get(slice.from + p);
      if (text !== undefined) names[p] = [name, text];
    });
  }
  const json = JSON.stringify(names);
  const end = PACKED_HEADER + 8 * slice.pairs;
  const buffer = Buffer.allocUnsafe(end + Buffer.byteLength(json));
  buffer[0] = PACKED_V1;
  buffer.writeUInt32LE(slice.pairs, 1);
  for (let p = 0; p < slice.pairs; p++) buffer.writeDoubleLE(slice.values[slice.from + p] as number, PACKED_HEADER + 8 * p);
  buffer.write(json, end);
  return buffer;
}

/** One name and its value as the JSON form gives them back (non-finite numbers as null). */
export type Pair = [name: string, value: number | string | null];

/** A stored pair list, JSON text (an array of objects, or one object) or packed, as its pairs. */
export function readPairs(stored: string | Uint8Array, keyName: string, valueName: string): Pair[] {
  if (typeof stored === 'string') {
    const parsed = JSON.parse(stored) as Record<string, number | string | null>[] | Record<string, number | string | null>;
    if (Array.isArray(parsed)) return parsed.map((entry) => [String(entry[keyName]), entry[valueName] ?? null]);
    return Object.entries(parsed);
  }
  const buffer = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  if (buffer[0] !== PACKED_V1) throw new Error(`a packed prediction-log pair list of unknown format ${buffer[0]}`);
  const pairs = buffer.readUInt32LE(1);
  const end = PACKED_HEADER + 8 * pairs;
  const names = JSON.parse(buffer.toString('utf8', end)) as (string | [string, string])[];
  return names.map((name, p) => {
    if (Array.isArray(name)) return [name[0], name[1]];
    const value = buffer.readDoubleLE(PACKED_HEADER + 8 * p);
    return [name, Number.isFinite(value) ? value : null];
  });
}

/** Each record as its row's values in `PREDICTION_LOG_COLUMNS` order. */
export function storedRows(batch: EncodedBatch, encoding: PairEncoding = 'json'): StoredValue[][] {
  const rows = new Array<StoredValue[]>(batch.count);
  const { numbers, strings } = batch;
  const texts = new Map<number, string>();
  for (let t = 0; t + 1 < batch.texts.length; t += 2) texts.set(batch.texts[t] as number, batch.texts[t + 1] as string);
  const slice: PairSlice = { keys: batch.keys, values: batch.values, texts, from: 0, pairs: 0 };
  const list = (keyName: string, valueName: string) => (encoding === 'packed' ? packPairs(slice) : jsonList(slice, keyName, valueName));
  let pair = 0;
  for (let i = 0; i < batch.count; i++) {
    const n = i * NUMBERS;
    const s = i * STRINGS;
    const score = numbers[n + 2] as number;
    const itemPairs = numbers[n + 3] as number;
    const factorPairs = numbers[n + 4] as number;
    const featurePairs = numbers[n + 5] as number;
    let items: StoredValue = null;
    if (itemPairs !== NONE) {
      slice.from = pair, slice.pairs = itemPairs;
      items = list('id', 'score');
      pair += itemPairs;
    }
    slice.from = pair, slice.pairs = factorPairs;
    const factors = list('name', 'weight');
    pair += factorPairs;
    let features: StoredValue = null;
    if (featurePairs !== NONE) {
      slice.from = pair, slice.pairs = featurePairs;
      features = encoding === 'packed' ? packPairs(slice) : jsonObject(slice);
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
