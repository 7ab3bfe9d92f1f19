import { beforeAll, describe, expect, it } from '@jest/globals';
import { Tensor } from 'onnxruntime-node';
import { openServingSession } from '../../onnx/session';
import { bookContentFeatures, buildItemContent } from '../content';
import { RecommenderSession, SimilarItemsSession } from '../inference';
import type { RecommenderModel } from '../model';
import { ANONYMOUS_USER_INDEX, exportRecommenderOnnx, exportSimilarItemsOnnx, flattenSeenItems, RECOMMENDER_TENSORS } from '../onnx-export';
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
    const session = await openServingSession(exportRecommenderOnnx(model));
    expect(session.inputNames).toEqual(['user_index', 'seen_items', 'seen_rows', 'k']);
    expect(session.outputNames).toEqual(['scores', 'items']);
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

  it('ignores out-of-range seen values and rows, and accepts no seen items at all', async () => {
    const member = 3;
    const best = (await recommender.recommend([{ userIndex: member, seenItems: [] }], 1))[0]!.items[0]!;
    const [withInvalid] = await recommender.recommend([{ userIndex: member, seenItems: [best, -1, BOOKS + 7, -5] }], 5);
    expect(withInvalid!.items).not.toContain(best);
    expect(rankedListsAgree(recommendTopK(model, member, [best], 5), withInvalid!)).toBe(true);

    const session = await openServingSession(exportRecommenderOnnx(model));
    const { inputs, outputs } = RECOMMENDER_TENSORS;
    const int64 = (values: number[]) => new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [values.length]);
    const topItems = async (seenItems: number[], seenRows: number[]) => {
      const result = await session.run({
        [inputs.userIndex]: int64([member]),
        [inputs.seenItems]: int64(seenItems),
        [inputs.seenRows]: int64(seenRows),
        [inputs.k]: int64([3]),
      });
      return Array.from(result[outputs.items]!.data as BigInt64Array, Number);
    };
    const unseen = recommendTopK(model, member, [], 3).items;
    expect(await topItems([], [])).toEqual(unseen);
    // Rows outside the batch of one: neither excluded nor counted as evidence.
    expect(await topItems([best, unseen[1]!], [1, -1])).toEqual(unseen);
    expect(await topItems([best], [0])).toEqual(recommendTopK(model, member, [best], 3).items);
  });

  it("answers each member alike whatever else is in the batch and in whatever order the flat history comes", async () => {
    const heavy = history.reduce((longest, h, u) => (h.length > history[longest]!.length ? u : longest), 0);
    const light = history.findIndex((h, u) => u !== heavy && h.length > 0);
    const queries = [light, heavy].map((userIndex) => ({ userIndex, seenItems: history[userIndex]! }));
    const together = await recommender.recommend(queries, 10);
    const [alone] = await recommender.recommend([queries[0]!], 10);
    expect(together[0]).toEqual(alone);

    const { seenItems, seenRows } = flattenSeenItems(queries.map((q) => q.seenItems));
    const order = seenItems.map((_, i) => i).reverse();
    const session = await openServingSession(exportRecommenderOnnx(model));
    const { inputs, outputs } = RECOMMENDER_TENSORS;
    const int64 = (values: number[]) => new Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), [values.length]);
    const reversed = await session.run({
      [inputs.userIndex]: int64(queries.map((q) => q.userIndex)),
      [inputs.seenItems]: int64(order.map((i) => seenItems[i]!)),
      [inputs.seenRows]: int64(order.map((i) => seenRows[i]!)),
      [inputs.k]: int64([10]),
    });
    expect(Array.from(reversed[outputs.items]!.data as BigInt64Array, Number)).toEqual([...together[0]!.items, ...together[1]!.items]);
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
