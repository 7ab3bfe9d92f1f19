/**
 * The overdue model, as its trainer and its subgraph both read it: the features it takes, the
 * serving settings a version carries and how they are parsed, the limits of its fields and the
 * memos its subgraph serves from. Everything either side must agree on lives here.
 */
import { carryOpenLoans, memberOpenLoanFeatures, OVERDUE_FEATURE_NAMES } from '../../features/overdue';
import type { MemoSources } from '../../model-runtime/as-of-memo';
import type { ServingMetadata, SlotSpec } from '../../model-runtime/model-slot';
import { parseRiskServing, type RiskServing } from '../../model-runtime/risk';
import type { ThresholdRules } from '../../evaluation/thresholds';

export const OVERDUE_MODEL = 'overdue';

/** The columns of the graph's `features` input, in order. */
export { OVERDUE_FEATURE_NAMES };

/**
 * How the trainer chooses the served levels on validation loans; the values it picks travel in
 * metadata.serving.riskThresholds. HIGH is what staff can follow up: a phone call for 5% of the
 * loans checked out each week (about 160 loans a week on the default library). MEDIUM is where a
 * reminder pays: a loan returned late costs the library four times a reminder sent for nothing.
 */
export const OVERDUE_THRESHOLD_RULES: ThresholdRules = {
  medium: { kind: 'cost', falsePositiveCost: 1, falseNegativeCost: 4 },
  high: { kind: 'share', share: 0.05 },
};

/** The largest `first` of overdueWatchlist. */
export const MAX_OVERDUE_WATCHLIST = 500;

export type OverdueServing = RiskServing;

/** Reads metadata.serving of an overdue version: a reference value per feature and the risk thresholds. */
export const parseOverdueServing = (metadata: ServingMetadata): OverdueServing => parseRiskServing(metadata, OVERDUE_FEATURE_NAMES);

export const OVERDUE_SLOT: SlotSpec<OverdueServing> = { model: OVERDUE_MODEL, serving: parseOverdueServing };

/** Member.overdueRisk reads each member's open loans with their feature rows. */
export const OVERDUE_MEMOS = { openLoans: { compute: memberOpenLoanFeatures, carry: carryOpenLoans } } satisfies MemoSources;
