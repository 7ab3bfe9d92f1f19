import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { byKeys, migrateStore, openStore, reusableQuery, type Store } from '..';

describe('queries compiled once per shape', () => {
  let store: Store;
  let statements: string[];

  beforeEach(async () => {
    statements = [];
    store = openStore(':memory:', { onQuery: (text) => statements.push(text) });
    await migrateStore(store);
    await store.db.insertInto('branches').values([{ id: 1, name: 'Central', size: 1 }, { id: 2, name: 'Riverside', size: 0.5 }, { id: 3, name: 'Hill', size: 0.2 }]).execute();
    statements = [];
  });
  afterEach(async () => {
    await store.close();
  });

  it('answers what the same Kysely query answers, for each list length, with the values of each call', async () => {
    const branches = byKeys((db, ids: readonly number[]) => db.selectFrom('branches').select(['id', 'name']).where('id', 'in', ids).orderBy('id'));
    expect(await branches.execute(store.db, [2])).toEqual([{ id: 2, name: 'Riverside' }]);
    expect(await branches.execute(store.db, [3])).toEqual([{ id: 3, name: 'Hill' }]);
    expect(await branches.execute(store.db, [3, 1])).toEqual([{ id: 1, name: 'Central' }, { id: 3, name: 'Hill' }]);
    expect(await branches.execute(store.db, [9, 8])).toEqual([]);
    expect(statements).toEqual([
      'select "id", "name" from "branches" where "id" in (?) order by "id"',
      'select "id", "name" from "branches" where "id" in (?) order by "id"',
      'select "id", "name" from "branches" where "id" in (?, ?) order by "id"',
      'select "id", "name" from "branches" where "id" in (?, ?) order by "id"',
    ]);
  });

  it('builds a shape once, however often it runs', async () => {
    let builds = 0;
    const named = reusableQuery({
      build: (db, name: string) => {
        builds += 1;
        return db.selectFrom('branches').select('id').where('name', '=', name);
      },
      parameters: (name) => [name],
    });
    for (const [name, id] of [['Central', 1], ['Hill', 3], ['Riverside', 2]] as const) expect(await named.execute(store.db, name)).toEqual([{ id }]);
    expect(builds).toBe(1);
  });

  it('runs inside a transaction on its connection, and writes', async () => {
    const rename = reusableQuery({
      build: (db, change: { id: number; name: string }) => db.updateTable('branches').set({ name: change.name }).where('id', '=', change.id),
      parameters: (change) => [change.name, change.id],
    });
    await store.db.transaction().execute(async (tx) => {
      await rename.execute(tx, { id: 1, name: 'Main' });
      await rename.execute(tx, { id: 2, name: 'River' });
    });
    expect(await store.db.selectFrom('branches').select('name').orderBy('id').execute()).toEqual([{ name: 'Main' }, { name: 'River' }, { name: 'Hill' }]);
  });

  it('refuses, at the first run, parameters listed in another order than Kysely binds them', async () => {
    const swapped = reusableQuery({
      build: (db, change: { id: number; name: string }) => db.updateTable('branches').set({ name: change.name }).where('id', '=', change.id),
      parameters: (change) => [change.id, change.name],
    });
    await expect(swapped.execute(store.db, { id: 1, name: 'Main' })).rejects.toThrow(/not the ones Kysely binds/);
    expect(await store.db.selectFrom('branches').select('name').where('id', '=', 1).execute()).toEqual([{ name: 'Central' }]);
  });

  it('compiles for each store on its own', async () => {
    const other = openStore(':memory:');
    try {
      await migrateStore(other);
      await other.db.insertInto('branches').values({ id: 7, name: 'Elsewhere', size: 1 }).execute();
      const all = reusableQuery({ build: (db) => db.selectFrom('branches').select('id').orderBy('id'), parameters: () => [] });
      expect(await all.execute(store.db, undefined)).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
      expect(await all.execute(other.db, undefined)).toEqual([{ id: 7 }]);
    } finally {
      await other.close();
    }
  });
});
