/**
 * The compact batch the serving thread posts to the writer: what the writer stores from it, one
 * row per sequence number, reads back as what the records said.
 */
import { describe, expect, it } from '@jest/globals';
import { deserialize, serialize } from 'node:v8';
import type { PredictionRecord } from '../prediction-log';
import { decodeBatch, encodeBatch, PREDICTION_LOG_COLUMNS, readEntries, readPairs, storedRows } from '../prediction-log-batch';
import { prediction } from './fixtures';

function stamped(n: number, changes: Partial<PredictionRecord> = {}): PredictionRecord {
  return { ...prediction(n), processId: 'p-1', sequence: n, acceptedThrough: 9, ...changes };
}

describe('encodeBatch and storedRows', () => {
  const records = [
    stamped(1),
    // Three records of one row (sequence 2): request, time, model, version, arm, kind and reference shared.
    ...[2, 3, 4].map((n, k) =>
      stamped(n, {
        sequence: 2,
        requestId: 'page',
        at: '2026-12-07T10:00:00.000Z',
        asOf: '2026-12-07',
        arm: 'shadow',
        items: k === 0 ? [{ id: '17', score: 0.9 }, { id: 'quote"d\\', score: -1e-9 }] : k === 1 ? [] : null,
        score: k === 0 ? null : k === 1 ? 0 : 0.1 + 0.2,
        factors: k === 2 ? [] : [{ name: 'days_since_last_loan', weight: 0.1 + 0.2 }, { name: 'loans_last_90d', weight: -1e-300 }],
        features: k === 2 ? { recency: 12.345678901234567, branch: 'Central — ünïcode', missing: null, nan: Number.NaN, big: 1e21 } : k === 1 ? null : { days: 3 },
        label: k === 2 ? 'Champions' : null,
      }),
    ),
    stamped(5, { sequence: 3, featureRef: 'as-of:2026-12-06', features: null }),
  ];
  /** A record as it reads back: non-finite numbers as null, like JSON. */
  const asRead = (r: PredictionRecord) => ({
    entityId: r.entityId,
    score: r.score,
    label: r.label ?? null,
    items: r.items,
    factors: r.factors,
    features: r.features === null ? null : Object.fromEntries(Object.entries(r.features).map(([k, v]) => [k, typeof v === 'number' && !Number.isFinite(v) ? null : v])),
  });

  for (const encoding of ['json', 'packed'] as const) {
    it(`give one row per sequence number, shared values in its columns and every record's values in its entries (${encoding})`, () => {
      // As the batch crosses the thread boundary: structured clone.
      const rows = storedRows(deserialize(serialize(encodeBatch('p-1', records))), encoding);
      expect(rows).toHaveLength(3);
      const column = (row: number, name: (typeof PREDICTION_LOG_COLUMNS)[number]) => rows[row]?.[PREDICTION_LOG_COLUMNS.indexOf(name)];
      expect(rows.map((_, r) => [column(r, 'sequence'), column(r, 'records'), column(r, 'request_id'), column(r, 'arm'), column(r, 'as_of'), column(r, 'feature_ref'), column(r, 'accepted_through')])).toEqual([
        [1, 1, 'req-1', null, null, null, 9],
        [2, 3, 'page', 'shadow', '2026-12-07', null, 9],
        [3, 1, 'req-5', null, null, 'as-of:2026-12-06', 9],
      ]);
      const entries = rows.map((_, r) => readEntries(column(r, 'entries') as string | Uint8Array));
      expect(entries).toEqual([[asRead(records[0] as PredictionRecord)], records.slice(1, 4).map(asRead), [asRead(records[4] as PredictionRecord)]]);
      if (encoding === 'json') expect(JSON.parse(column(1, 'entries') as string)).toEqual(records.slice(1, 4).map(asRead));
      else expect(column(1, 'entries')).toBeInstanceOf(Uint8Array);
    });
  }

  it('packs entries smaller than their JSON, every double kept to the bit', () => {
    const batch = deserialize(serialize(encodeBatch('p-1', records))) as ReturnType<typeof encodeBatch>;
    const at = PREDICTION_LOG_COLUMNS.indexOf('entries');
    const [json, packed] = [storedRows(batch, 'json')[1]?.[at] as string, storedRows(batch, 'packed')[1]?.[at] as Uint8Array];
    expect(packed.byteLength).toBeLessThan(Buffer.byteLength(json));
    const [first, , third] = readEntries(packed);
    expect(first?.factors).toEqual([{ name: 'days_since_last_loan', weight: 0.1 + 0.2 }, { name: 'loans_last_90d', weight: -1e-300 }]);
    expect(third?.features).toEqual({ recency: 12.345678901234567, branch: 'Central — ünïcode', missing: null, nan: null, big: 1e21 });
  });

  it('reads the packed pair lists of rows written before entries', () => {
    // Format 1: [1][pairs uint32 LE][doubles][names JSON].
    const names = Buffer.from(JSON.stringify(['a', ['b', 'text']]));
    const packed = Buffer.alloc(5 + 16 + names.length);
    packed[0] = 1;
    packed.writeUInt32LE(2, 1);
    packed.writeDoubleLE(0.1 + 0.2, 5);
    packed.writeDoubleLE(Number.NaN, 13);
    names.copy(packed, 21);
    expect(readPairs(packed, '', '')).toEqual([['a', 0.1 + 0.2], ['b', 'text']]);
    expect(readPairs('[{"name":"x","weight":0.5}]', 'name', 'weight')).toEqual([['x', 0.5]]);
  });

  it('refuses packed entries of a layout it does not know', () => {
    expect(() => readEntries(Uint8Array.of(9, 0, 0, 0, 0, 0x5b, 0x5d))).toThrow('unknown format 9');
  });

  it('refuses a packed pair list of a layout it does not know', () => {
    expect(() => readPairs(Uint8Array.of(9, 0, 0, 0, 0, 0x5b, 0x5d), 'name', 'weight')).toThrow('unknown format 9');
  });

  it('sends no object per record: numbers in Float64Arrays, the rest in flat arrays, what a row shares once', () => {
    const batch = encodeBatch('p-1', [stamped(1), stamped(2), stamped(3, { sequence: 2, requestId: 'req-2', at: stamped(2).at })]);
    expect(batch.numbers).toBeInstanceOf(Float64Array);
    expect(batch.values).toBeInstanceOf(Float64Array);
    expect(batch.count).toBe(3);
    expect(batch.rows).toEqual([1, 9, 1, 2, 9, 2]);
    expect(batch.rowStrings.filter((s) => s === 'churn')).toHaveLength(2);
    expect(batch.strings).toEqual(['1', null, '2', null, '3', null]);
    expect(batch.texts).toEqual([2, 'Fantasy', 5, 'Fantasy', 8, 'Fantasy']);
    for (const list of [batch.strings, batch.keys, batch.rowStrings, batch.rows]) expect(list.every((v) => v === null || typeof v !== 'object')).toBe(true);
    expect(batch.keys.slice(0, 6)).toEqual(['days_since_last_loan', 'days_since_last_loan', 'genre', 'days_since_last_loan', 'days_since_last_loan', 'genre']);
  });

  it('gives the records back from a batch (after the structured clone), non-finite feature values as null', () => {
    const decoded = decodeBatch(deserialize(serialize(encodeBatch('p-1', records))) as ReturnType<typeof encodeBatch>);
    expect(decoded).toEqual(records.map((r) => ({ ...r, label: r.label ?? null, asOf: r.asOf ?? null, features: asRead(r).features })));
  });
});
