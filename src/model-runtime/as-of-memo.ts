/**
 * Feature values of single entities at the fixed as-of date, computed once and kept.
 *
 * Contract: `load(ids)` answers in id order what `compute` answers for those ids, `undefined`
 * where `compute` has no value (an id that is not an entity). Values are computed by the same
 * feature function as without the memo, for the misses only, in one call per `load`; an id
 * being computed for another request is awaited, not computed twice. Only ids `compute`
 * answers are kept, so the memo holds at most one value per entity of the store and unknown
 * ids cannot grow it.
 *
 * Why this is safe: every feature is a function of the store's rows known on the as-of date,
 * which a running subgraph never sees change (the date is read once at start). No model
 * output is kept, so a promoted or rolled-back version never meets a stale answer.
 */
import type { Store } from '../store';
import { inSpan } from '../tracing';

/**
 * How a model computes one memo's values: its feature function for a batch of entity ids at the
 * as-of date, answering only the ids that are entities.
 */
export type MemoSource<V> = (store: Store, ids: readonly number[], asOf: string) => Promise<Map<number, V>>;

/** The memos a model serves from, by name. */
export type MemoSources = Record<string, MemoSource<unknown>>;

/** One AsOfMemo per source, typed by what the source computes. */
export type Memos<T extends MemoSources> = { [K in keyof T]: T[K] extends MemoSource<infer V> ? AsOfMemo<V> : never };

export class AsOfMemo<V> {
  private readonly values = new Map<number, V>();
  private readonly pending = new Map<number, Promise<V | undefined>>();

  constructor(
    private readonly compute: (ids: number[]) => Promise<Map<number, V>>,
    /** Told the number of entities held after each computation (for a gauge). */
    private readonly onSize?: (size: number) => void,
    /** Names the feature reads in traces. */
    private readonly name = 'features',
  ) {}

  get size(): number {
    return this.values.size;
  }

  /**
   * Fills the memo for `ids` a slice at a time, yielding to the event loop between slices so
   * requests arriving meanwhile wait for one slice at most. Small slices also keep the rows read
   * in between from piling up (BENCHMARKS.md, memory while filling the memos).
   */
  async warm(ids: readonly number[], slice = 50): Promise<void> {
    for (let i = 0; i < ids.length; i += slice) {
      await this.load(ids.slice(i, i + slice));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** One feature read for `ids` (a `features.read` span when traced). */
  load(ids: readonly number[]): Promise<(V | undefined)[]> {
    return inSpan('features.read', { 'shelfmark.features': this.name, 'shelfmark.entities': ids.length }, () => this.loadUntraced(ids));
  }

  private async loadUntraced(ids: readonly number[]): Promise<(V | undefined)[]> {
    const misses = new Set<number>();
    for (const id of ids) {
      if (!this.values.has(id) && !this.pending.has(id)) misses.add(id);
    }
    if (misses.size > 0) {
      const batch = this.compute([...misses]).then((found) => {
        for (const [id, value] of found) this.values.set(id, value);
        this.onSize?.(this.values.size);
        return found;
      });
      for (const id of misses) {
        this.pending.set(
          id,
          batch
            .then((found) => found.get(id))
            .finally(() => this.pending.delete(id)),
        );
      }
    }
    return Promise.all(ids.map((id) => (this.values.has(id) ? this.values.get(id) : this.pending.get(id))));
  }
}
