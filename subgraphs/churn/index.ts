/** The churn subgraph (:4003). One feature extraction and one inference run per request batch. */
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../../src/config';
import { churnFeatureBatch } from '../../src/features/churn';
import { RiskLevel, type RiskPrediction } from '../../src/graphql/prediction-types';
import { buildFederatedSchema } from '../../src/graphql/subgraph-schema';
import type { Identity } from '../../src/identity';
import { entityLoader, openScoring, startModelSubgraph, warmMemos, type ModelScoring, type ModelSubgraphDeps, type SubgraphServices } from '../../src/model-runtime/model-subgraph';
import { recorded, riskPrediction } from '../../src/model-runtime/prediction-logging';
import { rankedWatchlist, TopRanked } from '../../src/model-runtime/watchlist';
import { scoreRisks } from '../../src/model-runtime/risk';
import { pickRows } from '../../src/evaluation/classifier-holdout';
import { CHURN_FEATURE_NAMES, CHURN_MEMOS, CHURN_MODEL, CHURN_SLOT, isActiveRow, MAX_CHURN_WATCHLIST, type ChurnServing } from '../../src/models/churn';
import { parseId } from '../../src/util/ids';
import type { ChurnContext } from './context';
import { ChurnResolver, ChurnWatchlistResolver, Member, type ChurnWatchEntry } from './schema';

export type { ChurnContext } from './context';

export function buildChurnSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [ChurnResolver, ChurnWatchlistResolver], orphanedTypes: [Member] },
    { Member: { __resolveReference: (ref) => Object.assign(new Member(), { id: ref.id }) } },
  );
}

/** What scoring churn risks reads: the store, the model's slot and the memos it serves from. */
export type ChurnScoring = ModelScoring<ChurnServing, typeof CHURN_MEMOS>;

/** The churn subgraph's per-process state. */
export interface ChurnServices extends ChurnScoring, SubgraphServices {
  watchlist: ChurnWatchlist;
}

interface ChurnWatchlist {
  top: (first: number, minProbability: number) => Promise<ChurnWatchEntry[]>;
  warm: () => Promise<void>;
  stop: () => void;
}

/**
 * The rows a version scores: all of them, or, for a version with a lapsed rule, the members
 * active at the date (the others answer LAPSED).
 */
function scoredRows(values: Float32Array, n: number, serving: ChurnServing): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  return serving.lapsed ? all.filter((i) => isActiveRow(values, i)) : all;
}

/** Scores a batch of feature rows: each row's risk, or LAPSED for a member the version does not score. */
async function scoreChurnRows(slot: ChurnScoring['slot'], values: Float32Array, n: number, explain: boolean) {
  // A swap landing between this read and the run scores these rows with the newer version; the next batch follows its rule.
  const serving = slot.current().serving;
  const rows = scoredRows(values, n, serving);
  const scored = await scoreRisks(slot, { values: pickRows(values, CHURN_FEATURE_NAMES.length, rows), n: rows.length, names: CHURN_FEATURE_NAMES }, { explain });
  const lapsed = { probability: serving.lapsed?.probability ?? 1, level: RiskLevel.LAPSED, factors: [] };
  const risks = new Array<(typeof scored.risks)[number]>(n).fill(lapsed);
  rows.forEach((row, k) => {
    const risk = scored.risks[k];
    if (risk) risks[row] = risk;
  });
  return { risks, model: scored.model };
}

/** Churn risk of a batch of member ids, in key order; null for ids that are not members. */
export async function predictChurn({ deps, slot, memos }: ChurnScoring, keys: readonly string[]): Promise<(RiskPrediction | null)[]> {
  const ids = keys.map(parseId);
  const known = ids.filter((id): id is number => id !== undefined);
  deps.metrics.featureQueries.inc({ model: CHURN_MODEL });
  const features = churnFeatureBatch(await memos.memberActivity.load(known));
  const { risks, model } = await scoreChurnRows(slot, features.values, features.memberIds.length, true);
  let k = 0;
  return ids.map((id) => {
    if (id === undefined) return null;
    const risk = risks[features.rowOf[k++] ?? -1];
    return risk ? { ...risk, model } : null;
  });
}

/** Members most likely to churn, ranked in the background, explained at answer time through the same batched path. */
function createWatchlist(scoring: ChurnScoring): ChurnWatchlist {
  const { deps, slot, memos } = scoring;
  const top = rankedWatchlist('churnWatchlist', MAX_CHURN_WATCHLIST, slot, deps, async () => {
    const ids = (await deps.store.db.selectFrom('members').select('id').orderBy('id').execute()).map((r) => r.id);
    // A paced slice at a time, straight from the feature function where the member cache does not
    // hold a member (nothing is added to it): the run holds one slice and the top entries, and
    // requests keep being answered meanwhile.
    const ranked = new TopRanked<number>(MAX_CHURN_WATCHLIST);
    await memos.memberActivity.scan(ids, async (values) => {
      const features = churnFeatureBatch(values);
      if (features.memberIds.length === 0) return;
      const { risks, model } = await scoreChurnRows(slot, features.values, features.memberIds.length, false);
      // Lapsed members have already gone: the watchlist is of members staff can still keep.
      ranked.add(
        model.version,
        features.memberIds.flatMap((id, i) => {
          const risk = risks[i];
          return risk && risk.level !== RiskLevel.LAPSED ? [{ key: id, probability: risk.probability }] : [];
        }),
      );
    });
    return ranked.result(() => slot.current().version);
  });
  return {
    warm: top.warm,
    stop: top.stop,
    top: async (first, minProbability) => {
      const { entries, computedAt, ageSeconds } = await top.top(first, minProbability);
      const explained = await predictChurn(scoring, entries.map((e) => String(e.key)));
      return entries.flatMap((e, i) => {
        const risk = explained[i];
        return risk ? [{ member: Object.assign(new Member(), { id: String(e.key) }), risk, computedAt: new Date(computedAt), ageSeconds }] : [];
      });
    },
  };
}

/** The churn subgraph's memos and watchlist, once per process. */
export function createChurnServices(deps: ModelSubgraphDeps): ChurnServices {
  const scoring = openScoring(deps, CHURN_SLOT, CHURN_MEMOS);
  const watchlist = createWatchlist(scoring);
  const warm = async (): Promise<void> => {
    await Promise.all([watchlist.warm(), warmMemos(deps, scoring.memos)]);
  };
  return { ...scoring, watchlist, warm, stop: watchlist.stop };
}

export function createChurnContext(identity: Identity, services: ChurnServices, requestId: string): ChurnContext {
  const log = services.deps.predictionLog;
  return {
    identity,
    churnRisk: entityLoader(async (keys) => recorded(log, requestId, await predictChurn(services, keys), (risk, i) => riskPrediction('member', keys[i] ?? '', risk))),
    watchlist: async (first, minProbability) =>
      recorded(log, requestId, await services.watchlist.top(first, minProbability), (entry) => riskPrediction('member', entry.member.id, entry.risk)),
  };
}

export async function startChurnSubgraph(config: Config, port?: number) {
  return startModelSubgraph(
    config,
    { name: 'churn', schema: await buildChurnSchema(), slots: [CHURN_SLOT], services: createChurnServices, createContext: createChurnContext },
    port,
  );
}
