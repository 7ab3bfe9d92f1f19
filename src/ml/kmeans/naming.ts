/**
 * Segment names from centroids, the same names for the same members across retrains.
 *
 * Contract: every name in `SEGMENT_RULES` scores a centroid given in standardised units by
 * feature role (recency positive = long since the last loan; a role the caller did not supply
 * counts as average, 0). `nameCentroids` gives each centroid a distinct name so that the total
 * score is highest (Hungarian assignment). Because the names depend only on where the centroids
 * sit, and not on the order a seeded run found them in, two retrains that find the same
 * clusters name them alike; the segment ids follow the order of the names here, so they agree
 * as well.
 */
import { maximiseAssignment } from './hungarian';
import { featureWeight, type FeatureRole, type SegmentFeature } from './standardise';

export type RoleValues = Readonly<Record<FeatureRole, number>>;

export interface SegmentRule {
  name: string;
  /** What the library does with this segment in mind; the start of every description. */
  summary: string;
  score(z: RoleValues): number;
}

const positive = (v: number): number => Math.max(v, 0);

/**
 * Weights are in standard deviations: a term of weight 1 moves a score by one per SD. The
 * generic segments (Occasional, Promising) reward being near average on the terms that define
 * the sharper ones, so they win only the clusters the others fit poorly.
 */
export const SEGMENT_RULES: readonly SegmentRule[] = [
  {
    name: 'Champions',
    summary: 'Borrowed recently, borrow often and widely: the most active members.',
    score: (z) => -z.recency + z.frequency + z.monetary + 0.5 * z.engagement,
  },
  {
    name: 'Loyal',
    summary: 'Long-standing members who keep borrowing steadily.',
    score: (z) => z.tenure + 0.5 * z.frequency + 0.5 * z.monetary - 0.5 * positive(z.recency),
  },
  {
    name: 'Promising',
    summary: 'Borrowing is growing from a modest base: members to encourage.',
    score: (z) => z.engagement - 0.5 * z.recency - 0.5 * positive(z.frequency) - 0.5 * Math.abs(z.tenure),
  },
  {
    name: 'New',
    summary: 'Joined recently; their borrowing habits are still forming.',
    score: (z) => -1.5 * z.tenure,
  },
  {
    name: 'At Risk',
    summary: 'Used to borrow regularly, but not lately and less each month: worth a reminder.',
    score: (z) => z.recency - z.engagement + 0.5 * z.frequency + 0.5 * z.monetary,
  },
  {
    name: 'Hibernating',
    summary: 'Have not borrowed for a long time and borrow rarely.',
    score: (z) => z.recency - z.frequency - z.monetary,
  },
  {
    name: 'Occasional',
    summary: 'Borrow now and then at a low, steady rate.',
    score: (z) => -0.75 * z.frequency - 0.5 * Math.abs(z.recency) - 0.5 * Math.abs(z.engagement),
  },
];

export const MAX_SEGMENTS = SEGMENT_RULES.length;

/**
 * A standardised centroid read by role, in standard deviations whatever the feature's weight,
 * so the rules read the same scale with or without weights (roles without a column count as 0).
 */
export function roleValues(features: readonly SegmentFeature[], centroid: ArrayLike<number>): RoleValues {
  const z: Record<FeatureRole, number> = { recency: 0, frequency: 0, monetary: 0, engagement: 0, tenure: 0 };
  features.forEach((f, j) => {
    if (f.role) z[f.role] = centroid[j]! / featureWeight(f);
  });
  return z;
}

export interface CentroidNaming {
  /** Index into SEGMENT_RULES for each centroid, all distinct. */
  ruleOfCentroid: number[];
  /** scores[c][r]: rule r's score for centroid c, kept for the training report. */
  scores: number[][];
}

export function nameCentroids(features: readonly SegmentFeature[], centroids: readonly ArrayLike<number>[]): CentroidNaming {
  if (centroids.length > MAX_SEGMENTS) {
    throw new Error(`segment naming: ${centroids.length} segments but only ${MAX_SEGMENTS} names (${SEGMENT_RULES.map((r) => r.name).join(', ')})`);
  }
  if (!features.some((f) => f.role)) {
    throw new Error('segment naming: no feature has a role (recency, frequency, monetary, engagement, tenure), so no name can be chosen');
  }
  const scores = centroids.map((c) => {
    const z = roleValues(features, c);
    return SEGMENT_RULES.map((rule) => rule.score(z));
  });
  return { ruleOfCentroid: maximiseAssignment(scores), scores };
}

/** "Typical member: ..." in original units, by role, after the rule's summary. */
export function describeSegment(rule: SegmentRule, features: readonly SegmentFeature[], centroidOriginal: readonly number[]): string {
  const parts = features.map((f, j) => {
    const v = centroidOriginal[j]!;
    switch (f.role) {
      case 'recency':
        return `last loan about ${formatValue(v)} days ago`;
      case 'frequency':
        return `${formatValue(v)} loans in the last 12 months`;
      case 'monetary':
        return `${f.name} ${formatValue(v)}`;
      case 'engagement':
        return `monthly loan trend ${v >= 0 ? '+' : ''}${formatValue(v)}`;
      case 'tenure':
        return `member for about ${formatValue(v)} days`;
      case undefined:
        return `${f.name} ${formatValue(v)}`;
      default: {
        const unhandled: never = f.role;
        throw new Error(`segment description: unknown role ${String(unhandled)}`);
      }
    }
  });
  return `${rule.summary} Typical member: ${parts.join(', ')}.`;
}

function formatValue(v: number): string {
  const abs = Math.abs(v);
  if (abs >= 10) return String(Math.round(v));
  if (abs >= 1) return v.toFixed(1);
  return v.toFixed(2);
}
