import { describe, expect, it } from '@jest/globals';
import { meanRankingMetrics } from '../../ranking-metrics';
import { bookContentFeatures, buildItemContent } from '../content';
import type { RecommenderModel } from '../model';
import { popularityTopK, recommendTopK, scoreAllItems } from '../scoring';
import { plantedTasteLibrary } from '../synthetic';
import { trainRecommender } from '../trainer';
import { holdOutPerMember } from './held-out';

const MEMBERS = 600;
const BOOKS = 400;
const library = plantedTasteLibrary({ members: MEMBERS, books: BOOKS, genres: 8, loansPerMember: 20, noise: 0.15, seed: 7 });
const split = holdOutPerMember(library.interactions, 11);

function ndcgAt10(rank: (member: number, history: number[]) => number[]): number {
  return meanRankingMetrics(
    [...split.heldOut].map(([member, relevant]) => ({ ranked: rank(member, split.historyOf(member)), relevant })),
    10,
  ).ndcg;
}

const popularity = new Float64Array(BOOKS);
for (const { itemIndex } of split.training) popularity[itemIndex]! += 1;
const popularityNdcg = ndcgAt10((_, history) => popularityTopK(popularity, history, 10).items);

describe('trainRecommender on borrowing with planted genre taste', () => {
  it('recovers taste: factors alone beat popularity by a clear margin, and the full hybrid too', () => {
    const data = { userCount: MEMBERS, itemCount: BOOKS, interactions: split.training };
    const factorsOnly = trainRecommender(data, { neighbours: 0, seed: 3 });
    const hybrid = trainRecommender(data, { seed: 3 });
    const factorsNdcg = ndcgAt10((member, history) => recommendTopK(factorsOnly, member, history, 10).items);
    const hybridNdcg = ndcgAt10((member, history) => recommendTopK(hybrid, member, history, 10).items);
    expect(popularityNdcg).toBeGreaterThan(0);
    expect(factorsNdcg).toBeGreaterThan(2 * popularityNdcg);
    expect(hybridNdcg).toBeGreaterThan(2 * popularityNdcg);
    expect(hybrid.report.validation?.trials.length).toBeGreaterThan(1);
  });

  it('is deterministic for a seed and depends on it', () => {
    const small = plantedTasteLibrary({ members: 200, books: 150, genres: 5, loansPerMember: 12, noise: 0.2, seed: 9 });
    const data = { userCount: 200, itemCount: 150, interactions: small.interactions };
    const fingerprint = (m: RecommenderModel) => ({
      users: Array.from(m.userEmbeddings),
      items: Array.from(m.itemEmbeddings),
      bias: Array.from(m.itemBias),
      neighbours: Array.from(m.neighbourWeights),
      weights: [m.popularityWeight, m.neighbourhoodWeight],
    });
    const first = fingerprint(trainRecommender(data, { seed: 5, iterations: 4 }));
    const again = fingerprint(trainRecommender(data, { seed: 5, iterations: 4 }));
    const other = fingerprint(trainRecommender(data, { seed: 6, iterations: 4 }));
    expect(again).toEqual(first);
    expect(other.users).not.toEqual(first.users);
  });

  it('trains the same model from interaction columns as from the list of interactions', () => {
    const small = plantedTasteLibrary({ members: 200, books: 150, genres: 5, loansPerMember: 12, noise: 0.2, seed: 9 });
    // Repeated (member, book) pairs too, which both forms sum into one.
    const list = [...small.interactions, ...small.interactions.filter((_, i) => i % 5 === 0).map((x) => ({ ...x, weight: 2 }))];
    const columns = {
      userIndex: Int32Array.from(list, (x) => x.userIndex),
      itemIndex: Int32Array.from(list, (x) => x.itemIndex),
      weight: Float64Array.from(list, (x) => x.weight),
    };
    const fingerprint = (m: RecommenderModel) => ({
      users: Array.from(m.userEmbeddings),
      items: Array.from(m.itemEmbeddings),
      neighbours: Array.from(m.neighbourWeights),
      weights: [m.popularityWeight, m.neighbourhoodWeight],
      interactions: m.report.interactions,
    });
    const fromList = fingerprint(trainRecommender({ userCount: 200, itemCount: 150, interactions: list }, { seed: 5, iterations: 3 }));
    expect(fromList.interactions).toBeLessThan(list.length);
    expect(fingerprint(trainRecommender({ userCount: 200, itemCount: 150, interactions: columns }, { seed: 5, iterations: 3 }))).toEqual(fromList);
    const bad = { userIndex: Int32Array.of(0, 1), itemIndex: Int32Array.of(0, 5), weight: Float64Array.of(1, 1) };
    expect(() => trainRecommender({ userCount: 2, itemCount: 2, interactions: bad })).toThrow('interaction 1: itemIndex 5 is outside 0..1');
  });

  it('recommends books nobody has borrowed yet through their content', () => {
    // Every loan of the last 40 books is removed: they are new to the library.
    const coldFrom = BOOKS - 40;
    const training = split.training.filter((i) => i.itemIndex < coldFrom);
    const content = buildItemContent(BOOKS, (i) => bookContentFeatures(library.books[i]!));
    const data = { userCount: MEMBERS, itemCount: BOOKS, interactions: training };
    const withoutContent = trainRecommender(data, { seed: 3 });
    const hybrid = trainRecommender({ ...data, content }, { seed: 3 });
    expect(hybrid.report.coldItems).toBeGreaterThanOrEqual(40);

    // Rank only the new books for each member, against the member's actual loans of them.
    const coldRanking = (model: RecommenderModel): number => {
      const cases = [];
      for (let member = 0; member < MEMBERS; member++) {
        const relevant = new Set(library.interactions.filter((i) => i.userIndex === member && i.itemIndex >= coldFrom).map((i) => i.itemIndex));
        const scores = scoreAllItems(model, member, split.historyOf(member));
        const books = Array.from({ length: BOOKS - coldFrom }, (_, c) => coldFrom + c);
        books.sort((a, b) => scores[b]! - scores[a]! || a - b);
        cases.push({ ranked: books, relevant });
      }
      return meanRankingMetrics(cases, 10).ndcg;
    };
    const contentNdcg = coldRanking(hybrid);
    const blindNdcg = coldRanking(withoutContent);
    expect(contentNdcg).toBeGreaterThan(1.5 * blindNdcg);
    expect(contentNdcg).toBeGreaterThan(0.3);

    // Without content a new book has no factors: nothing but (zero) popularity to go on.
    const { factors, embeddingSize } = withoutContent;
    for (let book = coldFrom; book < BOOKS; book++) {
      for (let d = 0; d < factors; d++) expect(withoutContent.itemEmbeddings[book * embeddingSize + d]).toBe(0);
    }
  });

  it('ranks a member without any interaction by popularity', () => {
    const data = { userCount: MEMBERS + 1, itemCount: BOOKS, interactions: split.training };
    const model = trainRecommender(data, { seed: 3, iterations: 3 });
    expect(model.report.membersWithoutHistory).toBe(1);
    expect(recommendTopK(model, MEMBERS, [], 10).items).toEqual(popularityTopK(model.itemPopularity, [], 10).items);
    expect(recommendTopK(model, -1, [], 10).items).toEqual(popularityTopK(model.itemPopularity, [], 10).items);
  });

  it('refuses interactions outside the declared ranges, naming the offending one', () => {
    const base = { userCount: 2, itemCount: 2 };
    expect(() => trainRecommender({ ...base, interactions: [{ userIndex: 2, itemIndex: 0, weight: 1 }] })).toThrow(
      'interaction 0: userIndex 2 is outside 0..1',
    );
    expect(() => trainRecommender({ ...base, interactions: [{ userIndex: 0, itemIndex: 0, weight: 0 }] })).toThrow(
      'interaction 0: weight must be a positive number, got 0',
    );
    expect(() => trainRecommender({ ...base, interactions: [] }, { factors: 0 })).toThrow('factors must be an integer >= 1, got 0');
  });
});
