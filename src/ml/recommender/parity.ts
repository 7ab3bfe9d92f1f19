/**
 * Parity between the exported graphs and the trainer's own scoring: the check promotion relies
 * on, and that the tests assert.
 *
 * Two lists agree when they have the same length, their scores differ by at most `tolerance`
 * at every rank, and their items are equal at every rank except where the reference itself has
 * two scores within `tolerance` of each other (float32 in the graph versus float64 here may
 * order a near-tie either way; anything else is a real difference).
 */
import type { RecommendationQuery, RecommenderSession, SimilarItemsSession } from './inference';
import type { RecommenderModel } from './model';
import { recommendTopK, similarItemsTopK, unitItemFactors, type RankedItems } from './scoring';

export const PARITY_TOLERANCE = 1e-4;

export interface ParityReport {
  checked: number;
  agreeing: number;
  agreed: boolean;
  maxScoreDifference: number;
  /** The first disagreeing query, for the error message. */
  firstDifference?: { query: number; reference: RankedItems; onnx: RankedItems };
}

export function rankedListsAgree(reference: RankedItems, candidate: RankedItems, tolerance = PARITY_TOLERANCE): boolean {
  if (reference.items.length !== candidate.items.length) return false;
  for (let rank = 0; rank < reference.items.length; rank++) {
    if (Math.abs(reference.scores[rank]! - candidate.scores[rank]!) > tolerance) return false;
    if (reference.items[rank] === candidate.items[rank]) continue;
    const score = reference.scores[rank]!;
    const tiedBefore = rank > 0 && Math.abs(reference.scores[rank - 1]! - score) <= tolerance;
    const tiedAfter = rank + 1 < reference.items.length && Math.abs(reference.scores[rank + 1]! - score) <= tolerance;
    if (!tiedBefore && !tiedAfter) return false;
  }
  return true;
}

function compare(references: RankedItems[], candidates: RankedItems[], tolerance: number): ParityReport {
  const report: ParityReport = { checked: references.length, agreeing: 0, agreed: true, maxScoreDifference: 0 };
  references.forEach((reference, query) => {
    const candidate = candidates[query]!;
    const ranks = Math.min(reference.scores.length, candidate.scores.length);
    for (let rank = 0; rank < ranks; rank++) {
      report.maxScoreDifference = Math.max(report.maxScoreDifference, Math.abs(reference.scores[rank]! - candidate.scores[rank]!));
    }
    if (rankedListsAgree(reference, candidate, tolerance)) report.agreeing += 1;
    else if (!report.firstDifference) report.firstDifference = { query, reference, onnx: candidate };
  });
  report.agreed = report.agreeing === report.checked;
  return report;
}

export async function checkRecommenderParity(
  model: RecommenderModel,
  session: RecommenderSession,
  queries: readonly RecommendationQuery[],
  k: number,
  tolerance = PARITY_TOLERANCE,
): Promise<ParityReport> {
  const onnx = await session.recommend(queries, k);
  const references = queries.map((q) => recommendTopK(model, q.userIndex, q.seenItems, k));
  return compare(references, onnx, tolerance);
}

export async function checkSimilarItemsParity(
  model: RecommenderModel,
  session: SimilarItemsSession,
  itemIndices: readonly number[],
  k: number,
  tolerance = PARITY_TOLERANCE,
): Promise<ParityReport> {
  const onnx = await session.similar(itemIndices, k);
  const unit = unitItemFactors(model);
  const references = itemIndices.map((item) => similarItemsTopK(model, item, k, unit));
  return compare(references, onnx, tolerance);
}
