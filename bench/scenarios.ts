/**
 * The benchmark's scenarios: what each asks of the graph, built from the subgraphs the
 * supergraph declares. A field whose subgraph is not in the graph yet is left out of the query
 * and named in `missing`, so the figures of a growing graph stay comparable field by field.
 *
 * Requests vary the entity (a seeded sequence over the whole library) so no run measures one
 * hot row; the same seed gives every run the same sequence.
 */
import type { SubgraphName } from '../src/config';

export type ScenarioId = 'member' | 'page' | 'book' | 'partner';
export const SCENARIO_IDS: readonly ScenarioId[] = ['member', 'page', 'book', 'partner'];

export interface LibrarySize {
  maxMemberId: number;
  maxBookId: number;
}

export interface ScenarioRequest {
  body: string;
  role: 'staff' | 'analyst' | 'partner' | 'circulation';
}

export interface Scenario {
  id: ScenarioId;
  number: number;
  title: string;
  /** Model subgraphs whose fields the query asks for: each should run exactly once per request. */
  models: SubgraphName[];
  /** Fields left out because their subgraph is not in the supergraph yet. */
  missing: string[];
  /** The document (or, for the partner, the persisted operation's name). */
  document: string;
  /** The i-th request of a run. */
  request(i: number): ScenarioRequest;
}

interface OptionalField {
  subgraph: SubgraphName;
  selection: string;
}

/** The prediction fields of a member, with the subgraph that owns each. */
const MEMBER_FIELDS: OptionalField[] = [
  { subgraph: 'overdue', selection: 'overdueRisk { probability level factors { feature weight } model { version } }' },
  { subgraph: 'churn', selection: 'churnRisk { probability level factors { feature weight } model { version } }' },
  { subgraph: 'segmentation', selection: 'segment { name rfm { recency frequency monetary } }' },
  { subgraph: 'recommendations', selection: 'recommendations(first: 5) { book { id title } score reason }' },
];

const BOOK_FIELDS: OptionalField[] = [
  { subgraph: 'recommendations', selection: 'similarBooks(first: 5) { book { id title } score }' },
  { subgraph: 'demand', selection: 'demandForecast(horizonWeeks: 8) { points { weekStart expectedLoans low high } }' },
];

function present(fields: OptionalField[], subgraphs: readonly SubgraphName[]) {
  const kept = fields.filter((f) => subgraphs.includes(f.subgraph));
  const dropped = fields.filter((f) => !subgraphs.includes(f.subgraph));
  return {
    selection: kept.map((f) => f.selection).join('\n    '),
    models: kept.map((f) => f.subgraph),
    missing: dropped.map((f) => `${f.selection.split(/[ ({]/)[0]} (${f.subgraph})`),
  };
}

/** A fixed pseudo-random sequence (mulberry32), so every run asks for the same entities. */
export function entitySequence(seed: number, max: number): (i: number) => number {
  return (i: number) => {
    let t = (seed + i * 0x6d2b79f5) | 0;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % max) + 1;
  };
}

export function cursorAfter(id: number): string {
  return Buffer.from(`id:${id}`).toString('base64url');
}

export const PAGE_SIZE = 100;

export interface PersistedOperationRef {
  id: string;
  name: string;
  body: string;
}

export function buildScenarios(subgraphs: readonly SubgraphName[], size: LibrarySize, partnerOperation: PersistedOperationRef | undefined, seed = 1): Scenario[] {
  const member = present(MEMBER_FIELDS, subgraphs);
  const book = present(BOOK_FIELDS, subgraphs);
  const memberAt = entitySequence(seed, size.maxMemberId);
  const pageAt = entitySequence(seed + 1, Math.max(1, size.maxMemberId - PAGE_SIZE));
  const bookAt = entitySequence(seed + 2, size.maxBookId);

  const memberDocument = `query MemberInsights($id: ID!) {\n  member(id: $id) {\n    id\n    ${member.selection}\n  }\n}`;
  const pageDocument = `query MembersDashboard($after: String) {\n  members(first: ${PAGE_SIZE}, after: $after) {\n    nodes {\n    id\n    ${member.selection}\n    }\n  }\n}`;
  const bookDocument = `query BookPage($id: ID!) {\n  book(id: $id) {\n    id\n    title\n    authors\n    ${book.selection}\n  }\n}`;

  const scenarios: Scenario[] = [
    {
      id: 'member',
      number: 1,
      title: 'member insights (one member, every model)',
      models: member.models,
      missing: member.missing,
      document: memberDocument,
      request: (i) => ({ role: 'staff', body: JSON.stringify({ query: memberDocument, variables: { id: String(memberAt(i)) } }) }),
    },
    {
      id: 'page',
      number: 2,
      title: `dashboard page (${PAGE_SIZE} members, every model)`,
      models: member.models,
      missing: member.missing,
      document: pageDocument,
      request: (i) => ({ role: 'staff', body: JSON.stringify({ query: pageDocument, variables: { after: cursorAfter(pageAt(i) - 1) } }) }),
    },
    {
      id: 'book',
      number: 3,
      title: 'book page (similar books, demand forecast)',
      models: book.models,
      missing: book.missing,
      document: bookDocument,
      request: (i) => ({ role: 'staff', body: JSON.stringify({ query: bookDocument, variables: { id: String(bookAt(i)) } }) }),
    },
  ];
  if (partnerOperation) {
    const usesId = /\$id\s*:\s*ID!/.test(partnerOperation.body);
    const models = (['overdue', 'churn', 'segmentation', 'recommendations', 'demand'] as const).filter(
      (m) => subgraphs.includes(m) && new RegExp(`\\b${{ overdue: 'overdueRisk', churn: 'churnRisk', segmentation: 'segment', recommendations: '(recommendations|similarBooks)', demand: 'demandForecast' }[m]}\\b`).test(partnerOperation.body),
    );
    scenarios.push({
      id: 'partner',
      number: 4,
      title: `partner persisted query (${partnerOperation.name}, by id)`,
      models,
      missing: [],
      document: partnerOperation.name,
      request: (i) => ({
        role: 'partner',
        body: JSON.stringify({
          variables: usesId ? { id: String(memberAt(i)) } : {},
          extensions: { persistedQuery: { version: 1, sha256Hash: partnerOperation.id } },
        }),
      }),
    });
  }
  return scenarios;
}

/** The partner operation to benchmark: a member's prediction by id if the manifest has one. */
export function choosePartnerOperation(operations: readonly PersistedOperationRef[]): PersistedOperationRef | undefined {
  const byMember = operations.filter((op) => /member\(id: \$id\)/.test(op.body));
  return byMember.find((op) => /Risk|segment|recommendations/.test(op.body)) ?? byMember[0] ?? operations[0];
}
