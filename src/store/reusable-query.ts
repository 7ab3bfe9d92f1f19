/**
 * Queries that run again and again with the same shape, built and compiled by Kysely once per
 * dialect and shape, then run with each call's values. On the write path, building a query's
 * operation tree and compiling it to SQL cost as much CPU as SQLite running it.
 *
 * Contract: `parameters(args)` lists the values in the order Kysely binds them for
 * `build(db, args)`, and `shape(args)` names whatever else changes the SQL text (the length of
 * an id list, the number of rows inserted). The first compile of each shape checks the
 * parameters against Kysely's and throws when they differ, so a wrong `parameters` fails at
 * its first run rather than binding values to the wrong places.
 */
import type { Compilable, CompiledQuery, DialectAdapter, Kysely } from 'kysely';
import type { Database } from './schema';

export interface ReusableQuery<Args, Row> {
  execute(db: Kysely<Database>, args: Args): Promise<Row[]>;
}

export interface ReusableQuerySpec<Args, Row> {
  build: (db: Kysely<Database>, args: Args) => Compilable<Row>;
  parameters: (args: Args) => readonly unknown[];
  /** What besides the values changes the SQL text; default: nothing. */
  shape?: (args: Args) => string | number;
}

/** Shapes kept per dialect: multi-row inserts count one shape per row count. */
export const SHAPES_KEPT = 512;

function sameParameters(compiled: readonly unknown[], listed: readonly unknown[]): boolean {
  return compiled.length === listed.length && compiled.every((value, i) => Object.is(value, listed[i]));
}

export function reusableQuery<Args, Row>({ build, parameters, shape }: ReusableQuerySpec<Args, Row>): ReusableQuery<Args, Row> {
  // Keyed by the dialect's adapter: one per Kysely instance, shared by its transactions.
  const compiledBy = new WeakMap<DialectAdapter, Map<string | number, CompiledQuery<Row>>>();
  const compiledFor = (db: Kysely<Database>, args: Args, values: readonly unknown[]): CompiledQuery<Row> => {
    const { adapter } = db.getExecutor();
    let shapes = compiledBy.get(adapter);
    if (!shapes) compiledBy.set(adapter, (shapes = new Map()));
    const key = shape ? shape(args) : '';
    const known = shapes.get(key);
    if (known) return known;
    const compiled = build(db, args).compile();
    if (!sameParameters(compiled.parameters, values)) {
      throw new Error(`reusable query: the listed parameters ${JSON.stringify(values)} are not the ones Kysely binds (${JSON.stringify(compiled.parameters)}) for ${compiled.sql}`);
    }
    shapes.set(key, compiled);
    if (shapes.size > SHAPES_KEPT) {
      const oldest = shapes.keys().next();
      if (!oldest.done) shapes.delete(oldest.value);
    }
    return compiled;
  };
  return {
    async execute(db, args) {
      const values = parameters(args);
      const compiled = compiledFor(db, args, values);
      const result = await db.executeQuery<Row>({ ...compiled, parameters: values });
      return result.rows;
    },
  };
}

/** An `IN (...)` select over a list of keys: one shape per list length. */
export function byKeys<Key, Row>(build: (db: Kysely<Database>, keys: readonly Key[]) => Compilable<Row>): ReusableQuery<readonly Key[], Row> {
  return reusableQuery({ build, parameters: (keys) => keys, shape: (keys) => keys.length });
}
