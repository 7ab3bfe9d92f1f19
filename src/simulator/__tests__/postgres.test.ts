/**
 * The same library on PostgreSQL as on SQLite. Runs against SHELFMARK_TEST_POSTGRES_URL
 * (default postgres://127.0.0.1:5432/test) in a schema of its own, which it drops afterwards;
 * skipped, with the reason printed, when no PostgreSQL answers there.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateLibrary, TargetExistsError } from '..';
import { ownSchema, postgresUnreachableReason } from '../../../test/fixtures/postgres';
import { tableHashes } from './table-hash';

const SCHEMA = 'shelfmark_simulator_test';
/** PostgreSQL's `real` is single precision, so float columns are compared only on SQLite. */
const FLOAT_COLUMNS = ['size', 'average_rating', 'late_probability', 'reliability', 'engagement_trend', 'intensity', 'probability'];
const unreachable = postgresUnreachableReason('the PostgreSQL simulator tests');

(unreachable ? describe.skip : describe)('generateLibrary on PostgreSQL', () => {
  let dir: string;
  let schema: Awaited<ReturnType<typeof ownSchema>>;
  let SCHEMA_URL: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'shelfmark-simulator-pg-'));
    schema = await ownSchema(SCHEMA);
    SCHEMA_URL = schema.url;
  });
  afterAll(async () => {
    await schema.drop();
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
    const { rows } = await schema.admin.query(`SELECT count(*)::int AS n FROM ${SCHEMA}.members`);
    expect(rows[0].n).toBe(60);
  });
});
