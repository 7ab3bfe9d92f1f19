/**
 * The churn model, as its trainer and its subgraph both read it: the features it takes, the
 * serving settings a version carries and how they are parsed, the limits of its fields and the
 * memos its subgraph serves from.
 */
import { CHURN_FEATURE_NAMES } from '../../features/churn';
import { memberActivityById } from '../../features/member-activity';
import type { MemoSources } from '../../model-runtime/as-of-memo';
import type { ServingMetadata, SlotSpec } from '../../model-runtime/model-slot';
import { parseRiskServing, type RiskServing, type RiskThresholds } from '../../model-runtime/risk';

export const CHURN_MODEL = 'churn';

/** The columns of the graph's `features` input, in order. */
export { CHURN_FEATURE_NAMES };

/** Where the trainer sets the risk levels; a version carries them in metadata.serving. */
export const CHURN_RISK_THRESHOLDS: RiskThresholds = { medium: 0.3, high: 0.6 };

/** The largest `first` of churnWatchlist. */
export const MAX_CHURN_WATCHLIST = 500;

export type ChurnServing = RiskServing;

/** Reads metadata.serving of a churn version: a reference value per feature and the risk thresholds. */
export const parseChurnServing = (metadata: ServingMetadata): ChurnServing => parseRiskServing(metadata, CHURN_FEATURE_NAMES);

export const CHURN_SLOT: SlotSpec<ChurnServing> = { model: CHURN_MODEL, serving: parseChurnServing };

/** Member.churnRisk reads each member's loan activity (the churn feature row is computed from it). */
export const CHURN_MEMOS = { memberActivity: memberActivityById } satisfies MemoSources;
