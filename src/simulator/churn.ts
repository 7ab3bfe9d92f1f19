/**
 * The churn oracle and the realised churn outcome. Churn at a cut-off means "no loan checked
 * out on cutoff+1 .. cutoff+90"; it is defined for members who had joined by the cut-off.
 */
import type { Calendar } from './calendar';
import type { Loans } from './borrowing';
import { probabilityNoLoan } from './engagement';
import type { SimMember } from './members';

export const CHURN_WINDOW_DAYS = 90;

/** Cut-offs with a true probability: two whose outcome is known (for training and testing), and the as-of day. */
export function churnCutoffs(asOfDay: number): number[] {
  return [asOfDay - 2 * CHURN_WINDOW_DAYS, asOfDay - CHURN_WINDOW_DAYS, asOfDay];
}

export interface ChurnTruth {
  /** Indices into members[]. */
  member: Int32Array;
  cutoff: Int32Array;
  probability: Float64Array;
}

export function churnTruth(members: readonly SimMember[], cutoffs: readonly number[], calendar: Calendar): ChurnTruth {
  const member: number[] = [];
  const cutoff: number[] = [];
  const probability: number[] = [];
  for (const day of cutoffs) {
    members.forEach((m, index) => {
      if (m.joinDay > day) return;
      member.push(index);
      cutoff.push(day);
      probability.push(probabilityNoLoan(m, day, CHURN_WINDOW_DAYS, calendar));
    });
  }
  return { member: Int32Array.from(member), cutoff: Int32Array.from(cutoff), probability: Float64Array.from(probability) };
}

/** Per member: 1 when they made no loan in the window after `cutoff`, 0 when they did. */
export function realisedChurn(loans: Loans, memberCount: number, cutoff: number): Uint8Array {
  const churned = new Uint8Array(memberCount).fill(1);
  for (let i = 0; i < loans.length; i++) {
    const day = loans.checkoutDay[i]!;
    if (day > cutoff && day <= cutoff + CHURN_WINDOW_DAYS) churned[loans.member[i]!] = 0;
  }
  return churned;
}
