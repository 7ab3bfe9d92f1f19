/**
 * A batch of prediction-log records in the compact form the log queues them in and that crosses
 * to the writer thread: one `postMessage` per batch, never one per record, no object per record
 * on the serving thread, and nothing serialised to text on the answer path.
 *
 * Contract: a `BatchBuilder` takes records one at a time (`openRow`, then `add` per record of
 * the row) and lays them out in flat arrays as they come, so the queue holds no record object:
 * per row of the log (the records that share a sequence number, see prediction-log.ts) its
 * sequence number, accepted-through, record count and shared strings (request id, time, as of,
 * model, version, arm, entity kind, feature reference) once; per record its numbers (score,
 * pair counts) in a Float64Array, its entity id and label in one array; the item ids, factor
 * names and feature names in one array of keys and their values in a Float64Array, so the
 * structured clone copies no object and no property name per record. `finish` hands the batch
 * over (its arrays trimmed to their length); the batch stays valid after it was posted, so a
 * refused batch can be posted again. `encodeBatch` builds the same from stamped records and
 * `decodeBatch` gives the records back (for sinks that take records).
 * `storedRows` reads a batch as one array of column values per row of the log, in
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
import type { PredictionInput, PredictionRecord } from './prediction-log';

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
  /** Records in the batch. */
  count: number;
  /** Per row: sequence, accepted-through, records. */
  rows: number[];
  /** Per row: request id, predicted at, as of, model, version, arm, entity kind, feature ref. */
  rowStrings: (string | null)[];
  /** Per record: score (NaN for none), then the pair counts of items, factors and features (-1 for none). */
  numbers: Float64Array;
  /** Per record: entity id, label. */
  strings: (string | null)[];
  /** Item ids, factor names and feature names, record after record. */
  keys: string[];
  /** Their scores, weights and feature values (NaN for null and for text). */
  values: Float64Array;
  /** Feature values that are text: pair index, then the text, for each. */
  texts: (number | string)[];
}

const ROW_NUMBERS = 3;
const ROW_STRINGS = 8;
const NUMBERS = 4;
const STRINGS = 2;
const NONE = -1;

/** A Float64Array that grows as values are appended. */
class Doubles {
  array: Float64Array;
  length = 0;
  constructor(initial: number) {
    this.array = new Float64Array(Math.max(16, initial));
  }
  push(value: number): void {
    if (this.length === this.array.length) {
      const grown = new Float64Array(this.array.length * 2);
      grown.set(this.array);
      this.array = grown;
    }
    this.array[this.length++] = value;
  }
  trimmed(): Float64Array {
    return this.array.slice(0, this.length);
  }
}

/** What the records of one row share. */
export type RowKey = Pick<PredictionInput, 'requestId' | 'at' | 'asOf' | 'model' | 'version' | 'arm' | 'entityKind' | 'featureRef'>;

/** The per-record values of a prediction: what `BatchBuilder.add` reads (and keeps no reference to). */
export type RecordValues = Pick<PredictionInput, 'entityId' | 'score' | 'items' | 'label' | 'factors' | 'features'>;

/** Lays records out in a batch's flat arrays as they are logged (see the module's contract). */
export class BatchBuilder {
  /** Records added. */
  count = 0;
  /** Records in the open (last) row. */
  rowRecords = 0;
  private readonly rows: number[] = [];
  private readonly rowStrings: (string | null)[] = [];
  private readonly numbers: Doubles;
  private readonly strings: (string | null)[] = [];
  private readonly keys: string[] = [];
  private readonly values: Doubles;
  private readonly texts: (number | string)[] = [];
  // The open row's shared values, copied: the builder keeps no reference to a caller's object.
  private requestId = '';
  private at = '';
  private asOf: string | null = null;
  private model = '';
  private version = '';
  private arm: string | null = null;
  private entityKind = '';
  private featureRef: string | null = null;

  constructor(
    readonly processId: string,
    expectedRecords = 64,
  ) {
    this.numbers = new Doubles(expectedRecords * NUMBERS);
    this.values = new Doubles(expectedRecords * 4);
  }

  /** Whether a record with these shared values belongs to the open row. */
  sameRow(key: RowKey): boolean {
    return (
      this.rowRecords > 0 &&
      this.requestId === key.requestId &&
      this.at === key.at &&
      this.model === key.model &&
      this.version === key.version &&
      this.arm === key.arm &&
      this.entityKind === key.entityKind &&
      this.featureRef === key.featureRef &&
      this.asOf === (key.asOf ?? null)
    );
  }

  /** Opens a row: the records added next share `key` and `sequence`. */
  openRow(sequence: number, acceptedThrough: number, key: RowKey): void {
    this.requestId = key.requestId;
    this.at = key.at;
    this.asOf = key.asOf ?? null;
    this.model = key.model;
    this.version = key.version;
    this.arm = key.arm;
    this.entityKind = key.entityKind;
    this.featureRef = key.featureRef;
    this.rowRecords = 0;
    this.rows.push(sequence, acceptedThrough, 0);
    this.rowStrings.push(this.requestId, this.at, this.asOf, this.model, this.version, this.arm, this.entityKind, this.featureRef);
  }

  /** Adds a record to the open row. */
  add(record: RecordValues): void {
    const { numbers, keys, values } = this;
    numbers.push(record.score ?? NaN);
    const items = record.items;
    if (items) {
      for (let k = 0; k < items.length; k++) {
        const item = items[k] as { id: string; score: number };
        keys.push(item.id);
        values.push(item.score);
      }
      numbers.push(items.length);
    } else numbers.push(NONE);
    const factors = record.factors;
    for (let k = 0; k < factors.length; k++) {
      const factor = factors[k] as { name: string; weight: number };
      keys.push(factor.name);
      values.push(factor.weight);
    }
    numbers.push(factors.length);
    const features = record.features;
    if (features) {
      let pairs = 0;
      for (const name in features) {
        const value = features[name];
        if (value === undefined) continue;
        if (typeof value === 'string') this.texts.push(keys.length, value);
        keys.push(name);
        values.push(typeof value === 'number' ? value : NaN);
        pairs++;
      }
      numbers.push(pairs);
    } else numbers.push(NONE);
    this.strings.push(record.entityId, record.label ?? null);
    this.count++;
    this.rowRecords++;
    (this.rows[this.rows.length - 1] as number)++;
  }

  /** The rows' models and record counts (for the per-model counters). */
  modelCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (let r = 0; r * ROW_NUMBERS < this.rows.length; r++) {
      const model = this.rowStrings[r * ROW_STRINGS + 3] as string;
      counts.set(model, (counts.get(model) ?? 0) + (this.rows[r * ROW_NUMBERS + 2] as number));
    }
    return counts;
  }

  /** The batch, every row stamped with `acceptedThrough` when given. */
  finish(acceptedThrough?: number): EncodedBatch {
    if (acceptedThrough !== undefined) for (let r = 1; r < this.rows.length; r += ROW_NUMBERS) this.rows[r] = acceptedThrough;
    return {
      processId: this.processId,
      count: this.count,
      rows: this.rows,
      rowStrings: this.rowStrings,
      numbers: this.numbers.trimmed(),
      strings: this.strings,
      keys: this.keys,
      values: this.values.trimmed(),
      texts: this.texts,
    };
  }
}

/** Stamped records as a batch, a row per run of one sequence number. */
export function encodeBatch(processId: string, records: readonly PredictionRecord[]): EncodedBatch {
  const builder = new BatchBuilder(processId, records.length);
  let sequence = NaN;
  for (const record of records) {
    if (record.sequence !== sequence || builder.rowRecords === 0) builder.openRow((sequence = record.sequence), record.acceptedThrough, record);
    builder.add(record);
  }
  return builder.finish();
}

/** Each row of a batch: its index, where its records start in the batch and how many there are. */
function* rowsOf(batch: EncodedBatch): Generator<{ row: number; start: number; end: number }> {
  let start = 0;
  for (let row = 0; row * ROW_NUMBERS < batch.rows.length; row++) {
    const end = start + (batch.rows[row * ROW_NUMBERS + 2] as number);
    yield { row, start, end };
    start = end;
  }
}

/** A batch's records, as they were logged (non-finite feature values as null, as stored). */
export function decodeBatch(batch: EncodedBatch): PredictionRecord[] {
  const { numbers, strings, keys, values, rowStrings } = batch;
  const texts = textsOf(batch);
  const records: PredictionRecord[] = [];
  let pair = 0;
  const pairs = (count: number) => {
    const from = pair;
    pair += count;
    return from;
  };
  for (const { row, start, end } of rowsOf(batch)) {
    const h = row * ROW_STRINGS;
    for (let i = start; i < end; i++) {
      const n = i * NUMBERS;
      const itemCount = numbers[n + 1] as number;
      const itemsFrom = pairs(Math.max(0, itemCount));
      const factorsFrom = pairs(numbers[n + 2] as number);
      const featureCount = numbers[n + 3] as number;
      const featuresFrom = pairs(Math.max(0, featureCount));
      let features: Record<string, number | string | null> | null = null;
      if (featureCount !== NONE) {
        features = {};
        for (let p = featuresFrom; p < featuresFrom + featureCount; p++) features[keys[p] as string] = texts.get(p) ?? finiteOrNull(values[p] as number);
      }
      records.push({
        requestId: rowStrings[h] as string,
        at: rowStrings[h + 1] as string,
        asOf: rowStrings[h + 2] ?? null,
        model: rowStrings[h + 3] as string,
        version: rowStrings[h + 4] as string,
        arm: rowStrings[h + 5] ?? null,
        entityKind: rowStrings[h + 6] as string,
        entityId: strings[i * STRINGS] as string,
        score: finiteOrNull(numbers[n] as number),
        items: itemCount === NONE ? null : Array.from({ length: itemCount }, (_, k) => ({ id: keys[itemsFrom + k] as string, score: values[itemsFrom + k] as number })),
        label: strings[i * STRINGS + 1] ?? null,
        factors: Array.from({ length: numbers[n + 2] as number }, (_, k) => ({ name: keys[factorsFrom + k] as string, weight: values[factorsFrom + k] as number })),
        features,
        featureRef: rowStrings[h + 7] ?? null,
        processId: batch.processId,
        sequence: batch.rows[row * ROW_NUMBERS] as number,
        acceptedThrough: batch.rows[row * ROW_NUMBERS + 1] as number,
      });
    }
  }
  return records;
}

function textsOf(batch: EncodedBatch): Map<number, string> {
  const texts = new Map<number, string>();
  for (let t = 0; t + 1 < batch.texts.length; t += 2) texts.set(batch.texts[t] as number, batch.texts[t + 1] as string);
  return texts;
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

/** Whether this machine stores doubles little-endian, as the packed form does: then they are copied, not read one by one. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `count` float64 LE values of `bytes` from `offset`, as an aligned array. */
function doublesAt(bytes: Uint8Array, offset: number, count: number): Float64Array {
  const doubles = new Float64Array(count);
  if (LITTLE_ENDIAN) {
    new Uint8Array(doubles.buffer).set(bytes.subarray(offset, offset + 8 * count));
    return doubles;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let d = 0; d < count; d++) doubles[d] = view.getFloat64(offset + 8 * d, true);
  return doubles;
}

/** Builds what a reader keeps of one entry (readEntriesAs). */
export type EntryMaker<T> = (entityId: string, score: number | null, label: string | null, items: StoredEntry['items'], factors: StoredEntry['factors'], features: StoredEntry['features']) => T;

/**
 * A row's `entries`, JSON text or packed, one `make` result per record in the order they were
 * logged: a reader builds its own record from the values without an intermediate entry object.
 */
export function readEntriesAs<T>(stored: string | Uint8Array, make: EntryMaker<T>): T[] {
  if (typeof stored === 'string') return (JSON.parse(stored) as StoredEntry[]).map((e) => make(e.entityId, e.score, e.label, e.items, e.factors, e.features));
  if (stored[0] !== ENTRIES_V1) throw new Error(`packed prediction-log entries of unknown format ${stored[0]}`);
  const count = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength).readUInt32LE(1);
  const end = PACKED_HEADER + 8 * count;
  const doubles = doublesAt(stored, PACKED_HEADER, count);
  const names = JSON.parse(Buffer.from(stored.buffer, stored.byteOffset + end, stored.byteLength - end).toString('utf8')) as [string, string | null, string[] | null, string[], (string | [string, string])[] | null][];
  const out = new Array<T>(names.length);
  let at = 0;
  for (let e = 0; e < names.length; e++) {
    const [entityId, label, itemIds, factorNames, featureNames] = names[e] as (typeof names)[number];
    const score = finiteOrNull(doubles[at++] as number);
    let items: StoredEntry['items'] = null;
    if (itemIds !== null) {
      items = new Array<{ id: string; score: number }>(itemIds.length);
      for (let k = 0; k < itemIds.length; k++) items[k] = { id: itemIds[k] as string, score: finiteOrNull(doubles[at++] as number) as number };
    }
    const factors = new Array<{ name: string; weight: number }>(factorNames.length);
    for (let k = 0; k < factorNames.length; k++) factors[k] = { name: factorNames[k] as string, weight: finiteOrNull(doubles[at++] as number) as number };
    let features: Record<string, number | string | null> | null = null;
    if (featureNames !== null) {
      features = {};
      for (const name of featureNames) {
        const value = doubles[at++] as number;
        if (Array.isArray(name)) features[name[0]] = name[1];
        else features[name] = finiteOrNull(value);
      }
    }
    out[e] = make(entityId, score, label, items, factors, features);
  }
  return out;
}

const storedEntry: EntryMaker<StoredEntry> = (entityId, score, label, items, factors, features) => ({ entityId, score, label, items, factors, features });

/** A row's `entries`, JSON text or packed, as one entry per record, in the order they were logged. */
export function readEntries(stored: string | Uint8Array): StoredEntry[] {
  return readEntriesAs(stored, storedEntry);
}

/**
 * Each row of the batch (the records that share a sequence number) as its values in
 * `PREDICTION_LOG_COLUMNS` order, the per-record values in `entries`.
 */
export function storedRows(batch: EncodedBatch, encoding: PairEncoding = 'json'): StoredValue[][] {
  const rows: StoredValue[][] = [];
  const { numbers, strings, keys, values, rowStrings } = batch;
  const texts = textsOf(batch);
  const slice: PairSlice = { keys, values, texts, from: 0, pairs: 0 };
  let pair = 0;
  for (const { row, start, end } of rowsOf(batch)) {
    // Packed: every number of the row, and the names; JSON: the entries' text.
    const doubles: number[] = [];
    const names: unknown[] = [];
    let json = '[';
    for (let i = start; i < end; i++) {
      const n = i * NUMBERS;
      const s = i * STRINGS;
      const score = numbers[n] as number;
      const counts = [numbers[n + 1] as number, numbers[n + 2] as number, numbers[n + 3] as number];
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
        names.push([strings[s], strings[s + 1] ?? null, ...lists]);
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
        json += `{"entityId":${JSON.stringify(strings[s])},"score":${jsonNumber(score)},"label":${JSON.stringify(strings[s + 1] ?? null)},"items":${items},"factors":${factors},"features":${features}}`;
      }
    }
    const r = row * ROW_NUMBERS;
    const h = row * ROW_STRINGS;
    rows.push([
      batch.processId,
      batch.rows[r] as number,
      batch.rows[r + 1] as number,
      rowStrings[h] as string,
      rowStrings[h + 1] as string,
      rowStrings[h + 2] ?? null,
      rowStrings[h + 3] as string,
      rowStrings[h + 4] as string,
      rowStrings[h + 5] ?? null,
      rowStrings[h + 6] as string,
      // The per-record columns of the first format, left empty: `entries` holds the values.
      '',
      null,
      null,
      null,
      '[]',
      null,
      rowStrings[h + 7] ?? null,
      end - start,
      encoding === 'packed' ? packEntries(doubles, names) : `${json}]`,
    ]);
  }
  return rows;
}
