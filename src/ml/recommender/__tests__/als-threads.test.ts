import { describe, expect, it } from '@jest/globals';
import { bookContentFeatures, buildItemContent } from '../content';
import { balancedRanges } from '../als-threads';
import type { RecommenderModel } from '../model';
import { plantedTasteLibrary } from '../synthetic';
import { trainRecommender } from '../trainer';

const fingerprint = (m: RecommenderModel) => ({
  users: Buffer.from(m.userEmbeddings.buffer, m.userEmbeddings.byteOffset, m.userEmbeddings.byteLength).toString('base64'),
  items: Buffer.from(m.itemEmbeddings.buffer, m.itemEmbeddings.byteOffset, m.itemEmbeddings.byteLength).toString('base64'),
  bias: Array.from(m.itemBias),
  weights: [m.popularityWeight, m.neighbourhoodWeight],
});

describe('ALS half-steps on worker threads', () => {
  it('fits the same model, bit for bit, on 1, 2 and 3 threads (content prior and blend tuning included)', () => {
    const library = plantedTasteLibrary({ members: 300, books: 160, genres: 6, loansPerMember: 14, noise: 0.2, seed: 4 });
    const content = buildItemContent(160, (i) => bookContentFeatures({ authors: [`author ${i % 37}`], genre: `genre ${i % 6}`, publicationYear: 1950 + (i % 70), popularity: null }));
    // Members beyond the library's with no loans, and books nobody borrowed, as in a real library.
    const data = { userCount: 320, itemCount: 160, interactions: library.interactions.filter((x) => x.itemIndex % 23 !== 0), content };
    const one = fingerprint(trainRecommender(data, { seed: 5, iterations: 3 }));
    expect(fingerprint(trainRecommender(data, { seed: 5, iterations: 3 }, { threads: 2 }))).toEqual(one);
    expect(fingerprint(trainRecommender(data, { seed: 5, iterations: 3 }, { threads: 3 }))).toEqual(one);
  });

  it('splits rows into contiguous ranges of about equal cost', () => {
    // Ten rows: one heavy (90 interactions), nine with one each.
    const rowStart = Int32Array.from([0, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    const bounds = balancedRanges(rowStart, 10, 2, 2);
    expect(bounds).toEqual([0, 1, 10]);
    expect(balancedRanges(rowStart, 10, 2, 1)).toEqual([0, 10]);
  });

  it('refuses a thread count below one', () => {
    expect(() => trainRecommender({ userCount: 2, itemCount: 2, interactions: [{ userIndex: 0, itemIndex: 1, weight: 1 }] }, {}, { threads: 0 })).toThrow('threads must be an integer >= 1, got 0');
  });
});
