/**
 * The overdue subgraph (:4002). Loan and member risks requested in one request are scored
 * together: one feature extraction and one inference run per request batch.
 */
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../../src/config';
import { overdueServingFeatures, type LoanRecord, type MemberOpenLoans } from '../../src/features/overdue';
import type { ModelRef, RiskPrediction } from '../../src/graphql/prediction-types';
import { buildFederatedSchema } from '../../src/graphql/subgraph-schema';
import type { Identity } from '../../src/identity';
import { entityLoader, openScoring, startModelSubgraph, warmMemos, type ModelScoring, type ModelSubgraphDeps, type SubgraphServices } from '../../src/model-runtime/model-subgraph';
import { recorded, riskPrediction } from '../../src/model-runtime/prediction-logging';
import { rankedWatchlist, TopRanked } from '../../src/model-runtime/watchlist';
import { riskLevel, scoreRisks, type RiskThresholds, type ScoredRisk } from '../../src/model-runtime/risk';
import { MAX_OVERDUE_WATCHLIST, OVERDUE_FEATURE_NAMES, OVERDUE_MEMOS, OVERDUE_MODEL, OVERDUE_SLOT, type OverdueServing } from '../../src/models/overdue';
import { parseId } from '../../src/util/ids';
import type { OverdueContext } from './context';
import { Loan, LoanOverdueResolver, Member, MemberOverdueResolver, OverdueWatchlistResolver, type OverdueWatchEntry } from './schema';

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
export function combineOpenLoans(risks: ScoredRisk[], model: ModelRef, thresholds: RiskThresholds): RiskPrediction {
  const [first, ...rest] = risks;
  if (!first) return { probability: 0, level: riskLevel(0, thresholds), factors: [], model };
  let none = 1 - first.probability;
  let riskiest = first;
  for (const risk of rest) {
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

/** What scoring overdue risks reads: the store, the model's slot and the memos it serves from. */
export type OverdueScoring = ModelScoring<OverdueServing, typeof OVERDUE_MEMOS>;

/** The overdue subgraph's per-process state. */
export interface OverdueServices extends OverdueScoring, SubgraphServices {
  watchlist: OverdueWatchlist;
}

interface OverdueWatchlist {
  top: (first: number, minProbability: number) => Promise<OverdueWatchEntry[]>;
  warm: () => Promise<void>;
  stop: () => void;
}

/** Members' open-loan rows from the memo (computed by the same feature function on first use); requested loans from the store. */
async function overdueRows({ deps, memos }: OverdueScoring, loanIds: number[], memberIds: number[]): Promise<OverdueRows> {
  const distinctMembers = [...new Set(memberIds)];
  const [requested, perMember] = await Promise.all([
    loanIds.length ? overdueServingFeatures(deps.store, { loanIds }, deps.asOf) : undefined,
    memos.openLoans.load(distinctMembers),
  ]);
  return assembleRows(requested, distinctMembers, perMember);
}

/** One feature matrix of the requested loans' rows followed by the open loans of each of `members` (`perMember` in the same order). */
function assembleRows(
  requested: { loans: LoanRecord[]; requestedCount: number; features: { values: Float32Array } } | undefined,
  members: readonly number[],
  perMember: readonly (MemberOpenLoans | undefined)[],
): OverdueRows {
  const d = OVERDUE_FEATURE_NAMES.length;
  const loans: LoanRecord[] = [...(requested?.loans ?? [])];
  const knownMembers = new Set<number>();
  let rows = loans.length;
  perMember.forEach((open, i) => {
    const member = members[i];
    if (!open || member === undefined) return;
    knownMembers.add(member);
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

/**
 * Loan and member risks for `keys`, in key order; null for ids that are not loans or members.
 * Every answer is bucketed with the thresholds of the version that scored it.
 */
export async function predictOverdue(services: OverdueScoring, keys: readonly OverdueKey[]): Promise<(RiskPrediction | null)[]> {
  const loanIds: number[] = [];
  const memberIds: number[] = [];
  for (const key of keys) {
    const id = parseId(key.slice(2));
    if (id === undefined) continue;
    (key.startsWith('L:') ? loanIds : memberIds).push(id);
  }
  services.deps.metrics.featureQueries.inc({ model: OVERDUE_MODEL });
  const batch = await overdueRows(services, loanIds, memberIds);
  const { risks, model, thresholds } = await scoreRisks(services.slot, { values: batch.values, n: batch.loans.length, names: OVERDUE_FEATURE_NAMES });
  const requested = new Map<number, ScoredRisk>();
  const openByMember = new Map<number, ScoredRisk[]>();
  batch.loans.forEach((loan, i) => {
    const risk = risks[i];
    if (!risk) return;
    if (i < batch.requestedCount) {
      requested.set(loan.id, risk);
      return;
    }
    const list = openByMember.get(loan.member_id);
    if (list) list.push(risk);
    else openByMember.set(loan.member_id, [risk]);
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

/** Open loans most likely to come back late, ranked in the background, explained at answer time through the same batched path. */
function createWatchlist(services: OverdueScoring): OverdueWatchlist {
  const { deps, slot } = services;
  const top = rankedWatchlist('overdueWatchlist', MAX_OVERDUE_WATCHLIST, slot, deps, async () => {
    const open = await deps.store.db.selectFrom('loans').select('member_id').distinct().where('returned_at', 'is', null).where('due_at', '>=', deps.asOf).orderBy('member_id').execute();
    const members = open.map((r) => r.member_id);
    // A paced slice at a time, straight from the feature function where the open-loan cache does
    // not hold a member (nothing is added to it): the run holds one slice and the top entries.
    const ranked = new TopRanked<{ loanId: number; memberId: number }>(MAX_OVERDUE_WATCHLIST);
    await services.memos.openLoans.scan(members, async (perMember, slice) => {
      const batch = assembleRows(undefined, slice, perMember);
      if (batch.loans.length === 0) return;
      const { risks, model } = await scoreRisks(slot, { values: batch.values, n: batch.loans.length, names: OVERDUE_FEATURE_NAMES }, { explain: false });
      ranked.add(
        model.version,
        batch.loans.flatMap((l, i) => {
          const risk = risks[i];
          return risk ? [{ key: { loanId: l.id, memberId: l.member_id }, probability: risk.probability }] : [];
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
      const explained = await predictOverdue(services, entries.map((e) => `L:${e.key.loanId}` as const));
      return entries.flatMap((e, i) => {
        const risk = explained[i];
        if (!risk) return [];
        const loan = Object.assign(new Loan(), { id: String(e.key.loanId) });
        return [{ loan, member: Object.assign(new Member(), { id: String(e.key.memberId) }), risk, computedAt: new Date(computedAt), ageSeconds }];
      });
    },
  };
}

/** The overdue subgraph's memos and watchlist, once per process. */
export function createOverdueServices(deps: ModelSubgraphDeps): OverdueServices {
  const scoring = openScoring(deps, OVERDUE_SLOT, OVERDUE_MEMOS);
  const watchlist = createWatchlist(scoring);
  const warm = async (): Promise<void> => {
    await Promise.all([watchlist.warm(), warmMemos(deps, scoring.memos)]);
  };
  return { ...scoring, watchlist, warm, stop: watchlist.stop };
}

export function createOverdueContext(identity: Identity, services: OverdueServices, requestId: string): OverdueContext {
  const log = services.deps.predictionLog;
  const entity = (key: OverdueKey | undefined) => ({ kind: key?.startsWith('L:') ? 'loan' : 'member', id: key?.slice(2) ?? '' });
  return {
    identity,
    overdueRisk: entityLoader<OverdueKey, RiskPrediction | null>(async (keys) =>
      recorded(log, requestId, await predictOverdue(services, keys), (risk, i) => {
        const { kind, id } = entity(keys[i]);
        return riskPrediction(kind, id, risk);
      }),
    ),
    watchlist: async (first, minProbability) =>
      recorded(log, requestId, await services.watchlist.top(first, minProbability), (entry) => riskPrediction('loan', entry.loan.id, entry.risk)),
  };
}

export async function startOverdueSubgraph(config: Config, port?: number) {
  return startModelSubgraph(
    config,
    {
      name: 'overdue',
      schema: await buildOverdueSchema(),
      slots: [OVERDUE_SLOT],
      services: createOverdueServices,
      createContext: createOverdueContext,
    },
    port,
  );
}
