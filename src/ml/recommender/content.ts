/**
 * Item content for the hybrid recommender: one sparse row of named features per item.
 *
 * Contract: `buildItemContent` takes, for each item index in 0..itemCount-1, the item's named
 * features (name -> value) and returns a sparse matrix whose columns follow the order in which
 * names were first met, so the same items in the same order always give the same matrix.
 * Items may have no features at all; the trainer then treats them as pure collaborative items.
 */
import type { CsrMatrix } from './linalg';

export interface ItemContent {
  /** One name per column, e.g. `author:Terry Pratchett`, `genre:fantasy`, `decade:1990s`. */
  featureNames: string[];
  /** itemCount rows, featureNames.length columns. */
  matrix: CsrMatrix;
}

export type NamedFeatures = Iterable<readonly [name: string, value: number]>;

export function buildItemContent(itemCount: number, featuresOf: (itemIndex: number) => NamedFeatures): ItemContent {
  const featureIndex = new Map<string, number>();
  const featureNames: string[] = [];
  const rowStart = new Int32Array(itemCount + 1);
  const columns: number[] = [];
  const values: number[] = [];
  for (let item = 0; item < itemCount; item++) {
    // Summing repeated names keeps a row well-formed (one entry per column) whatever the caller sends.
    const row = new Map<number, number>();
    for (const [name, value] of featuresOf(item)) {
      if (!Number.isFinite(value)) throw new Error(`item ${item}: feature ${name} has a non-finite value ${value}`);
      if (value === 0) continue;
      let column = featureIndex.get(name);
      if (column === undefined) {
        column = featureNames.length;
        featureIndex.set(name, column);
        featureNames.push(name);
      }
      row.set(column, (row.get(column) ?? 0) + value);
    }
    for (const [column, value] of [...row].sort((a, b) => a[0] - b[0])) {
      columns.push(column);
      values.push(value);
    }
    rowStart[item + 1] = columns.length;
  }
  return {
    featureNames,
    matrix: {
      rows: itemCount,
      columns: featureNames.length,
      rowStart,
      column: Int32Array.from(columns),
      value: Float64Array.from(values),
    },
  };
}

/** What the catalogue knows about a book, in the library's words. */
export interface BookContent {
  authors: readonly string[];
  genre?: string | null;
  publicationYear?: number | null;
  /**
   * Catalogue popularity scaled to [0, 1], e.g. log(1 + ratings count) / log(1 + max). It is
   * known for a book nobody has borrowed yet, which is what lets a new book be recommended.
   */
  popularity?: number | null;
}

/** A coarse publication era: decades since 1900, then wider bands, so sparse years still pool. */
export function publicationEra(year: number | null | undefined): string {
  if (year === null || year === undefined || !Number.isFinite(year)) return 'era:unknown';
  if (year < 1800) return 'era:before-1800';
  if (year < 1900) return 'era:1800s';
  if (year < 1950) return 'era:1900-1949';
  return `era:${Math.floor(year / 10) * 10}s`;
}

/**
 * Named features of a book: an intercept (so a book with nothing else known still gets the
 * average taste), each author (weights 1/sqrt(number of authors), so co-written books are not
 * pulled twice as hard), the genre, the publication era and the catalogue popularity.
 */
export function bookContentFeatures(book: BookContent): Array<[string, number]> {
  const features: Array<[string, number]> = [['intercept', 1]];
  const authors = [...new Set(book.authors.map((a) => a.trim()).filter((a) => a.length > 0))];
  for (const author of authors) features.push([`author:${author}`, 1 / Math.sqrt(authors.length)]);
  if (book.genre) features.push([`genre:${book.genre}`, 1]);
  features.push([publicationEra(book.publicationYear), 1]);
  if (book.popularity !== null && book.popularity !== undefined) features.push(['popularity', book.popularity]);
  return features;
}
