/**
 * Synthetic members in five planted behaviour groups, in raw feature units, for the
 * segmentation tests. Each group has a known intended segment name so tests can check that
 * clustering recovers the groups and that naming reads them the way the library would.
 */
import { Random } from '../../../util/random';
import type { SegmentFeature } from '../standardise';

export const MEMBER_FEATURES: SegmentFeature[] = [
  { name: 'daysSinceLastLoan', role: 'recency', log1p: true },
  { name: 'loansLast12Months', role: 'frequency', log1p: true },
  { name: 'distinctTitles', role: 'monetary', log1p: true },
  { name: 'monthlyLoanTrend', role: 'engagement' },
  { name: 'daysSinceJoining', role: 'tenure' },
];

export type PlantedGroup = 'recent+frequent' | 'long-tenure' | 'just-joined' | 'fading' | 'long-gone';

interface GroupShape {
  group: PlantedGroup;
  /** Median days since last loan (drawn log-normally). */
  recency: number;
  loans: number;
  trend: [mean: number, sd: number];
  tenure: [min: number, max: number];
}

const GROUPS: GroupShape[] = [
  { group: 'recent+frequent', recency: 5, loans: 45, trend: [0.4, 0.25], tenure: [300, 1500] },
  { group: 'long-tenure', recency: 20, loans: 18, trend: [0, 0.2], tenure: [2500, 4000] },
  { group: 'just-joined', recency: 8, loans: 4, trend: [0.6, 0.3], tenure: [10, 120] },
  { group: 'fading', recency: 75, loans: 14, trend: [-1.2, 0.3], tenure: [800, 2500] },
  { group: 'long-gone', recency: 500, loans: 0.3, trend: [0, 0.1], tenure: [1000, 4000] },
];

export interface PlantedMembers {
  rows: number[][];
  groups: PlantedGroup[];
}

export function plantedMembers(perGroup: number, seed: number): PlantedMembers {
  const rng = new Random(seed);
  const rows: number[][] = [];
  const groups: PlantedGroup[] = [];
  for (let i = 0; i < perGroup; i++) {
    for (const g of GROUPS) {
      const recency = Math.round(g.recency * Math.exp(rng.normal(0, 0.4)));
      const loans = rng.poisson(g.loans);
      const titles = Math.round(loans * (0.6 + 0.35 * rng.next()));
      const trend = rng.normal(g.trend[0], g.trend[1]);
      const tenure = Math.round(g.tenure[0] + (g.tenure[1] - g.tenure[0]) * rng.next());
      rows.push([recency, loans, titles, trend, tenure]);
      groups.push(g.group);
    }
  }
  return { rows, groups };
}
