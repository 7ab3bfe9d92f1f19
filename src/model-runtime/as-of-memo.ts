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

/** Milliseconds the event loop has been busy (not waiting for I/O) since the process started. */
const loopBusyMs = (): number => performance.eventLoopUtilization().active;

/**
 * Sizes the slices of background work (filling a memo, rolling it to a new date) so that each
 * holds the event loop for about `budgetMs`: a request arriving meanwhile waits that long at
 * most, whatever one entity costs on this machine and store. After each slice the next size is
 * scaled by how far the slice was from the budget (at most doubling), within [min, max]. The busy
 * time is the event loop's, so waiting for a PostgreSQL answer does not count as holding it.
 */
export class SlicePacer {
  private size: number;

  constructor(
    private readonly budgetMs = 5,
    private readonly bounds = { min: 1, max: 500, first: 4 },
    private readonly busyMs: () => number = loopBusyMs,
  ) {
    this.size = bounds.first;
  }

  /** Runs `work` over `ids` a paced slice at a time, yielding to the event loop between slices. */
  async run(ids: readonly number[], work: (slice: readonly number[]) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < ids.length; ) {
      const slice = ids.slice(i, i + this.size);
      const before = this.busyMs();
      await work(slice);
      this.resize(slice.length, this.busyMs() - before);
      i += slice.length;
      await yieldToRequests();
    }
  }

  private resize(done: number, busyMs: number): void {
    const scale = busyMs > 0 ? Math.min(2, this.budgetMs / busyMs) : 2;
    this.size = Math.max(this.bounds.min, Math.min(this.bounds.max, Math.floor(done * scale) || 1));
  }
}

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
    /** Paces the background work (warm, prepare) so it never holds the event loop for long. */
    private readonly pacer = new SlicePacer(),
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
   * Fills the memo for `ids` a paced slice at a time (see SlicePacer), so requests arriving
   * meanwhile wait for one short slice at most. Small slices also keep the rows read in between
   * from piling up (BENCHMARKS.md, memory while filling the memos).
   */
  async warm(ids: readonly number[]): Promise<void> {
    await this.pacer.run(ids, (slice) => this.loadFrom(this.current, slice));
  }

  /**
   * Every value of `ids`, for a computation over the whole library (a watchlist, an overview):
   * what is missing is computed a paced slice at a time first, as `warm` does, so such a
   * computation never holds the event loop for the whole library's feature reads.
   */
  async loadPaced(ids: readonly number[]): Promise<(V | undefined)[]> {
    await this.warm(ids);
    return this.load(ids);
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
   * Computes every entity held now at `asOf`, a paced slice at a time, while the current values
   * keep answering: a load meanwhile reads the current generation only and never waits for the
   * new one. Resolves to `commit`, which makes the new values the ones answering (and does
   * nothing if another `prepare` started since).
   */
  async prepare(asOf: string): Promise<() => void> {
    const next = generation<V>(asOf);
    this.next = next;
    const held = [...this.current.values.keys()].sort((a, b) => a - b);
    await this.pacer.run(held, (slice) => this.loadFrom(next, slice));
    return () => {
      if (this.next !== next) return;
      this.current = next;
      this.next = undefined;
      this.onSize?.(next.values.size);
    };
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
