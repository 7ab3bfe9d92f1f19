/**
 * The same library on PostgreSQL as on SQLite. Runs against SHELFMARK_TEST_POSTGRES_URL
 * (default postgres://127.0.0.1:5432/test) in a schema of its own, which it drops afterwards;
 * skipped, with the reason printed, when no PostgreSQL answers there.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Pool } from 'pg';
import { describeTarget, generateLibrary, TargetExistsError, withDefaultPostgresUser } from '..';
import { tableHashes } from './table-hash';

const SCHEMA = 'shelfmark_simulator_test';
const BASE_URL = withDefaultPostgresUser(process.env.SHELFMARK_TEST_POSTGRES_URL ?? 'postgres://127.0.0.1:5432/test', process.env);
const SCHEMA_URL = `${BASE_URL}${BASE_URL.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${SCHEMA}`)}`;
/** PostgreSQL's `real` is single precision, so float columns are compared only on SQLite. */
const FLOAT_COLUMNS = ['size', 'average_rating', 'late_probability', 'reliability', 'engagement_trend', 'intensity', 'probability'];

/** Jest decides what to skip before any test runs, so reachability is probed synchronously. */
function postgresUnreachableReason(): string | undefined {
  const probe = `
    const { Client } = require('pg');
    const client = new Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    client.connect().then(() => client.end()).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });`;
  const result = spawnSync(process.execPath, ['-e', probe, BASE_URL], { cwd: path.resolve(__dirname, '../../..'), timeout: 10_000, encoding: 'utf8' });
  if (result.status === 0) return undefined;
  return (result.stderr || result.error?.message || 'no answer').trim();
}

const unreachable = postgresUnreachableReason();
if (unreachable) {
  console.warn(`skipping the PostgreSQL simulator tests: ${describeTarget({ kind: 'postgres', url: BASE_URL })} is not reachable (${unreachable})`);
}

(unreachable ? describe.skip : describe)('generateLibrary on PostgreSQL', () => {
  let dir: string;
  const admin = new Pool({ connectionString: BASE_URL, max: 1 });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-simulator-pg-'));
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin.query(`CREATE SCHEMA ${SCHEMA}`);
  });
  afterAll(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores the same rows as SQLite for the same seed', async () => {
    const sqliteFile = path.join(dir, 'library.db');
    const onSqlite = await generateLibrary({ db: sqliteFile, seed: 5, members: 100 });
    const onPostgres = await generateLibrary({ db: SCHEMA_URL, seed: 5, members: 100 });
    expect(onPostgres.rowCounts).toEqual(onSqlite.rowCounts);
    expect(onPostgres.target).not.toContain('password');
    const pgHashes = await tableHashes(SCHEMA_URL, FLOAT_COLUMNS);
    const sqliteHashes = await tableHashes(`sqlite:${sqliteFile}`, FLOAT_COLUMNS);
    expect(pgHashes).toEqual(sqliteHashes);
  });

  it('refuses to replace the tables unless forced, then replaces them in one go', async () => {
    await expect(generateLibrary({ db: SCHEMA_URL, seed: 6, members: 60 })).rejects.toThrow(TargetExistsError);
    const replaced = await generateLibrary({ db: SCHEMA_URL, seed: 6, members: 60, force: true });
    expect(replaced.rowCounts.members).toBe(60);
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.members`);
    expect(rows[0].n).toBe(60);
  });
});
