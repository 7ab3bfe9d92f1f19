import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { openStore, type TableName } from '../../store';
import { TABLE_ORDER } from '../writer';

const ORDER_BY: Record<TableName, string> = {
  meta: 'key',
  branches: 'id',
  members: 'id',
  books: 'id',
  loans: 'id',
  sim_loan_truth: 'loan_id',
  sim_member_truth: 'member_id',
  sim_churn_truth: 'cutoff, member_id',
  events: 'id',
  changes: 'seq',
};

/** sha256 of every table's rows in key order, per table; `skip` leaves columns out (e.g. floats). */
export async function tableHashes(url: string, skip: readonly string[] = []): Promise<Record<TableName, string>> {
  const store = openStore(url);
  try {
    const hashes = {} as Record<TableName, string>;
    for (const table of TABLE_ORDER) {
      const result = await sql<Record<string, unknown>>`select * from ${sql.table(table)} order by ${sql.raw(ORDER_BY[table])}`.execute(store.db);
      const hash = createHash('sha256');
      for (const row of result.rows) {
        const kept = Object.keys(row).sort().filter((k) => !skip.includes(k)).map((k) => [k, row[k]]);
        hash.update(JSON.stringify(kept));
        hash.update('\n');
      }
      hashes[table] = hash.digest('hex');
    }
    return hashes;
  } finally {
    await store.close();
  }
}
