/**
 * Feature values of single entities at one as-of date, computed once and kept, within a bound,
 * until the data behind them changes or the date moves.
 *
 * Contract: `load(ids)` answers in id order what `compute` answers for those ids at the memo's
 * as-of date, `undefined` where `compute` has no value (an id that is not an entity). Values are
 * computed by the same feature function as without the memo, for the misses only, in one call
 * per `load`; an id being computed for another request is awaited, not computed twice. Only ids
 * `compute` answers are kept, so unknown ids cannot grow the memo.
 *
 * Bounded: each date's values are a least-recently-used cache of at most `maxEntries` entities
 * (FEATURE_CACHE_ENTRIES), so a process's memory does not grow with the library. What falls out
 * is computed again on its next use, or read from the shared online store (./feature-store) when
 * one is configured: a lookup goes cache → shared store (one read per batch) → feature function
 * for what is still missing → written back to the shared store. Computations over the whole
 * library (watchlists, the segment overview) do not go through the cache: `scan` reads what the
 * cache holds without making it recent and computes the rest without keeping it.
 *
 * Freshness: `invalidate(ids)` drops the values of entities whose rows changed (here and in the
 * shared store), so the next load computes them again; a computation that started before the
 * change is answered to the request that asked for it but not kept. `prepare(asOf, moved)` brings
 * every held entity (at most `maxEntries`) to a new date beside the current values, which keep
 * answering meanwhile; its `commit` swaps to the new date in one step. An entity whose rows have no
 * date between the two days (not in `moved`) is carried by the source's `carry` without reading the
 * store, when the source has one; the others are computed again. A load reads one generation from
 * start to end, so one answer never mixes two dates. No model output is kept, so a promoted or
 * rolled-back version never meets a stale answer.
 */
import { LRUCache } from 'lru-cache';
import type { SharedFeatureStore } from './feature-store';
import type { RequestGate } from './request-gate';
import type { Store } from '../store';
import { inSpan } from '../tracing';

/**
 * How a model computes one memo's values: its feature function for a batch of entity ids at the
 * as-of date, answering only the ids that are entities.
 */
export type MemoCompute<V> = (store: Store, ids: readonly number[], asOf: string) => Promise<Map<number, V>>;

/**
 * An entity's value at the later date `to`, from its value at `from`, for an entity none of whose
 * rows is dated after `from` and up to `to`: equal to what the feature function answers at `to`,
 * without reading the store. What makes a daily roll cost the members who were active that day,
 * not every member held.
 */
export type MemoCarry<V> = (value: V, from: string, to: string) => V;

/** A memo's feature function with how its values move to a later date (see MemoCarry). */
export interface CarriedMemoSource<V> {
  compute: MemoCompute<V>;
  // A method, so that a source of a particular V is one of `MemoSources`' (its parameter is checked bivariantly).
  carry(value: V, from: string, to: string): V;
}

/** A memo's feature function, alone or with how its values move to a later date. */
export type MemoSource<V> = MemoCompute<V> | CarriedMemoSource<V>;

/** The feature function of `source`. */
export function memoCompute<V>(source: MemoSource<V>): MemoCompute<V> {
  return typeof source === 'function' ? source : source.compute;
}

/** How `source` carries its values to a later date; undefined when every value is computed again. */
export function memoCarry<V>(source: MemoSource<V>): MemoCarry<V> | undefined {
  return typeof source === 'function' ? undefined : (value, from, to) => source.carry(value, from, to);
}

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
  /**
   * Brings what is held to `asOf`; the returned commit makes it the answer. `moved`, when given,
   * names every entity (member id) with a row dated after the current date and up to `asOf`:
   * the others may be carried without reading the store. Without it, everything is computed again.
   */
  prepare(asOf: string, moved?: ReadonlySet<number>): Promise<() => void>;
}

/** One AsOfMemo per source, typed by what the source computes. */
export type Memos<T extends MemoSources> = { [K in keyof T]: T[K] extends MemoSource<infer V> ? AsOfMemo<V> : never };

/** The values of one as-of date. */
interface Generation<V> {
  asOf: string;
  values: LRUCache<number, V & {}>;
  pending: Map<number, Promise<V | undefined>>;
}

/** Default FEATURE_CACHE_ENTRIES: entities per memo and date a process keeps (see src/config). */
export const DEFAULT_FEATURE_CACHE_ENTRIES = 20_000;

/** What a memo reports about its cache, per lookup batch (for the feature_cache_* counters). */
export interface MemoCacheEvents {
  hits?(n: number): void;
  misses?(n: number): void;
  evictions?(n: number): void;
}

export interface AsOfMemoOptions<V = unknown> {
  /** Most entities kept per date; the least recently used go first. */
  maxEntries?: number;
  /** The shared online store behind the cache (Redis), if any. */
  shared?: SharedFeatureStore;
  events?: MemoCacheEvents;
  /** How values move to a later date for entities with no row dated in between (see MemoCarry). */
  carry?: MemoCarry<V>;
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
 * With a `gate`, each slice also waits until no request is in flight (see RequestGate).
 */
export interface SlicePacerOptions {
  /** Busy milliseconds of the event loop each slice aims at. */
  budgetMs?: number;
  /** Entities per slice: the fewest, the most, and the first slice's. */
  bounds?: { min: number; max: number; first: number };
  /** The busy clock the slices are measured on (tests pass their own). */
  busyMs?: () => number;
  /** What each slice waits for first: no request in flight (see RequestGate). */
  gate?: Pick<RequestGate, 'idle'>;
}

export class SlicePacer {
  private size: number;
  private readonly budgetMs: number;
  private readonly bounds: { min: number; max: number; first: number };
  private readonly busyMs: () => number;
  private readonly gate: Pick<RequestGate, 'idle'> | undefined;

  constructor({ budgetMs = 5, bounds = { min: 1, max: 500, first: 4 }, busyMs = loopBusyMs, gate }: SlicePacerOptions = {}) {
    this.budgetMs = budgetMs;
    this.bounds = bounds;
    this.busyMs = busyMs;
    this.gate = gate;
    this.size = bounds.first;
  }

  /** Runs `work` over `ids` a paced slice at a time, yielding to the event loop between slices. */
  async run(ids: readonly number[], work: (slice: readonly number[]) => Promise<unknown>): Promise<void> {
    for (let i = 0; i < ids.length; ) {
      await this.gate?.idle();
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
  private readonly maxEntries: number;
  private readonly shared: SharedFeatureStore | undefined;
  private readonly events: MemoCacheEvents;
  private readonly carry: MemoCarry<V> | undefined;

  constructor(
    private readonly compute: (ids: number[], asOf: string) => Promise<Map<number, V>>,
    asOf: string,
    /** Told the number of entities held after each computation (for a gauge). */
    private readonly onSize?: (size: number) => void,
    /** Names the feature reads in traces, and the memo's keys in the shared store. */
    private readonly name = 'features',
    /** Paces the background work (warm, prepare, scan) so it never holds the event loop for long. */
    private readonly pacer = new SlicePacer(),
    options: AsOfMemoOptions<V> = {},
  ) {
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_FEATURE_CACHE_ENTRIES);
    this.shared = options.shared;
    this.events = options.events ?? {};
    this.carry = options.carry;
    this.current = this.generation(asOf);
  }

  private generation(asOf: string): Generation<V> {
    const events = this.events;
    const values = new LRUCache<number, V & {}>({
      max: this.maxEntries,
      dispose: (_value, _key, reason) => {
        if (reason === 'evict') events.evictions?.(1);
      },
    });
    return { asOf, values, pending: new Map() };
  }

  get size(): number {
    return this.current.values.size;
  }

  /** Most entities kept per date. */
  get capacity(): number {
    return this.maxEntries;
  }

  /** The date the values answering now are computed at. */
  get asOf(): string {
    return this.current.asOf;
  }

  /**
   * Fills the memo for `ids` (at most its capacity is kept: pass the entities most likely to be
   * asked for) a paced slice at a time (see SlicePacer), so requests arriving meanwhile wait for
   * one short slice at most. Small slices also keep the rows read in between from piling up
   * (BENCHMARKS.md, memory while filling the memos).
   */
  async warm(ids: readonly number[]): Promise<void> {
    await this.pacer.run(ids.slice(0, this.maxEntries), (slice) => this.loadFrom(this.current, slice));
  }

  /**
   * Every value of `ids` at the current date, for a computation over the whole library (a
   * watchlist, an overview), handed to `each` a paced slice at a time in id order: what the cache
   * holds is read without making it recent, the rest is computed by the feature function and not
   * kept, so the computation holds one slice of values at a time (plus whatever `each` keeps)
   * and does not push the entities requests use out of the cache. Resolves to the date read.
   */
  async scan(ids: readonly number[], each: (values: (V | undefined)[], ids: readonly number[]) => void | Promise<void>): Promise<string> {
    const gen = this.current;
    await this.pacer.run(ids, async (slice) => {
      const misses = slice.filter((id) => !gen.values.has(id));
      const computed = misses.length > 0 ? await this.compute(misses, gen.asOf) : new Map<number, V>();
      await each(
        slice.map((id) => gen.values.peek(id) ?? computed.get(id)),
        slice,
      );
    });
    return gen.asOf;
  }

  /** One feature read for `ids` at the current date (a `features.read` span when traced). */
  load(ids: readonly number[]): Promise<(V | undefined)[]> {
    return inSpan('features.read', { 'shelfmark.features': this.name, 'shelfmark.entities': ids.length }, () => this.loadFrom(this.current, ids));
  }

  /** Drops the values of `ids` (their rows changed), here and in the shared store: the next load computes them again. */
  invalidate(ids: Iterable<number>): void {
    const dropped = [...ids];
    for (const id of dropped) {
      for (const gen of [this.current, this.next]) {
        gen?.values.delete(id);
        gen?.pending.delete(id);
      }
    }
    this.shared?.invalidate(this.name, dropped);
    this.onSize?.(this.current.values.size);
  }

  /**
   * Brings every entity held now (at most the capacity) to `asOf`, a paced slice at a time, while
   * the current values keep answering: a load meanwhile reads the current generation only and
   * never waits for the new one. With a `carry` and `moved` (the entities with a row dated after
   * the current date and up to `asOf`), the others are carried from their current values; the rest
   * are computed. Resolves to `commit`, which makes the new values the ones answering (and does
   * nothing if another `prepare` started since).
   */
  async prepare(asOf: string, moved?: ReadonlySet<number>): Promise<() => void> {
    const from = this.current;
    const next = this.generation(asOf);
    this.next = next;
    const held = [...from.values.keys()].sort((a, b) => a - b);
    const { carry } = this;
    if (carry && moved && from.asOf <= asOf) {
      await this.pacer.run(
        held.filter((id) => !moved.has(id)),
        async (slice) => this.carryInto(next, from, slice, carry),
      );
      await this.pacer.run(held.filter((id) => moved.has(id)), (slice) => this.loadFrom(next, slice));
    } else {
      await this.pacer.run(held, (slice) => this.loadFrom(next, slice));
    }
    return () => {
      if (this.next !== next) return;
      this.current = next;
      this.next = undefined;
      this.onSize?.(next.values.size);
    };
  }

  /** Carries the values of `ids` still held at `from` into `next` (one invalidated meanwhile is left to be computed on use). */
  private carryInto(next: Generation<V>, from: Generation<V>, ids: readonly number[], carry: MemoCarry<V>): void {
    for (const id of ids) {
      const value = from.values.peek(id);
      if (value === undefined || next.values.has(id) || next.pending.has(id)) continue;
      const carried = carry(value, from.asOf, next.asOf);
      if (carried !== undefined && carried !== null) next.values.set(id, carried);
    }
  }

  /**
   * The misses of one batch: from the shared store when it has them, else from the feature
   * function, whose values are written back under the versions read before computing them.
   */
  private async fetch(ids: number[], asOf: string): Promise<Map<number, V>> {
    const shared = this.shared ? await this.shared.read<V>(this.name, asOf, ids) : undefined;
    if (!this.shared || !shared) return this.compute(ids, asOf);
    const found = new Map<number, V>();
    const missing: number[] = [];
    const versionOf = new Map<number, string>();
    ids.forEach((id, i) => {
      const value = shared.values[i];
      if (value !== undefined) found.set(id, value);
      else {
        missing.push(id);
        versionOf.set(id, shared.versions[i] ?? '0');
      }
    });
    if (missing.length > 0) {
      const computed = await this.compute(missing, asOf);
      const entries: { id: number; version: string; value: V }[] = [];
      for (const [id, value] of computed) {
        found.set(id, value);
        entries.push({ id, version: versionOf.get(id) ?? '0', value });
      }
      // Written back in the background: the answer does not wait for it.
      void this.shared.write(this.name, asOf, entries);
    }
    return found;
  }

  private loadFrom(gen: Generation<V>, ids: readonly number[]): Promise<(V | undefined)[]> {
    const misses = new Set<number>();
    let hits = 0;
    for (const id of ids) {
      if (gen.values.has(id) || gen.pending.has(id)) hits += 1;
      else misses.add(id);
    }
    if (hits > 0) this.events.hits?.(hits);
    if (misses.size > 0) {
      this.events.misses?.(misses.size);
      const batch = this.fetch([...misses], gen.asOf);
      for (const id of misses) {
        const value: Promise<V | undefined> = batch
          .then((found) => {
            const v = found.get(id);
            // Kept only if nothing invalidated the id while it was computed.
            if (v !== undefined && v !== null && gen.pending.get(id) === value) gen.values.set(id, v);
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
    // `get` makes each id the most recently used.
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
