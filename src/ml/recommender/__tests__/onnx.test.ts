import { beforeAll, describe, expect, it } from '@jest/globals';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { bookContentFeatures, buildItemContent } from '../content';
import { RecommenderSession, SimilarItemsSession } from '../inference';
import type { RecommenderModel } from '../model';
import { ANONYMOUS_USER_INDEX, exportRecommenderOnnx, exportSimilarItemsOnnx, RECOMMENDER_TENSORS, SEEN_ITEMS_PAD } from '../onnx-export';
import { checkRecommenderParity, checkSimilarItemsParity, rankedListsAgree } from '../parity';
import { popularityTopK, recommendTopK, similarItemsTopK } from '../scoring';
import { plantedTasteLibrary } from '../synthetic';
import { trainRecommender } from '../trainer';

const MEMBERS = 300;
const BOOKS = 250;
const library = plantedTasteLibrary({ members: MEMBERS, books: BOOKS, genres: 6, loansPerMember: 15, noise: 0.2, seed: 21 });
const history: number[][] = Array.from({ length: MEMBERS }, () => []);
for (const { userIndex, itemIndex } of library.interactions) history[userIndex]!.push(itemIndex);

let model: RecommenderModel;
let recommender: RecommenderSession;
let similar: SimilarItemsSession;

beforeAll(async () => {
  // Content and a forced neighbourhood weight, so every part of the graph carries weight.
  const content = buildItemContent(BOOKS, (i) => bookContentFeatures(library.books[i]!));
  model = trainRecommender(
    { userCount: MEMBERS, itemCount: BOOKS, interactions: library.interactions, content },
    { seed: 1, iterations: 6, popularityWeight: 0.5, neighbourhoodWeight: 0.1 },
  );
  recommender = await RecommenderSession.create(exportRecommenderOnnx(model));
  similar = await SimilarItemsSession.create(exportSimilarItemsOnnx(model));
});

describe('exported recommendations graph', () => {
  it('has the documented tensor names', async () => {
    const session = await InferenceSession.create(exportRecommenderOnnx(model));
    expect(session.inputNames).toEqual(['user_index', 'seen_items', 'k']);
    expect(session.outputNames).toEqual(['scores', 'items']);
    expect(SEEN_ITEMS_PAD).toBe(-1);
  });

  it("returns the trainer's own top-k lists: same items in the same order, scores within 1e-4", async () => {
    const queries = history.map((seenItems, userIndex) => ({ userIndex, seenItems }));
    const onnx = await recommender.recommend(queries, 10);
    let identical = 0;
    queries.forEach((q, row) => {
      const reference = recommendTopK(model, q.userIndex, q.seenItems, 10);
      expect(onnx[row]!.items).toHaveLength(10);
      onnx[row]!.scores.forEach((score, rank) => expect(Math.abs(score - reference.scores[rank]!)).toBeLessThanOrEqual(1e-4));
      if (JSON.stringify(onnx[row]!.items) === JSON.stringify(reference.items)) identical += 1;
    });
    expect(identical).toBe(MEMBERS);
    const parity = await checkRecommenderParity(model, recommender, queries, 10);
    expect(parity).toMatchObject({ checked: MEMBERS, agreeing: MEMBERS, agreed: true });
  });

  it('never recommends a seen item, even when asked for the whole catalogue', async () => {
    const queries = history.map((seenItems, userIndex) => ({ userIndex, seenItems }));
    const lists = await recommender.recommend(queries, BOOKS);
    lists.forEach((list, member) => {
      const seen = new Set(history[member]);
      expect(list.items.filter((item) => seen.has(item))).toEqual([]);
      expect(list.items).toHaveLength(BOOKS - seen.size);
    });
  });

  it('ignores padding and out-of-range seen values, and accepts an empty seen width', async () => {
    const member = 3;
    const best = (await recommender.recommend([{ userIndex: member, seenItems: [] }], 1))[0]!.items[0]!;
    const [padded] = await recommender.recommend([{ userIndex: member, seenItems: [best, SEEN_ITEMS_PAD, BOOKS + 7, -5] }], 5);
    expect(padded!.items).not.toContain(best);
    expect(rankedListsAgree(recommendTopK(model, member, [best], 5), padded!)).toBe(true);

    // A raw run with max_seen = 0.
    const session = await InferenceSession.create(exportRecommenderOnnx(model));
    const { inputs, outputs } = RECOMMENDER_TENSORS;
    const result = await session.run({
      [inputs.userIndex]: new Tensor('int64', BigInt64Array.of(BigInt(member)), [1]),
      [inputs.seenItems]: new Tensor('int64', new BigInt64Array(0), [1, 0]),
      [inputs.k]: new Tensor('int64', BigInt64Array.of(3n), [1]),
    });
    expect(Array.from(result[outputs.items]!.data as BigInt64Array, Number)).toEqual(recommendTopK(model, member, [], 3).items);
  });

  it('ranks an anonymous or unknown member by popularity', async () => {
    const [anonymous, unknown] = await recommender.recommend(
      [
        { userIndex: ANONYMOUS_USER_INDEX, seenItems: [] },
        { userIndex: MEMBERS + 100, seenItems: [] },
      ],
      10,
    );
    const expected = popularityTopK(model.itemPopularity, [], 10).items;
    expect(anonymous!.items).toEqual(expected);
    expect(unknown!.items).toEqual(expected);
  });

  it('clamps k to the catalogue', async () => {
    const [list] = await recommender.recommend([{ userIndex: ANONYMOUS_USER_INDEX, seenItems: [] }], BOOKS + 50);
    expect(list!.items).toHaveLength(BOOKS);
  });
});

describe('exported similar-books graph', () => {
  it("returns the trainer's similar items and never the book itself", async () => {
    const books = Array.from({ length: BOOKS }, (_, b) => b);
    const lists = await similar.similar(books, 5);
    lists.forEach((list, book) => {
      expect(list.items).not.toContain(book);
      expect(list.items).toEqual(similarItemsTopK(model, book, 5).items);
    });
    expect((await checkSimilarItemsParity(model, similar, books, 5)).agreed).toBe(true);
  });

  it('finds books of the same genre', async () => {
    const lists = await similar.similar(Array.from({ length: BOOKS }, (_, b) => b), 5);
    let sameGenre = 0;
    lists.forEach((list, book) => list.items.forEach((other) => (sameGenre += library.bookGenre[other] === library.bookGenre[book] ? 1 : 0)));
    // Chance would be about 1 in 6; rarely borrowed books keep it well below 1.
    expect(sameGenre / (BOOKS * 5)).toBeGreaterThan(0.45);
  });

  it('clamps k to the other books in the catalogue', async () => {
    const [list] = await similar.similar([0], BOOKS + 3);
    expect(list!.items).toHaveLength(BOOKS - 1);
  });
});
