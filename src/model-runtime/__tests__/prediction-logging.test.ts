/**
 * The pieces of a model subgraph's prediction log that need no store: a refused batch is tried
 * again before it is given up, answers are recorded as the field describes them and returned
 * unchanged, and a request id from a header is kept only when it is a plain token.
 */
import { describe, expect, it } from '@jest/globals';
import type { PredictionRecord } from '../../monitoring/prediction-log';
import { encodeBatch, type EncodedBatch } from '../../monitoring/prediction-log-batch';
import { requestIdOf } from '../../subgraph-server';
import { NO_PREDICTION_LOGGING, recorded, retryingSink, type PredictionLogging, type ServedPrediction } from '../prediction-logging';

const MODEL = { name: 'churn', version: '1.0.0', arm: null };

describe('retryingSink', () => {
  it('writes a batch the store refused at first', async () => {
    let calls = 0;
    const sink = retryingSink(
      {
        write: async () => {
          if (++calls < 3) throw new Error('SQLITE_BUSY');
        },
      },
      [1, 1, 1],
    );
    await expect(sink.write([] as PredictionRecord[])).resolves.toBeUndefined();
    expect(calls).toBe(3);
  });

  it('gives up after its last try with the store\'s error', async () => {
    let calls = 0;
    const sink = retryingSink(
      {
        write: async () => {
          calls++;
          throw new Error('no such table: prediction_log');
        },
      },
      [1, 1],
    );
    await expect(sink.write([] as PredictionRecord[])).rejects.toThrow('no such table');
    expect(calls).toBe(3);
  });

  it('passes batches in compact form through, tried again like records, and offers none when the sink takes none', async () => {
    const tried: EncodedBatch[] = [];
    const sink = retryingSink(
      {
        write: async () => undefined,
        writeBatch: async (batch) => {
          tried.push(batch);
          if (tried.length < 2) throw new Error('SQLITE_BUSY');
        },
      },
      [1, 1],
    );
    const batch = encodeBatch('p-1', []);
    await expect(sink.writeBatch?.(batch)).resolves.toBeUndefined();
    expect(tried).toEqual([batch, batch]);
    expect(retryingSink({ write: async () => undefined }).writeBatch).toBeUndefined();
  });
});

describe('recorded', () => {
  it('records each answer but the missing ones, and returns the answers as they were', () => {
    const seen: ServedPrediction[] = [];
    const log: PredictionLogging = { ...NO_PREDICTION_LOGGING, enabled: true, record: (requestId, p) => void seen.push({ requestId, ...p }) };
    const answers = [{ p: 0.2 }, null, { p: 0.9 }];
    const out = recorded(log, 'r-1', answers, (a, i) => ({ model: MODEL, entityKind: 'member', entityId: String(i + 1), score: a.p }));
    expect(out).toBe(answers);
    expect(seen).toEqual([
      { requestId: 'r-1', model: MODEL, entityKind: 'member', entityId: '1', score: 0.2 },
      { requestId: 'r-1', model: MODEL, entityKind: 'member', entityId: '3', score: 0.9 },
    ]);
  });

  it('describes nothing when logging is off', () => {
    let described = 0;
    recorded(NO_PREDICTION_LOGGING, 'r-1', [{ p: 1 }], () => {
      described++;
      return null;
    });
    expect(described).toBe(0);
  });
});

describe('requestIdOf', () => {
  it('keeps a plain token and replaces anything else with a fresh id', () => {
    expect(requestIdOf('member-page-1')).toBe('member-page-1');
    expect(requestIdOf(['a.b:c', 'd'])).toBe('a.b:c');
    for (const bad of [undefined, '', 'has space', 'x'.repeat(129), 'quote"d']) expect(requestIdOf(bad)).toMatch(/^[0-9a-f-]{36}$/);
  });
});
