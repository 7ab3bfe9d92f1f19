/**
 * Feature values of single entities at one as-of date, computed once and kept until the data
 * behind them changes or the date moves.
 *
 * Contract: `load(ids)` answers in id order what `compute` answers for those ids at the memo's
 * as-of date, `undefined` where `compute` has no value (an id that is not an entity). Values are
 * computed by the same feature function as without the memo, for the misses only, in one call
 * per `load`; an id being computed for another request is awaited, not computed twice. Only ids
 * `compute` answers are kept, so the memo holds at most one value per entity of the store and
 * unknown ids cannot grow it.
 *
 * Freshness: `invalidate(ids)` drops the values of entities whose rows changed, so the next load
 * computes them again; a computation that started before the change is answered to the request
 * that asked for it but not kept. `prepare(asOf)` computes every held entity at a new date beside
 * the current values, which keep answering meanwhile; its `commit` swaps to the new date in one
 * step. A load reads one generation from start to end, so one answer never mixes two dates.
 * No model output is kept, so a promoted or rolled-back version never meets a stale answer.
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

/**
 * What a model subgraph keeps as of the library clock, as its change follower sees it: values
 * of changed entities are dropped, and on a clock move every one is computed at the new date
 * beside the old (which keep answering) and swapped in by `commit`, all in the same step.
 */
export interface DatedValues {
  /** Drops what `ids` (member ids) changed. */
  invalidate(ids: Iterable<number>): void;
  /** Computes what is held at `asOf`; the returned commit makes it the answer. */
  prepare(asOf: string): Promise<() => void>;
}

/** One AsOfMemo per source, typed by what the source computes. */
export type Memos<T extends MemoSources> = { [K in keyof T]: T[K] extends MemoSource<infer V> ? AsOfMemo<V> : never };

/** The values of one as-of date. */
interface Generation<V> {
  asOf: string;
  values: Map<number, V>;
  pending: Map<number, Promise<V | undefined>>;
}

function generation<V>(asOf: string): Generation<V> {
  return { asOf, values: new Map(), pending: new Map() };
}

/** Yields to the event loop, so requests arriving during long work wait for one slice at most. */
const yieldToRequests = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class AsOfMemo<V> implements DatedValues {
  private current: Generation<V>;
  /** The generation `prepare` is filling; changed entities are dropped from it too. */
  private next: Generation<V> | undefined;

  constructor(
    private readonly compute: (ids: number[], asOf: string) => Promise<Map<number, V>>,
    asOf: string,
    /** Told the number of entities held after each computation (for a gauge). */
    private readonly onSize?: (size: number) => void,
    /** Names the feature reads in traces. */
    private readonly name = 'features',
  ) {
    this.current = generation(asOf);
  }

  get size(): number {
    return this.current.values.size;
  }

  /** The date the values answering now are computed at. */
  get asOf(): string {
    return this.current.asOf;
  }

  /**
   * Fills the memo for `ids` a slice at a time, yielding to the event loop between slices so
   * requests arriving meanwhile wait for one slice at most. Small slices also keep the rows read
   * in between from piling up (BENCHMARKS.md, memory while filling the memos).
   */
  async warm(ids: readonly number[], slice = 50): Promise<void> {
    await this.fill(() => this.current, ids, slice);
  }

  /** One feature read for `ids` at the current date (a `features.read` span when traced). */
  load(ids: readonly number[]): Promise<(V | undefined)[]> {
    return inSpan('features.read', { 'shelfmark.features': this.name, 'shelfmark.entities': ids.length }, () => this.loadFrom(this.current, ids));
  }

  /** Drops the values of `ids` (their rows changed): the next load computes them again. */
  invalidate(ids: Iterable<number>): void {
    for (const id of ids) {
      for (const gen of [this.current, this.next]) {
        gen?.values.delete(id);
        gen?.pending.delete(id);
      }
    }
    this.onSize?.(this.current.values.size);
  }

  /**
   * Computes every entity held now at `asOf`, a slice at a time, while the current values keep
   * answering. Resolves to `commit`, which makes the new values the ones answering (and does
   * nothing if another `prepare` started since).
   */
  async prepare(asOf: string, slice = 50): Promise<() => void> {
    const next = generation<V>(asOf);
    this.next = next;
    const held = [...this.current.values.keys()].sort((a, b) => a - b);
    await this.fill(() => next, held, slice);
    return () => {
      if (this.next !== next) return;
      this.current = next;
      this.next = undefined;
      this.onSize?.(next.values.size);
    };
  }

  private async fill(gen: () => Generation<V>, ids: readonly number[], slice: number): Promise<void> {
    for (let i = 0; i < ids.length; i += slice) {
      await this.loadFrom(gen(), ids.slice(i, i + slice));
      await yieldToRequests();
    }
  }

  private loadFrom(gen: Generation<V>, ids: readonly number[]): Promise<(V | undefined)[]> {
    const misses = new Set<number>();
    for (const id of ids) {
      if (!gen.values.has(id) && !gen.pending.has(id)) misses.add(id);
    }
    if (misses.size > 0) {
      const batch = this.compute([...misses], gen.asOf);
      for (const id of misses) {
        const value: Promise<V | undefined> = batch
          .then((found) => {
            const v = found.get(id);
            // Kept only if nothing invalidated the id while it was computed.
            if (v !== undefined && gen.pending.get(id) === value) gen.values.set(id, v);
            return v;
          })
          .finally(() => {
            if (gen.pending.get(id) === value) gen.pending.delete(id);
          });
        gen.pending.set(id, value);
      }
      void batch.then(() => {
        if (gen === this.current) this.onSize?.(gen.values.size);
      }, () => undefined);
    }
    return Promise.all(ids.map((id) => (gen.values.has(id) ? gen.values.get(id) : gen.pending.get(id))));
  }
}

/**
 * One value of the whole library at the as-of date (a calendar, the series of every collection):
 * computed on first use, once per date, and rolled forward with the memos. It does not depend on
 * single members, so `invalidate` keeps it. A failed computation is forgotten, so the next use
 * tries again.
 */
export class AsOfValue<T> implements DatedValues {
  private current: { asOf: string; value?: Promise<T> };
  private next: { asOf: string; value?: Promise<T> } | undefined;

  constructor(private readonly compute: (asOf: string) => Promise<T>, asOf: string) {
    this.current = { asOf };
  }

  /** The date the value answering now is (or will be) computed at. */
  get asOf(): string {
    return this.current.asOf;
  }

  get(): Promise<T> {
    return this.valueOf(this.current);
  }

  invalidate(): void {}

  /** Computes the value at `asOf` only if one was asked for at the current date; until then nothing is computed. */
  async prepare(asOf: string): Promise<() => void> {
    const next: { asOf: string; value?: Promise<T> } = { asOf };
    this.next = next;
    if (this.current.value) await this.valueOf(next);
    return () => {
      if (this.next !== next) return;
      this.current = next;
      this.next = undefined;
    };
  }

  private valueOf(gen: { asOf: string; value?: Promise<T> }): Promise<T> {
    if (!gen.value) {
      const value = this.compute(gen.asOf).catch((error: unknown) => {
        if (gen.value === value) gen.value = undefined;
        throw error;
      });
      gen.value = value;
    }
    return gen.value;
  }
}
