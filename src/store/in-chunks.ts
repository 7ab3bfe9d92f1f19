/**
 * Lists of ids bound into `IN (...)` must not grow with the library: SQLite refuses a statement
 * with more than 32,766 bound variables and PostgreSQL one with more than 65,535 parameters.
 * Every query over a list of members, books or loans that can be as long as the library binds
 * it a slice at a time through these helpers.
 */

/** Ids bound per statement: well under both limits, with room for the statement's other parameters. */
export const IDS_PER_QUERY = 10_000;

/** `items` in consecutive slices of at most `size` (the last may be shorter; none for no items). */
export function chunks<T>(items: readonly T[], size = IDS_PER_QUERY): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Runs `query` on each slice of `ids` in turn (one statement at a time, so a long list never
 * holds more than one slice's statement open) and concatenates the rows in slice order.
 */
export async function inChunks<T, R>(ids: readonly T[], query: (slice: T[]) => Promise<readonly R[]>, size = IDS_PER_QUERY): Promise<R[]> {
  const rows: R[] = [];
  for (const slice of chunks(ids, size)) {
    // Not push(...found): a slice can match more rows than a call may take arguments (all the loans of 500 members).
    for (const row of await query(slice)) rows.push(row);
  }
  return rows;
}
