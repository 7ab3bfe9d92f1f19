/** Prediction-log records for tests. */
import type { PredictionInput } from '../prediction-log';

/** A churn-like prediction numbered n (request id, entity id and score follow from n). */
export function prediction(n: number, model = 'churn'): PredictionInput {
  return {
    requestId: `req-${n}`,
    at: `2026-12-06T10:00:${String(n % 60).padStart(2, '0')}.000Z`,
    model,
    version: '1.2.0',
    arm: null,
    entityKind: 'member',
    entityId: String(n),
    score: (n % 100) / 100,
    items: null,
    factors: [{ name: 'days_since_last_loan', weight: 0.4 }],
    features: { days_since_last_loan: n, genre: 'Fantasy' },
    featureRef: null,
  };
}
