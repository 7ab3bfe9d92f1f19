/**
 * The catalogue arranged for drawing loans: for each lending format and genre, the books and
 * the cumulative popularity weights to pick from, plus each author's ordinary-print books.
 */
import type { Random } from '../util/random';
import { GENRES, ITEM_FORMATS, type CatalogueBook, type ItemFormat } from './catalogue';

/**
 * How strongly Goodreads popularity carries over to loans: ratings_count spans three orders of
 * magnitude, a library's loans are flatter (few copies of a bestseller, a long tail on shelf).
 */
const POPULARITY_EXPONENT = 0.6;

export interface Shelf {
  /** Catalogue indices. */
  books: Int32Array;
  cumulative: Float64Array;
}

export interface Shelves {
  /** `byFormat[format][genreIndex]`, undefined where that format holds nothing of the genre. */
  byFormat: Record<ItemFormat, (Shelf | undefined)[]>;
  /** Ordinary-print catalogue indices by first-listed author. */
  byAuthor: Map<string, Int32Array>;
}

export function arrangeShelves(catalogue: readonly CatalogueBook[]): Shelves {
  const byFormat = {} as Record<ItemFormat, (Shelf | undefined)[]>;
  for (const format of ITEM_FORMATS) {
    byFormat[format] = GENRES.map((genre) => {
      const indices: number[] = [];
      catalogue.forEach((book, i) => {
        if (book.format === format && book.genre === genre) indices.push(i);
      });
      if (indices.length === 0) return undefined;
      const cumulative = new Float64Array(indices.length);
      let total = 0;
      indices.forEach((bookIndex, k) => {
        total += Math.pow(Math.max(1, catalogue[bookIndex]!.ratingsCount), POPULARITY_EXPONENT);
        cumulative[k] = total;
      });
      return { books: Int32Array.from(indices), cumulative };
    });
  }
  const authorLists = new Map<string, number[]>();
  catalogue.forEach((book, i) => {
    const author = book.authors[0];
    if (author === undefined || book.format !== 'print') return;
    let list = authorLists.get(author);
    if (!list) authorLists.set(author, (list = []));
    list.push(i);
  });
  const byAuthor = new Map([...authorLists].map(([author, list]) => [author, Int32Array.from(list)]));
  return { byFormat, byAuthor };
}

export function pickFromShelf(shelf: Shelf, rng: Random): number {
  return shelf.books[rng.pickCumulative(shelf.cumulative)]!;
}
