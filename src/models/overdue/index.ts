/**
 * The overdue model, as its trainer and its subgraph both read it: the features it takes, the
 * serving settings a version carries and how they are parsed, the limits of its fields and the
 * memos its subgraph serves from. Everything either side must agree on lives here.
 */
import { memberOpenLoanFeatures, OVERDUE_FEATURE_NAMES } from '../../features/overdue';
import type { MemoSources } from '../../model-runtime/as-of-memo';
import type { ServingMetadata, SlotSpec } from '../../model-runtime/model-slot';
import { parseRiskServing, type RiskServing, type RiskThresholds } from '../../model-runtime/risk';

export const OVERDUE_MODEL = 'overdue';

/** The columns of the graph's `features` input, in order. */
export { OVERDUE_FEATURE_NAMES };

/** Where the trainer sets the risk levels; a version carries them in metadata.serving. */
export const OVERDUE_RISK_THRESHOLDS: RiskThresholds = { medium: 0.15, high: 0.35 };

/** The largest `first` of overdueWatchlist. */
export const MAX_OVERDUE_WATCHLIST = 500;

export type OverdueServing = RiskServing;

/** Reads metadata.serving of an overdue version: a reference value per feature and the risk thresholds. */
export const parseOverdueServing = (metadata: ServingMetadata): OverdueServing => parseRiskServing(metadata, OVERDUE_FEATURE_NAMES);

export const OVERDUE_SLOT: SlotSpec<OverdueServing> = { model: OVERDUE_MODEL, serving: parseOverdueServing };

/** Member.overdueRisk reads each member's open loans with their feature rows. */
export const OVERDUE_MEMOS = { openLoans: memberOpenLoanFeatures } satisfies MemoSources;
