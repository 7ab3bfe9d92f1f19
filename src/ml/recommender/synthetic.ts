/**
 * Synthetic borrowing with a planted cause, for tests and timing runs: each member prefers one
 * or two genres, each book has one genre and one author, and loans follow taste times a
 * long-tailed popularity. A recommender that recovers taste must beat popularity on it; one
 * that does not, cannot. Deterministic for a seed.
 */
import { Random } from '../../util/random';
import type { BookContent } from './content';
import type { Interaction } from './model';

export interface PlantedTasteOptions {
  members: number;
  books: number;
  genres: number;
  /** Mean loans per member (Poisson, at least 1). */
  loansPerMember: number;
  /** Probability that a loan ignores taste and follows popularity alone. */
  noise: number;
  seed: number;
}

export interface PlantedTasteLibrary {
  interactions: Interaction[];
  books: BookContent[];
  bookGenre: Int32Array;
  /** Each member's favourite genres (one or two). */
  memberGenres: number[][];
}

export function plantedTasteLibrary(options: PlantedTasteOptions): PlantedTasteLibrary {
  const { members, books, genres, loansPerMember, noise, seed } = options;
  const random = new Random(seed);
  const bookGenre = new Int32Array(books);
  const appeal = new Float64Array(books);
  const byGenre: number[][] = Array.from({ length: genres }, () => []);
  const authorsPerGenre = Math.max(1, Math.round(books / genres / 4));
  const catalogue: BookContent[] = [];
  for (let b = 0; b < books; b++) {
    const genre = random.int(genres);
    bookGenre[b] = genre;
    // Long-tailed appeal, like real loan counts.
    appeal[b] = Math.exp(random.normal(0, 1));
    byGenre[genre]!.push(b);
    catalogue.push({
      authors: [`author ${genre}-${random.int(authorsPerGenre)}`],
      genre: `genre ${genre}`,
      publicationYear: 1950 + random.int(70),
    });
  }
  const cumulative = (list: number[]): Float64Array => {
    const sums = new Float64Array(list.length);
    let total = 0;
    list.forEach((b, p) => {
      total += appeal[b]!;
      sums[p] = total;
    });
    return sums;
  };
  const genreCumulative = byGenre.map(cumulative);
  const allBooks = Array.from({ length: books }, (_, b) => b);
  const allCumulative = cumulative(allBooks);

  const interactions: Interaction[] = [];
  const memberGenres: number[][] = [];
  for (let m = 0; m < members; m++) {
    const favourites = [random.int(genres)];
    if (random.bernoulli(0.5)) favourites.push(random.int(genres));
    memberGenres.push(favourites);
    const loans = Math.max(1, random.poisson(loansPerMember));
    const taken = new Set<number>();
    for (let attempt = 0; attempt < loans * 3 && taken.size < loans; attempt++) {
      let book: number;
      if (random.bernoulli(noise)) book = allBooks[random.pickCumulative(allCumulative)]!;
      else {
        const genre = favourites[random.int(favourites.length)]!;
        const list = byGenre[genre]!;
        if (list.length === 0) continue;
        book = list[random.pickCumulative(genreCumulative[genre]!)]!;
      }
      if (taken.has(book)) continue;
      taken.add(book);
      interactions.push({ userIndex: m, itemIndex: book, weight: 1 + random.int(3) });
    }
  }
  const maxAppeal = appeal.reduce((a, b) => Math.max(a, b), 0);
  catalogue.forEach((book, b) => {
    book.popularity = Math.log1p(appeal[b]!) / Math.log1p(maxAppeal);
  });
  return { interactions, books: catalogue, bookGenre, memberGenres };
}
