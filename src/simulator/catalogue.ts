/**
 * The library's stock: the real goodbooks-10k titles vendored in data/catalogue/books.csv,
 * each shelved under a genre and a collection class (LibrariesWest's item types).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { findProjectRoot } from '../config';
import { Random } from '../util/random';
import {
  CHILD_NON_FICTION_TITLE,
  COLLECTED_VOLUME,
  DECISIVE_TITLE_RULES,
  FALLBACK_GENRE_WEIGHTS,
  GENRE_BY_AUTHOR,
  GENRES,
  TITLE_GENRE_OVERRIDES,
  TITLE_KEYWORD_RULES,
  type Genre,
} from './genre-rules';
import { CATALOGUE_SEED, mixSeed } from './streams';

export { GENRES, type Genre } from './genre-rules';

export const COLLECTIONS = [
  'Adult Fiction',
  'Adult Non Fiction',
  'Adult Graphic Novel',
  'Child Fiction',
  'Child Non Fiction',
  'YA / Teen Fiction',
  'Large Print',
  'DVD',
] as const;
export type Collection = (typeof COLLECTIONS)[number];

/** The LibrariesWest item types each collection class stands for (for comparing with their data). */
export const LIBRARIESWEST_ITEM_TYPES: Readonly<Record<Collection, readonly string[]>> = {
  'Adult Fiction': ['Adult Fiction'],
  'Adult Non Fiction': ['Adult Non Fiction'],
  'Adult Graphic Novel': ['Adult Graphic Novel'],
  'Child Fiction': ['Child Fiction'],
  'Child Non Fiction': ['Child Non Fiction'],
  'YA / Teen Fiction': ['YA / Teen Fiction'],
  'Large Print': ['Large Print - Adult Fiction', 'Large Print - Adult Non Fiction'],
  DVD: ['U DVD Standard', 'PG DVD Standard', '12 DVD Standard', '15 DVD Standard', '18 DVD Standard'],
};

/** How an item is lent: DVDs go out for a week, everything else for three. */
export type ItemFormat = 'print' | 'largePrint' | 'dvd';
export const ITEM_FORMATS: readonly ItemFormat[] = ['print', 'largePrint', 'dvd'];
export const LOAN_PERIOD_DAYS: Readonly<Record<ItemFormat, number>> = { print: 21, largePrint: 21, dvd: 7 };
/** Renewals allowed per loan. */
export const MAX_RENEWALS: Readonly<Record<ItemFormat, number>> = { print: 3, largePrint: 3, dvd: 2 };

export function formatOf(collection: Collection): ItemFormat {
  if (collection === 'DVD') return 'dvd';
  if (collection === 'Large Print') return 'largePrint';
  return 'print';
}

export interface CatalogueBook {
  /** goodbooks-10k book_id, kept as the store's book id. */
  id: number;
  title: string;
  authors: string[];
  publicationYear: number | null;
  /** ISBN-10 with the leading zeros the source dropped restored; null when the source has none. */
  isbn: string | null;
  languageCode: string | null;
  averageRating: number;
  ratingsCount: number;
  genre: Genre;
  collection: Collection;
  format: ItemFormat;
  /** Standardised log(ratings_count): the book's popularity as the simulator uses it. */
  popularity: number;
}

export function defaultCatalogueFile(): string {
  return path.join(findProjectRoot(), 'data', 'catalogue', 'books.csv');
}

interface CatalogueRow {
  book_id: string;
  isbn: string;
  authors: string;
  original_publication_year: string;
  title: string;
  language_code: string;
  average_rating: string;
  ratings_count: string;
}

const REQUIRED_COLUMNS: readonly (keyof CatalogueRow)[] = [
  'book_id', 'isbn', 'authors', 'original_publication_year', 'title', 'language_code', 'average_rating', 'ratings_count',
];

/** Share of the most-rated fiction titles the library also holds as the film on DVD. */
const DVD_SHARE_OF_POPULAR = 0.15;
/** How many of the most-rated titles count as "popular enough to have been filmed". */
const FILMED_TOP_RANK = 1500;
const FILMABLE: ReadonlySet<Genre> = new Set<Genre>([
  'Fiction', 'Fantasy', 'Science Fiction', 'Mystery', 'Thriller', 'Romance', 'Horror', 'Young Adult', 'Children', 'Classics',
]);
/** Share of adult titles held only in large print, by genre (readers of large print favour these). */
const LARGE_PRINT_SHARE: Partial<Record<Genre, number>> = {
  Fiction: 0.12, Mystery: 0.16, Thriller: 0.12, Romance: 0.14, Classics: 0.08, History: 0.06, Biography: 0.06,
};

export function loadCatalogue(file: string = defaultCatalogueFile()): CatalogueBook[] {
  const rows = parse<CatalogueRow>(readFileSync(file), { columns: true, skip_empty_lines: true });
  if (rows.length === 0) throw new Error(`the catalogue ${file} has no rows`);
  const missing = REQUIRED_COLUMNS.filter((c) => !(c in rows[0]!));
  if (missing.length > 0) throw new Error(`the catalogue ${file} lacks the columns ${missing.join(', ')}`);

  const parsed = rows.map((row) => parseRow(row, file));
  const logCounts = parsed.map((b) => Math.log(Math.max(1, b.ratingsCount)));
  const mean = logCounts.reduce((a, b) => a + b, 0) / logCounts.length;
  const sd = Math.sqrt(logCounts.reduce((a, b) => a + (b - mean) ** 2, 0) / logCounts.length) || 1;
  const rankByCount = new Map([...parsed].sort((a, b) => b.ratingsCount - a.ratingsCount || a.id - b.id).map((b, rank) => [b.id, rank]));

  return parsed.map((book, i) => {
    const rng = new Random(mixSeed(CATALOGUE_SEED, book.id));
    const genre = shelveGenre(book.title, book.authors, book.publicationYear, rng);
    const collection = collectionFor(genre, book.title, rankByCount.get(book.id)!, rng);
    return { ...book, genre, collection, format: formatOf(collection), popularity: (logCounts[i]! - mean) / sd };
  });
}

type ParsedBook = Omit<CatalogueBook, 'genre' | 'collection' | 'format' | 'popularity'>;

function parseRow(row: CatalogueRow, file: string): ParsedBook {
  const id = Number(row.book_id);
  if (!Number.isInteger(id) || id <= 0) throw new Error(`${file}: book_id must be a positive integer, got "${row.book_id}"`);
  const year = row.original_publication_year.trim() === '' ? null : Math.round(Number(row.original_publication_year));
  const isbn = row.isbn.trim();
  return {
    id,
    title: row.title.trim(),
    authors: row.authors.split(',').map((a) => a.replace(/\s+/g, ' ').trim()).filter((a) => a !== ''),
    publicationYear: year !== null && Number.isFinite(year) ? year : null,
    isbn: isbn === '' ? null : /^\d{1,9}$/.test(isbn) ? isbn.padStart(10, '0') : isbn,
    languageCode: row.language_code.trim() || null,
    averageRating: Number(row.average_rating) || 0,
    ratingsCount: Math.max(0, Math.round(Number(row.ratings_count) || 0)),
  };
}

/** The title without goodbooks' series suffix, e.g. "Twilight (Twilight, #1)" -> "Twilight". */
function bareTitle(title: string): string {
  return title.replace(/\s*\([^()]*#[^()]*\)\s*$/, '').trim();
}

export function shelveGenre(title: string, authors: readonly string[], year: number | null, rng: Random): Genre {
  const override = TITLE_GENRE_OVERRIDES[title] ?? TITLE_GENRE_OVERRIDES[bareTitle(title)];
  if (override) return override;
  for (const [pattern, genre] of DECISIVE_TITLE_RULES) if (pattern.test(title)) return genre;
  const byAuthor = authors.length > 0 ? GENRE_BY_AUTHOR.get(authors[0]!) : undefined;
  if (byAuthor) return byAuthor;
  if (COLLECTED_VOLUME.test(title)) return 'Graphic Novels';
  for (const [pattern, genre] of TITLE_KEYWORD_RULES) if (pattern.test(bareTitle(title))) return genre;
  if (year !== null && year < 1900) return 'Classics';
  if (year !== null && year < 1950 && rng.bernoulli(0.5)) return 'Classics';
  return drawFallbackGenre(rng);
}

function drawFallbackGenre(rng: Random): Genre {
  const cumulative: number[] = [];
  let total = 0;
  for (const genre of GENRES) cumulative.push((total += FALLBACK_GENRE_WEIGHTS[genre]));
  return GENRES[rng.pickCumulative(cumulative)]!;
}

function collectionFor(genre: Genre, title: string, popularityRank: number, rng: Random): Collection {
  // Both draws happen for every book, so one book's outcome never shifts another's.
  const filmed = rng.next() < DVD_SHARE_OF_POPULAR;
  const largePrint = rng.next() < (LARGE_PRINT_SHARE[genre] ?? 0);
  if (FILMABLE.has(genre) && popularityRank < FILMED_TOP_RANK && filmed) return 'DVD';
  switch (genre) {
    case 'Children':
      return CHILD_NON_FICTION_TITLE.test(title) ? 'Child Non Fiction' : 'Child Fiction';
    case 'Young Adult':
      return 'YA / Teen Fiction';
    case 'Graphic Novels':
      return 'Adult Graphic Novel';
    case 'Non-fiction':
    case 'Poetry':
      return 'Adult Non Fiction';
    case 'History':
    case 'Biography':
      return largePrint ? 'Large Print' : 'Adult Non Fiction';
    case 'Fiction':
    case 'Fantasy':
    case 'Science Fiction':
    case 'Mystery':
    case 'Thriller':
    case 'Romance':
    case 'Horror':
    case 'Classics':
      return largePrint ? 'Large Print' : 'Adult Fiction';
    default: {
      const unhandled: never = genre;
      throw new Error(`no collection for genre ${String(unhandled)}`);
    }
  }
}
