/**
 * The churn model, as its trainer and its subgraph both read it: the features it takes, the
 * serving settings a version carries and how they are parsed, the limits of its fields and the
 * memos its subgraph serves from.
 */
import { CHURN_FEATURE_NAMES, CHURN_WINDOW_DAYS } from '../../features/churn';
import { carryMemberActivity, memberActivityById } from '../../features/member-activity';
import type { MemoSources } from '../../model-runtime/as-of-memo';
import type { ServingMetadata, SlotSpec } from '../../model-runtime/model-slot';
import { parseRiskServing, type RiskServing } from '../../model-runtime/risk';
import type { ThresholdRules } from '../../evaluation/thresholds';

export const CHURN_MODEL = 'churn';

/** The columns of the graph's `features` input, in order. */
export { CHURN_FEATURE_NAMES };

/**
 * How the trainer chooses the served levels on validation members; the values it picks travel
 * in metadata.serving.riskThresholds. HIGH is what staff can act on: a call to 5% of the active
 * members in each 90-day window (about 250 members, 20 a week, on the default library). MEDIUM
 * is where a letter pays: a member lost costs the library four times a letter sent for nothing.
 */
export const CHURN_THRESHOLD_RULES: ThresholdRules = {
  medium: { kind: 'cost', falsePositiveCost: 1, falseNegativeCost: 4 },
  high: { kind: 'share', share: 0.05 },
};

/**
 * Who the model scores: members with a checkout in the CHURN_WINDOW_DAYS before the date. The
 * others have already lapsed; a version that says so in metadata.serving.lapsed reports them as
 * LAPSED instead of scoring them.
 */
export const ACTIVE_WITHIN_DAYS = CHURN_WINDOW_DAYS;

const LOANS_90D = CHURN_FEATURE_NAMES.indexOf('loans_90d');

/** A churn feature row (CHURN_FEATURE_NAMES order) of a member still active at its date. */
export function isActiveRow(values: Float32Array, row: number): boolean {
  return (values[row * CHURN_FEATURE_NAMES.length + LOANS_90D] ?? 0) > 0;
}

/** The largest `first` of churnWatchlist. */
export const MAX_CHURN_WATCHLIST = 500;

export interface ChurnServing extends RiskServing {
  /**
   * Set on versions trained on active members only: members not active at the date are
   * LAPSED, with `probability` the share of such members who made no checkout in the next
   * window at the training cut-offs. Absent on earlier versions, which score every member.
   */
  lapsed?: { probability: number };
}

/**
 * Reads metadata.serving of a churn version: a reference value per feature, the risk thresholds
 * and the lapsed rule. A version may take any of CHURN_FEATURE_NAMES (earlier versions take
 * the first 11): the subgraph and `npm run evaluate` compute them all and give each version its
 * own columns, so a version trained before the list grew can still be served, compared and
 * rolled back to.
 */
export function parseChurnServing(metadata: ServingMetadata): ChurnServing {
  const risk = parseRiskServing(metadata, CHURN_FEATURE_NAMES, { subset: true });
  const lapsed = (metadata.serving as { lapsed?: { probability?: unknown } } | undefined)?.lapsed;
  if (lapsed === undefined) return risk;
  const probability = lapsed.probability;
  if (typeof probability !== 'number' || !(probability >= 0 && probability <= 1)) {
    throw new Error(`${metadata.name} ${metadata.version}: metadata.serving.lapsed needs a probability in [0, 1], got ${JSON.stringify(probability)}`);
  }
  return { ...risk, lapsed: { probability } };
}

export const CHURN_SLOT: SlotSpec<ChurnServing> = { model: CHURN_MODEL, serving: parseChurnServing };

/** Member.churnRisk reads each member's loan activity (the churn feature row is computed from it). */
export const CHURN_MEMOS = { memberActivity: { compute: memberActivityById, carry: carryMemberActivity } } satisfies MemoSources;
