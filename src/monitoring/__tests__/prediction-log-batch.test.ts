/**
 * The compact batch the serving thread posts to the writer: what the writer stores from it is
 * what the records said, the JSON columns exactly as JSON.stringify writes them.
 */
import { describe, expect, it } from '@jest/globals';
import { deserialize, serialize } from 'node:v8';
import type { PredictionRecord } from '../prediction-log';
import { encodeBatch, PREDICTION_LOG_COLUMNS, readPairs, storedRows } from '../prediction-log-batch';
import { prediction } from './fixtures';

function stamped(n: number, changes: Partial<PredictionRecord> = {}): PredictionRecord {
  return { ...prediction(n), processId: 'p-1', sequence: n, acceptedThrough: 9, ...changes };
}

describe('encodeBatch and storedRows', () => {
  it('give back every column of every record, nested values as JSON.stringify writes them', () => {
    const records = [
      stamped(1),
      stamped(2, { items: [{ id: '17', score: 0.9 }, { id: 'quote"d\\', score: -1e-9 }], score: null, features: null, featureRef: 'as-of:2026-12-06', arm: 'shadow', asOf: '2026-12-06' }),
      stamped(3, { factors: [], features: { recency: 12, branch: 'Central — ünïcode', missing: null, nan: Number.NaN, big: 1e21 }, label: 'Champions' }),
      stamped(4, { items: [], score: 0 }),
    ];
    // As the batch crosses the thread boundary: structured clone.
    const rows = storedRows(deserialize(serialize(encodeBatch('p-1', records))));
    expect(rows).toHaveLength(records.length);
    records.forEach((r, i) => {
      const row = Object.fromEntries(PREDICTION_LOG_COLUMNS.map((column, c) => [column, rows[i]?.[c]]));
      expect(row).toEqual({
        process_id: 'p-1',
        sequence: r.sequence,
        accepted_through: 9,
        request_id: r.requestId,
        predicted_at: r.at,
        as_of: r.asOf ?? null,
        model: r.model,
        version: r.version,
        arm: r.arm,
        entity_kind: r.entityKind,
        entity_id: r.entityId,
        score: r.score,
        items: r.items === null ? null : JSON.stringify(r.items),
        label: r.label ?? null,
        factors: JSON.stringify(r.factors),
        features: r.features === null ? null : JSON.stringify(r.features),
        feature_ref: r.featureRef,
      });
    });
  });

  it('packs pair lists that read back as the JSON form does, and are smaller than it', () => {
    const records = [
      stamped(1, { factors: [{ name: 'days_since_last_loan', weight: 0.1 + 0.2 }, { name: 'loans_last_90d', weight: -1e-300 }] }),
      stamped(2, { items: [{ id: '17', score: 0.9 }, { id: 'quote"d\\', score: Number.POSITIVE_INFINITY }], factors: [], features: null }),
      stamped(3, { features: { recency: 12.345678901234567, branch: 'Central — ünïcode', missing: null, nan: Number.NaN, big: 1e21 } }),
    ];
    const batch = deserialize(serialize(encodeBatch('p-1', records))) as ReturnType<typeof encodeBatch>;
    const json = storedRows(batch, 'json');
    const packed = storedRows(batch, 'packed');
    const columns = ['items', 'factors', 'features'].map((name) => PREDICTION_LOG_COLUMNS.indexOf(name as (typeof PREDICTION_LOG_COLUMNS)[number]));
    records.forEach((_, i) => {
      for (const c of columns) {
        const [asJson, asPacked] = [json[i]?.[c], packed[i]?.[c]];
        if (asJson === null || asJson === undefined) {
          expect(asPacked).toBeNull();
          continue;
        }
        expect(asPacked).toBeInstanceOf(Uint8Array);
        const keys = c === columns[0] ? ['id', 'score'] : ['name', 'weight'];
        expect(readPairs(asPacked as Uint8Array, keys[0] ?? '', keys[1] ?? '')).toEqual(readPairs(asJson as string, keys[0] ?? '', keys[1] ?? ''));
      }
      expect((packed[i]?.[PREDICTION_LOG_COLUMNS.indexOf('factors')] as Uint8Array).byteLength).toBeLessThanOrEqual(String(json[i]?.[PREDICTION_LOG_COLUMNS.indexOf('factors')]).length + 5);
    });
    // Values keep every bit: the JSON form writes the shortest text that parses back to the same double.
    expect(readPairs(packed[0]?.[PREDICTION_LOG_COLUMNS.indexOf('factors')] as Uint8Array, 'name', 'weight')).toEqual([['days_since_last_loan', 0.1 + 0.2], ['loans_last_90d', -1e-300]]);
    expect(readPairs(packed[2]?.[PREDICTION_LOG_COLUMNS.indexOf('features')] as Uint8Array, '', '')).toEqual([['recency', 12.345678901234567], ['branch', 'Central — ünïcode'], ['missing', null], ['nan', null], ['big', 1e21]]);
  });

  it('refuses a packed pair list of a layout it does not know', () => {
    expect(() => readPairs(Uint8Array.of(9, 0, 0, 0, 0, 0x5b, 0x5d), 'name', 'weight')).toThrow('unknown format 9');
  });

  it('sends no object per record: numbers in one transferable array, the rest in flat arrays', () => {
    const batch = encodeBatch('p-1', [stamped(1), stamped(2)]);
    expect(batch.numbers).toBeInstanceOf(Float64Array);
    expect(batch.values).toBeInstanceOf(Float64Array);
    expect(batch.texts).toEqual([2, 'Fantasy', 5, 'Fantasy']);
    for (const list of [batch.strings, batch.keys]) expect(list.every((v) => v === null || typeof v !== 'object')).toBe(true);
    expect(batch.keys).toEqual(['days_since_last_loan', 'days_since_last_loan', 'genre', 'days_since_last_loan', 'days_since_last_loan', 'genre']);
  });
});
