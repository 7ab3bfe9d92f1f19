/**
 * The shelf-taste recommender: its ONNX graph ranks exactly as the reference scoring does (the
 * parity the trainer and the registry rely on), with history, without, with invalid entries,
 * and it recovers planted tastes better than popularity.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { meanRankingMetrics } from '../../ranking-metrics';
import { RecommenderSession } from '../inference';
import { ANONYMOUS_USER_INDEX } from '../onnx-export';
import { popularityTopK } from '../scoring';
import { buildUserRows, splitForValidation } from '../sparse-rows';
import { plantedTasteLibrary } from '../synthetic';
import { DEFAULT_TASTE_SETTINGS, exportTasteOnnx, fitTasteModel, tasteScores, tasteTopK, type ShelfCatalogue, type TasteModel } from '../taste';

const MEMBERS = 300;
const BOOKS = 250;
const GENRES = 6;
const library = plantedTasteLibrary({ members: MEMBERS, books: BOOKS, genres: GENRES, loansPerMember: 15, noise: 0.2, seed: 21 });
const rows = buildUserRows({ userCount: MEMBERS, itemCount: BOOKS, interactions: library.interactions });
const history = (rowsOf: typeof rows, u: number) => Array.from(rowsOf.column.subarray(rowsOf.rowStart[u], rowsOf.rowStart[u + 1]));

function catalogue(): ShelfCatalogue {
  const genres = new Map<string, number>();
  const authors = new Map<string, number>();
  const itemShelf = new Int32Array(BOOKS);
  const itemAuthor = new Int32Array(BOOKS);
  library.books.forEach((book, i) => {
    const genre = String(book.genre);
    if (!genres.has(genre)) genres.set(genre, genres.size);
    itemShelf[i] = genres.get(genre)!;
    const author = book.authors[0]!;
    if (!authors.has(author)) authors.set(author, authors.size);
    itemAuthor[i] = authors.get(author)!;
  });
  // Book 0 has no author entry, as a DVD would not.
  itemAuthor[0] = -1;
  return { itemShelf, shelfCount: genres.size, itemAuthor, ratingsCount: Float64Array.from(library.books, (_, i) => 1 + ((i * 37) % 101)) };
}

let model: TasteModel;
let session: RecommenderSession;

beforeAll(async () => {
  // Every part carries weight: the shelf mix, authors and co-borrowing.
  model = fitTasteModel(rows, catalogue(), { ...DEFAULT_TASTE_SETTINGS, authorWeight: 0.2, coBorrowingWeight: 0.01 });
  session = await RecommenderSession.create(exportTasteOnnx(model));
});

describe('shelf-taste recommender', () => {
  it('ranks in ONNX as the reference does, for members with and without history, in one batch', async () => {
    const queries = [
      ...Array.from({ length: 40 }, (_, u) => ({ userIndex: u, seenItems: history(rows, u) })),
      { userIndex: ANONYMOUS_USER_INDEX, seenItems: history(rows, 7) },
      { userIndex: 3, seenItems: [] },
    ];
    const lists = await session.recommend(queries, 10);
    queries.forEach((query, q) => {
      const reference = tasteTopK(model, query.seenItems, 10);
      expect(lists[q]!.items).toEqual(reference.items);
      lists[q]!.scores.forEach((score, r) => expect(Math.abs(score - reference.scores[r]!)).toBeLessThan(1e-4));
    });
    // The member index does not change a list: scored from history alone.
    expect(lists[40]!.items).toEqual(lists[7]!.items);
  });

  it('ignores seen items outside the catalogue, and never recommends a seen one', async () => {
    const seen = history(rows, 11);
    const [withInvalid] = await session.recommend([{ userIndex: 11, seenItems: [...seen, -5, BOOKS + 3] }], 10);
    expect(withInvalid!.items).toEqual(tasteTopK(model, seen, 10).items);
    for (const item of withInvalid!.items) expect(seen).not.toContain(item);
  });

  it('scores a member without history by the library’s shelf mix times each book’s share of its shelf', () => {
    const scores = tasteScores(model, []);
    for (const i of [1, 50, 120]) expect(scores[i]).toBeCloseTo(model.shelfPrior[model.itemShelf[i]!]! * model.itemShare[i]! / model.priorStrength, 4);
  });

  it('beats popularity on books held out of the histories it was fitted on', () => {
    const split = splitForValidation(rows, 0.2, 3);
    const fitted = fitTasteModel(split.training, catalogue(), { ...DEFAULT_TASTE_SETTINGS, authorWeight: 0.15 });
    const borrowers = new Float64Array(BOOKS);
    for (const item of split.training.column) borrowers[item]! += 1;
    const members = [...split.heldOut.keys()];
    const taste = meanRankingMetrics(members.map((u) => ({ ranked: tasteTopK(fitted, history(split.training, u), 10).items, relevant: split.heldOut.get(u)! })), 10);
    const popular = meanRankingMetrics(members.map((u) => ({ ranked: popularityTopK(borrowers, history(split.training, u), 10).items, relevant: split.heldOut.get(u)! })), 10);
    expect(taste.ndcg).toBeGreaterThan(popular.ndcg * 1.2);
  });
});
