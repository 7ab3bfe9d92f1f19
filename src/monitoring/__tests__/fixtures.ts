/** Prediction-log records for tests, and the PostgreSQL they may use. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { withDefaultPostgresUser } from '../../simulator';
import type { PredictionInput } from '../prediction-log';

/** SHELFMARK_TEST_POSTGRES_URL, or the default test database, with the default user filled in. */
export const TEST_POSTGRES_URL = withDefaultPostgresUser(process.env.SHELFMARK_TEST_POSTGRES_URL ?? 'postgres://127.0.0.1:5432/test', process.env);

/**
 * Why PostgreSQL cannot be used, or undefined once `schema` exists there. Jest decides what to
 * skip before any test runs, so reachability is probed synchronously.
 */
export function postgresUnreachableReason(schema: string): string | undefined {
  const probe = `
    const { Client } = require('pg');
    const client = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    client.connect().then(() => client.query('CREATE SCHEMA IF NOT EXISTS ${schema}')).then(() => client.end()).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });`;
  const result = spawnSync(process.execPath, ['-e', probe, TEST_POSTGRES_URL], { cwd: path.resolve(__dirname, '../../..'), timeout: 10_000, encoding: 'utf8' });
  if (result.status === 0) return undefined;
  return (result.stderr || result.error?.message || 'no answer').trim();
}

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
