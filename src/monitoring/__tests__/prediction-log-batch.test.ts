/**
 * The compact batch the serving thread posts to the writer: what the writer stores from it is
 * what the records said, the JSON columns exactly as JSON.stringify writes them.
 */
import { describe, expect, it } from '@jest/globals';
import { deserialize, serialize } from 'node:v8';
import type { PredictionRecord } from '../prediction-log';
import { encodeBatch, PREDICTION_LOG_COLUMNS, storedRows } from '../prediction-log-batch';
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

  it('sends no object per record: numbers in one transferable array, the rest in flat arrays', () => {
    const batch = encodeBatch('p-1', [stamped(1), stamped(2)]);
    expect(batch.numbers).toBeInstanceOf(Float64Array);
    for (const list of [batch.strings, batch.keys, batch.values]) expect(list.every((v) => v === null || typeof v !== 'object')).toBe(true);
    expect(batch.keys).toEqual(['days_since_last_loan', 'days_since_last_loan', 'genre', 'days_since_last_loan', 'days_since_last_loan', 'genre']);
  });
});
