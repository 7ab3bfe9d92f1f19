/** The churn subgraph (:4003). One feature extraction and one inference run per request batch. */
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../../src/config';
import { churnFeatureBatch, churnFeatures, CHURN_FEATURE_NAMES } from '../../src/features/churn';
import type { RiskPrediction } from '../../src/graphql/prediction-types';
import { buildFederatedSchema } from '../../src/graphql/subgraph-schema';
import type { Identity } from '../../src/identity';
import { parseId } from '../../src/util/ids';
import { entityLoader, startModelSubgraph, type ModelSubgraphDeps } from '../../src/model-runtime/model-subgraph';
import { rankedWatchlist } from '../../src/model-runtime/watchlist';
import { checkFeatureNames, riskServing, scoreRisks } from '../../src/model-runtime/risk';
import type { ChurnContext } from './context';
import { ChurnResolver, ChurnWatchlistResolver, MAX_WATCHLIST, Member, type ChurnWatchEntry } from './schema';

export type { ChurnContext } from './context';

export function buildChurnSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [ChurnResolver, ChurnWatchlistResolver], orphanedTypes: [Member] },
    { Member: { __resolveReference: (ref) => Object.assign(new Member(), { id: ref.id }) } },
  );
}

/** Churn risk of a batch of member ids, in key order; null for ids that are not members. */
export async function predictChurn(deps: ModelSubgraphDeps, keys: readonly string[]): Promise<(RiskPrediction | null)[]> {
  const ids = keys.map(parseId);
  const known = ids.filter((id): id is number => id !== undefined);
  deps.metrics.featureQueries.inc({ model: 'churn' });
  const features = deps.memos ? churnFeatureBatch(await deps.memos.memberActivity.load(known)) : await churnFeatures(deps.store, known, deps.asOf);
  const { risks, model } = await scoreRisks(deps.slots.churn!, {
    values: features.values,
    n: features.memberIds.length,
    names: CHURN_FEATURE_NAMES,
  });
  let k = 0;
  return ids.map((id) => {
    if (id === undefined) return null;
    const row = features.rowOf[k++]!;
    return row < 0 ? null : { ...risks[row]!, model };
  });
}

/** Members most likely to churn, explained through the same batched path. */
export function createWatchlist(deps: ModelSubgraphDeps) {
  const slot = deps.slots.churn!;
  const top = rankedWatchlist('churnWatchlist', MAX_WATCHLIST, slot, async () => {
    const ids = (await deps.store.db.selectFrom('members').select('id').execute()).map((r) => r.id);
    const features = await churnFeatures(deps.store, ids, deps.asOf);
    const { risks, model } = await scoreRisks(slot, { values: features.values, n: features.memberIds.length, names: CHURN_FEATURE_NAMES }, { explain: false });
    return { version: model.version, ranked: features.memberIds.map((id, i) => ({ key: id, probability: risks[i]!.probability })) };
  });
  return async (first: number, minProbability: number): Promise<ChurnWatchEntry[]> => {
    const entries = await top(first, minProbability);
    const explained = await predictChurn(deps, entries.map((e) => String(e.key)));
    return entries.map((e, i) => ({ member: Object.assign(new Member(), { id: String(e.key) }), risk: explained[i]! }));
  };
}

export function createChurnContext(identity: Identity, deps: ModelSubgraphDeps, watchlist: ReturnType<typeof createWatchlist>): ChurnContext {
  return { identity, churnRisk: entityLoader((keys) => predictChurn(deps, keys)), watchlist };
}

export async function startChurnSubgraph(config: Config, port?: number) {
  let watchlist: ReturnType<typeof createWatchlist> | undefined;
  return startModelSubgraph<ChurnContext>(
    config,
    {
      name: 'churn',
      schema: await buildChurnSchema(),
      memos: ['memberActivity'],
      slots: [{ model: 'churn', validate: (m) => { checkFeatureNames(m, CHURN_FEATURE_NAMES); riskServing(m); } }],
      createContext: (identity, deps) => createChurnContext(identity, deps, (watchlist ??= createWatchlist(deps))),
    },
    port,
  );
}
