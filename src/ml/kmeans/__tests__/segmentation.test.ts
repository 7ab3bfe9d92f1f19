import { beforeAll, describe, expect, it } from '@jest/globals';
import { SegmentationModel, adjustedRandIndex, segmentProfiles, trainSegmentation } from '..';
import { MEMBER_FEATURES, type PlantedGroup, plantedMembers } from './plantedMembers';

/** Share of members that got the same segment name from two models. */
function nameAgreement(a: readonly string[], b: readonly string[]): number {
  return a.filter((name, i) => name === b[i]).length / a.length;
}

/** The name most members of a planted group received, and the share that received it. */
function majorityName(groups: readonly PlantedGroup[], names: readonly string[], group: PlantedGroup): { name: string; share: number } {
  const counts = new Map<string, number>();
  groups.forEach((g, i) => {
    if (g === group) counts.set(names[i]!, (counts.get(names[i]!) ?? 0) + 1);
  });
  const [name, count] = [...counts].sort((x, y) => y[1] - x[1])[0]!;
  return { name, share: count / groups.filter((g) => g === group).length };
}

describe('trainSegmentation on five planted member groups', () => {
  const { rows, groups } = plantedMembers(400, 1);
  let first: SegmentationModel;
  let second: SegmentationModel;

  beforeAll(() => {
    first = trainSegmentation(rows, { features: MEMBER_FEATURES, seed: 1, k: 5 });
    second = trainSegmentation(rows, { features: MEMBER_FEATURES, seed: 2024, k: 5 });
  });

  it('recovers the planted groups', () => {
    expect(adjustedRandIndex(groups, first.assign(rows))).toBeGreaterThan(0.95);
  });

  it('agrees with a retrain under another seed, in clusters and in names', () => {
    expect(adjustedRandIndex(first.assign(rows), second.assign(rows))).toBeGreaterThanOrEqual(0.9);
    expect(nameAgreement(first.assignNames(rows), second.assignNames(rows))).toBeGreaterThanOrEqual(0.95);
    // Ids follow the names' order, so they agree across seeds too.
    expect(second.segments.map((s) => s.name)).toEqual(first.segments.map((s) => s.name));
  });

  it('names the groups as the library would', () => {
    const names = first.assignNames(rows);
    const expected: Record<PlantedGroup, string> = {
      'recent+frequent': 'Champions',
      'long-tenure': 'Loyal',
      'just-joined': 'New',
      fading: 'At Risk',
      'long-gone': 'Hibernating',
    };
    for (const [group, name] of Object.entries(expected) as [PlantedGroup, string][]) {
      const majority = majorityName(groups, names, group);
      expect({ group, name: majority.name }).toEqual({ group, name });
      expect(majority.share).toBeGreaterThan(0.95);
    }
  });

  it('gives the same model for the same seed', () => {
    const again = trainSegmentation(rows, { features: MEMBER_FEATURES, seed: 1, k: 5 });
    expect(again.toJSON()).toEqual(first.toJSON());
  });

  it('round-trips through JSON', () => {
    const restored = SegmentationModel.fromJSON(JSON.parse(JSON.stringify(first.toJSON())));
    expect(restored.assign(rows)).toEqual(first.assign(rows));
    expect(restored.segments.map((s) => s.description)).toEqual(first.segments.map((s) => s.description));
  });

  it('describes each segment in original units', () => {
    const champions = first.segments.find((s) => s.name === 'Champions')!;
    expect(champions.description).toMatch(/^Borrowed recently, borrow often and widely: the most active members\. Typical member: last loan about \d/);
    expect(champions.description).toMatch(/loans in the last 12 months/);
    expect(first.training.nameScores[champions.id]!['Champions']).toBeGreaterThan(first.training.nameScores[champions.id]!['Hibernating']!);
  });

  it('summarises each segment for the graph and the model card', () => {
    const profiles = segmentProfiles(first, rows);
    expect(profiles.map((p) => p.name)).toEqual(first.segments.map((s) => s.name));
    expect(profiles.reduce((s, p) => s + p.size, 0)).toBe(rows.length);
    expect(profiles.reduce((s, p) => s + p.share, 0)).toBeCloseTo(1, 12);
    const hibernating = profiles.find((p) => p.name === 'Hibernating')!;
    // Planted long-gone members: last loan ~500 days ago, well under one loan a year.
    expect(hibernating.centroid['daysSinceLastLoan']).toBeGreaterThan(300);
    expect(hibernating.memberMeans!['loansLast12Months']).toBeLessThan(1);
    const champions = profiles.find((p) => p.name === 'Champions')!;
    expect(champions.centroid['loansLast12Months']).toBeGreaterThan(30);
    expect(champions.share).toBeCloseTo(0.2, 2);
  });

  it('reports an empty segment with size 0 rather than dropping it', () => {
    const hibernatingOnly = rows.filter((_, i) => groups[i] === 'long-gone');
    const profiles = segmentProfiles(first, hibernatingOnly);
    expect(profiles).toHaveLength(5);
    const champions = profiles.find((p) => p.name === 'Champions')!;
    expect(champions).toMatchObject({ size: 0, share: 0, memberMeans: null });
  });
});

describe('trainSegmentation with the default six segments', () => {
  it('still names members alike across seeds when one planted group must split', () => {
    const { rows } = plantedMembers(300, 8);
    const a = trainSegmentation(rows, { features: MEMBER_FEATURES, seed: 3 });
    const b = trainSegmentation(rows, { features: MEMBER_FEATURES, seed: 77 });
    expect(a.k).toBe(6);
    expect(adjustedRandIndex(a.assign(rows), b.assign(rows))).toBeGreaterThanOrEqual(0.9);
    expect(nameAgreement(a.assignNames(rows), b.assignNames(rows))).toBeGreaterThanOrEqual(0.95);
  });
});

describe('trainSegmentation input checks', () => {
  const { rows } = plantedMembers(20, 5);

  it('names the bad row and column', () => {
    const withNaN = rows.map((r) => [...r]);
    withNaN[7]![1] = Number.NaN;
    expect(() => trainSegmentation(withNaN, { features: MEMBER_FEATURES, seed: 1, k: 5 })).toThrow(
      "segmentation features: row 7, column 'loansLast12Months' is NaN; expected a finite number",
    );
    const narrow = rows.map((r) => r.slice(0, 4));
    expect(() => trainSegmentation(narrow, { features: MEMBER_FEATURES, seed: 1, k: 5 })).toThrow(
      'segmentation features: row 0 has 4 values, expected 5 (daysSinceLastLoan, loansLast12Months, distinctTitles, monthlyLoanTrend, daysSinceJoining)',
    );
  });

  it('checks rows at assignment time too', () => {
    const model = trainSegmentation(rows, { features: MEMBER_FEATURES, seed: 1, k: 5 });
    expect(() => model.assign([[1, 2, 3, 4]])).toThrow('segmentation features: row 0 has 4 values, expected 5');
    expect(() => model.assign([[1, 2, 3, Number.POSITIVE_INFINITY, 5]])).toThrow(
      "segmentation features: row 0, column 'monthlyLoanTrend' is Infinity; expected a finite number",
    );
  });

  it('refuses more segments than there are names', () => {
    expect(() => trainSegmentation(rows, { features: MEMBER_FEATURES, seed: 1, k: 8 })).toThrow(
      'segmentation: k must be an integer from 1 to 7 (one per segment name), got 8',
    );
  });

  it('refuses features that give naming nothing to read', () => {
    const anonymous = MEMBER_FEATURES.map(({ name, log1p }) => ({ name, log1p }));
    expect(() => trainSegmentation(rows, { features: anonymous, seed: 1, k: 5 })).toThrow(
      'segment naming: no feature has a role (recency, frequency, monetary, engagement, tenure), so no name can be chosen',
    );
  });
});
