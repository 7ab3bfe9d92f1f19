/**
 * The overdue subgraph (:4002). Loan and member risks requested in one request are scored
 * together: one feature extraction and one inference run per request batch.
 */
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../../src/config';
import { OVERDUE_FEATURE_NAMES, overdueServingFeatures, type LoanRecord } from '../../src/features/overdue';
import type { ModelRef, RiskPrediction } from '../../src/graphql/prediction-types';
import { buildFederatedSchema } from '../../src/graphql/subgraph-schema';
import type { Identity } from '../../src/identity';
import { entityLoader, startModelSubgraph, type ModelSubgraphDeps, type ServingMemos } from '../../src/model-runtime/model-subgraph';
import { rankedWatchlist } from '../../src/model-runtime/watchlist';
import { checkFeatureNames, riskLevel, riskServing, scoreRisks, type ScoredRisk } from '../../src/model-runtime/risk';
import { parseId } from '../../src/util/ids';
import type { OverdueContext } from './context';
import { Loan, LoanOverdueResolver, MAX_WATCHLIST, Member, MemberOverdueResolver, OverdueWatchlistResolver, type OverdueWatchEntry } from './schema';

export type { OverdueContext } from './context';

export function buildOverdueSchema(): Promise<GraphQLSchema> {
  return buildFederatedSchema(
    { resolvers: [LoanOverdueResolver, MemberOverdueResolver, OverdueWatchlistResolver], orphanedTypes: [Loan, Member] },
    {
      Loan: { __resolveReference: (ref) => Object.assign(new Loan(), { id: ref.id }) },
      Member: { __resolveReference: (ref) => Object.assign(new Member(), { id: ref.id }) },
    },
  );
}

/** Keys are `L:<loan id>` or `M:<member id>`, so loan and member risks share one batch. */
export type OverdueKey = `L:${string}` | `M:${string}`;

/** Combines a member's open-loan risks: P(at least one late) = 1 - prod(1 - p_i). */
export function combineOpenLoans(risks: ScoredRisk[], model: ModelRef, thresholds: { medium: number; high: number }): RiskPrediction {
  if (risks.length === 0) return { probability: 0, level: riskLevel(0, thresholds), factors: [], model };
  let none = 1;
  let riskiest = risks[0]!;
  for (const risk of risks) {
    none *= 1 - risk.probability;
    if (risk.probability > riskiest.probability) riskiest = risk;
  }
  const probability = 1 - none;
  return { probability, level: riskLevel(probability, thresholds), factors: riskiest.factors, model };
}

/** The loans to score for one request: requested loans first, then the members' open loans. */
interface OverdueRows {
  loans: LoanRecord[];
  requestedCount: number;
  values: Float32Array;
  knownMembers: Set<number>;
}

/** Reads every row from the store: one feature extraction for loans and members together. */
async function rowsFromStore(deps: ModelSubgraphDeps, loanIds: number[], memberIds: number[]): Promise<OverdueRows> {
  const [batch, knownMembers] = await Promise.all([
    overdueServingFeatures(deps.store, { loanIds, memberIds }, deps.asOf),
    memberIds.length ? deps.store.db.selectFrom('members').select('id').where('id', 'in', memberIds).execute() : Promise.resolve([]),
  ]);
  return { loans: batch.loans, requestedCount: batch.requestedCount, values: batch.features.values, knownMembers: new Set(knownMembers.map((m) => m.id)) };
}

/** Members' open-loan rows from the memo (computed by the same function on first use); loans from the store. */
async function rowsWithMemo(deps: ModelSubgraphDeps, memos: ServingMemos, loanIds: number[], memberIds: number[]): Promise<OverdueRows> {
  const distinctMembers = [...new Set(memberIds)];
  const [requested, perMember] = await Promise.all([
    loanIds.length ? overdueServingFeatures(deps.store, { loanIds }, deps.asOf) : undefined,
    memos.openLoans.load(distinctMembers),
  ]);
  const d = OVERDUE_FEATURE_NAMES.length;
  const loans: LoanRecord[] = [...(requested?.loans ?? [])];
  const knownMembers = new Set<number>();
  let rows = loans.length;
  perMember.forEach((open, i) => {
    if (!open) return;
    knownMembers.add(distinctMembers[i]!);
    rows += open.loans.length;
  });
  const values = new Float32Array(rows * d);
  if (requested) values.set(requested.features.values);
  for (const open of perMember) {
    if (!open || open.loans.length === 0) continue;
    values.set(open.values, loans.length * d);
    loans.push(...open.loans);
  }
  return { loans, requestedCount: requested?.requestedCount ?? 0, values, knownMembers };
}

export async function predictOverdue(deps: ModelSubgraphDeps, keys: readonly OverdueKey[]): Promise<(RiskPrediction | null)[]> {
  const loanIds: number[] = [];
  const memberIds: number[] = [];
  for (const key of keys) {
    const id = parseId(key.slice(2));
    if (id === undefined) continue;
    (key.startsWith('L:') ? loanIds : memberIds).push(id);
  }
  deps.metrics.featureQueries.inc({ model: 'overdue' });
  const batch = deps.memos ? await rowsWithMemo(deps, deps.memos, loanIds, memberIds) : await rowsFromStore(deps, loanIds, memberIds);
  const slot = deps.slots.overdue!;
  const { risks, model } = await scoreRisks(slot, { values: batch.values, n: batch.loans.length, names: OVERDUE_FEATURE_NAMES });
  const thresholds = riskServing(slot.current()).riskThresholds;
  const requested = new Map<number, ScoredRisk>();
  const openByMember = new Map<number, ScoredRisk[]>();
  batch.loans.forEach((loan, i) => {
    if (i < batch.requestedCount) {
      requested.set(loan.id, risks[i]!);
      return;
    }
    const list = openByMember.get(loan.member_id);
    if (list) list.push(risks[i]!);
    else openByMember.set(loan.member_id, [risks[i]!]);
  });
  const members = batch.knownMembers;
  return keys.map((key) => {
    const id = parseId(key.slice(2));
    if (id === undefined) return null;
    if (key.startsWith('L:')) {
      const risk = requested.get(id);
      return risk ? { ...risk, model } : null;
    }
    return members.has(id) ? combineOpenLoans(openByMember.get(id) ?? [], model, thresholds) : null;
  });
}

/** Open loans most likely to come back late, explained through the same batched path. */
export function createWatchlist(deps: ModelSubgraphDeps) {
  const slot = deps.slots.overdue!;
  const top = rankedWatchlist('overdueWatchlist', MAX_WATCHLIST, slot, async () => {
    const open = await deps.store.db.selectFrom('loans').select('member_id').distinct().where('returned_at', 'is', null).where('due_at', '>=', deps.asOf).execute();
    const batch = await overdueServingFeatures(deps.store, { memberIds: open.map((r) => r.member_id) }, deps.asOf);
    const { risks, model } = await scoreRisks(slot, { values: batch.features.values, n: batch.loans.length, names: OVERDUE_FEATURE_NAMES }, { explain: false });
    return { version: model.version, ranked: batch.loans.map((l, i) => ({ key: { loanId: l.id, memberId: l.member_id }, probability: risks[i]!.probability })) };
  });
  return async (first: number, minProbability: number): Promise<OverdueWatchEntry[]> => {
    const entries = await top(first, minProbability);
    const explained = await predictOverdue(deps, entries.map((e) => `L:${e.key.loanId}` as const));
    return entries.map((e, i) => ({
      loan: Object.assign(new Loan(), { id: String(e.key.loanId) }),
      member: Object.assign(new Member(), { id: String(e.key.memberId) }),
      risk: explained[i]!,
    }));
  };
}

export function createOverdueContext(identity: Identity, deps: ModelSubgraphDeps, watchlist: ReturnType<typeof createWatchlist>): OverdueContext {
  return { identity, overdueRisk: entityLoader<OverdueKey, RiskPrediction | null>((keys) => predictOverdue(deps, keys)), watchlist };
}

export async function startOverdueSubgraph(config: Config, port?: number) {
  let watchlist: ReturnType<typeof createWatchlist> | undefined;
  return startModelSubgraph<OverdueContext>(
    config,
    {
      name: 'overdue',
      schema: await buildOverdueSchema(),
      memos: ['openLoans'],
      slots: [{ model: 'overdue', validate: (m) => { checkFeatureNames(m, OVERDUE_FEATURE_NAMES); riskServing(m); } }],
      createContext: (identity, deps) => createOverdueContext(identity, deps, (watchlist ??= createWatchlist(deps))),
    },
    port,
  );
}
