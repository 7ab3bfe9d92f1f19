/**
 * A batch of prediction-log records in the compact form that crosses to the writer thread:
 * one `postMessage` per batch, never one per record, and nothing serialised to text on the
 * answer path.
 *
 * Contract: `encodeBatch` lays the records out in flat arrays: numbers (per record, and every
 * item score, factor weight and numeric feature value) in Float64Arrays whose buffers are
 * transferred, strings in one array, and the item ids, factor names and feature names in one
 * array of keys, so the structured clone copies no object and no property name per record.
 * `storedRows` reads it back as one array of column values per row of the log (the records that
 * share a sequence number, consecutive in the batch; see prediction-log.ts), in
 * `PREDICTION_LOG_COLUMNS` order. What the records of a row share fills the row's own columns;
 * their per-entity values (entity id, score, label, items, factors, features) go in its
 * `entries` column, either as JSON text (an array of objects, the numbers as `JSON.stringify`
 * writes them) or packed (`packEntries`): every number of the row as one run of binary doubles
 * and every name as one JSON array, which spares the writer the conversion of every double to
 * text. `readEntries` reads either form back. The per-record columns of the first format
 * (entity_id, score, items, label, factors, features: JSON or packed pair lists, `readPairs`)
 * stay for rows written before 2026-12-07, one record each; a row with entries leaves them
 * empty. Both ends agree on the layouts only through this module.
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
  'records',
  'entries',
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

/** First byte of a packed pair list (rows before 2026-12-07): tells it from JSON text and from packed entries. */
const PACKED_V1 = 1;
const PACKED_HEADER = 5;

/** One name and its value as the JSON form gives them back (non-finite numbers as null). */
export type Pair = [name: string, value: number | string | null];

/**
 * A stored pair list of a row written before 2026-12-07, JSON text (an array of objects, or
 * one object) or packed (the format byte, the pair count as uint32 LE, each value as a float64
 * LE, then the names as one JSON array, `[name, text]` for a text value), as its pairs.
 */
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

/** One record's values of a row: what `readEntries` gives back per entity. */
export interface StoredEntry {
  entityId: string;
  score: number | null;
  label: string | null;
  items: { id: string; score: number }[] | null;
  factors: { name: string; weight: number }[];
  features: Record<string, number | string | null> | null;
}

/** First byte of packed entries (pair lists start with PACKED_V1). */
const ENTRIES_V1 = 2;

/**
 * A row's entries packed as: the format byte, the count of doubles (uint32 LE), the doubles
 * (float64 LE: per entity its score, NaN for none, then its item scores, factor weights and
 * feature values, NaN for null and for text), then one JSON array (UTF-8) with per entity
 * `[entityId, label, itemIds | null, factorNames, featureNames | null]`, a feature whose value
 * is text given as `[name, text]`.
 */
function packEntries(doubles: readonly number[], names: readonly unknown[]): Uint8Array {
  const json = JSON.stringify(names);
  const end = PACKED_HEADER + 8 * doubles.length;
  const buffer = Buffer.allocUnsafe(end + Buffer.byteLength(json));
  buffer[0] = ENTRIES_V1;
  buffer.writeUInt32LE(doubles.length, 1);
  for (let d = 0; d < doubles.length; d++) buffer.writeDoubleLE(doubles[d] as number, PACKED_HEADER + 8 * d);
  buffer.write(json, end);
  return buffer;
}

const finiteOrNull = (value: number): number | null => (Number.isFinite(value) ? value : null);

/** A row's `entries`, JSON text or packed, as one entry per record, in the order they were logged. */
export function readEntries(stored: string | Uint8Array): StoredEntry[] {
  if (typeof stored === 'string') return JSON.parse(stored) as StoredEntry[];
  const buffer = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  if (buffer[0] !== ENTRIES_V1) throw new Error(`packed prediction-log entries of unknown format ${buffer[0]}`);
  const end = PACKED_HEADER + 8 * buffer.readUInt32LE(1);
  const names = JSON.parse(buffer.toString('utf8', end)) as [string, string | null, string[] | null, string[], (string | [string, string])[] | null][];
  let at = PACKED_HEADER;
  const next = () => {
    const value = buffer.readDoubleLE(at);
    at += 8;
    return value;
  };
  return names.map(([entityId, label, itemIds, factorNames, featureNames]) => {
    const score = finiteOrNull(next());
    const items = itemIds === null ? null : itemIds.map((id) => ({ id, score: finiteOrNull(next()) as number }));
    const factors = factorNames.map((name) => ({ name, weight: finiteOrNull(next()) as number }));
    let features: Record<string, number | string | null> | null = null;
    if (featureNames !== null) {
      features = {};
      for (const name of featureNames) {
        const value = next();
        if (Array.isArray(name)) features[name[0]] = name[1];
        else features[name] = finiteOrNull(value);
      }
    }
    return { entityId, score, label, items, factors, features };
  });
}

/**
 * Each row of the batch (the consecutive records that share a sequence number) as its values in
 * `PREDICTION_LOG_COLUMNS` order, the per-record values in `entries`.
 */
export function storedRows(batch: EncodedBatch, encoding: PairEncoding = 'json'): StoredValue[][] {
  const rows: StoredValue[][] = [];
  const { numbers, strings, keys, values } = batch;
  const texts = new Map<number, string>();
  for (let t = 0; t + 1 < batch.texts.length; t += 2) texts.set(batch.texts[t] as number, batch.texts[t + 1] as string);
  const slice: PairSlice = { keys, values, texts, from: 0, pairs: 0 };
  let pair = 0;
  let start = 0;
  while (start < batch.count) {
    const sequence = numbers[start * NUMBERS] as number;
    let end = start + 1;
    while (end < batch.count && numbers[end * NUMBERS] === sequence) end++;
    // Packed: every number of the row, and the names; JSON: the entries' text.
    const doubles: number[] = [];
    const names: unknown[] = [];
    let json = '[';
    for (let i = start; i < end; i++) {
      const n = i * NUMBERS;
      const s = i * STRINGS;
      const score = numbers[n + 2] as number;
      const counts = [numbers[n + 3] as number, numbers[n + 4] as number, numbers[n + 5] as number];
      if (encoding === 'packed') {
        doubles.push(score);
        const lists: unknown[] = [];
        for (const count of counts) {
          if (count === NONE) {
            lists.push(null);
            continue;
          }
          const list: unknown[] = keys.slice(pair, pair + count);
          for (let p = 0; p < count; p++) {
            doubles.push(values[pair + p] as number);
            const text = texts.get(pair + p);
            if (text !== undefined) list[p] = [list[p], text];
          }
          lists.push(list);
          pair += count;
        }
        names.push([strings[s + 7], strings[s + 8] ?? null, ...lists]);
      } else {
        const [itemPairs, factorPairs, featurePairs] = counts as [number, number, number];
        let items = 'null';
        if (itemPairs !== NONE) {
          (slice.from = pair), (slice.pairs = itemPairs);
          items = jsonList(slice, 'id', 'score');
          pair += itemPairs;
        }
        (slice.from = pair), (slice.pairs = factorPairs);
        const factors = jsonList(slice, 'name', 'weight');
        pair += factorPairs;
        let features = 'null';
        if (featurePairs !== NONE) {
          (slice.from = pair), (slice.pairs = featurePairs);
          features = jsonObject(slice);
          pair += featurePairs;
        }
        if (i > start) json += ',';
        json += `{"entityId":${JSON.stringify(strings[s + 7])},"score":${jsonNumber(score)},"label":${JSON.stringify(strings[s + 8] ?? null)},"items":${items},"factors":${factors},"features":${features}}`;
      }
    }
    const n = start * NUMBERS;
    const s = start * STRINGS;
    rows.push([
      batch.processId,
      sequence,
      numbers[n + 1] as number,
      strings[s] as string,
      strings[s + 1] as string,
      strings[s + 2] ?? null,
      strings[s + 3] as string,
      strings[s + 4] as string,
      strings[s + 5] ?? null,
      strings[s + 6] as string,
      // The per-record columns of the first format, left empty: `entries` holds the values.
      '',
      null,
      null,
      null,
      '[]',
      null,
      strings[s + 9] ?? null,
      end - start,
      encoding === 'packed' ? packEntries(doubles, names) : `${json}]`,
    ]);
    start = end;
  }
  return rows;
}
