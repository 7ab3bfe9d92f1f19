import { describe, expect, it } from '@jest/globals';
import { COLLECTIONS, GENRES, loadCatalogue } from '..';

describe('the vendored catalogue', () => {
  const books = loadCatalogue();

  it('holds all 10,000 goodbooks titles with a genre and a collection class each', () => {
    expect(books).toHaveLength(10_000);
    expect(new Set(books.map((b) => b.id)).size).toBe(10_000);
    for (const book of books) {
      expect(GENRES).toContain(book.genre);
      expect(COLLECTIONS).toContain(book.collection);
      expect(book.authors.length).toBeGreaterThan(0);
    }
    for (const collection of COLLECTIONS) expect(books.some((b) => b.collection === collection)).toBe(true);
  });

  it('shelves well-known titles where a librarian would', () => {
    const genreOf = (id: number) => books.find((b) => b.id === id)!.genre;
    expect(genreOf(1)).toBe('Young Adult'); // The Hunger Games
    expect(genreOf(2)).toBe('Children'); // Harry Potter and the Sorcerer's Stone
    expect(genreOf(10)).toBe('Classics'); // Pride and Prejudice
    expect(genreOf(16)).toBe('Mystery'); // The Girl with the Dragon Tattoo
    expect(books.find((b) => b.title.startsWith('The Walking Dead, Vol. 01'))!.genre).toBe('Graphic Novels');
  });

  it('is the same on every load, whatever the simulation seed', () => {
    const again = loadCatalogue();
    expect(again.map((b) => [b.genre, b.collection])).toEqual(books.map((b) => [b.genre, b.collection]));
  });

  it('restores the leading zeros the source dropped from ISBN-10s', () => {
    expect(books[0]!.isbn).toBe('0439023483');
    for (const book of books) if (book.isbn !== null) expect(book.isbn).toMatch(/^[0-9]{9}[0-9X]$|^[0-9A-Z]+$/);
  });
});
