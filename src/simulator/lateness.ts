/**
 * Whether a loan comes back after its final due date, and when it comes back.
 *
 *   logit P(late) = intercept[collection]
 *                 + RELIABILITY_WEIGHT * (RELIABILITY_CENTRE - member reliability)
 *                 + LATE_LOGIT_BY_DUE_MONTH[month the loan falls due]
 *                 + RENEWAL_WEIGHT * renewals            (a long loan is easier to forget)
 *                 + POPULARITY_WEIGHT * book popularity  (reserved by others: no last renewal)
 *                 + VISIT_SIZE_WEIGHT * (items borrowed on the same visit - 1)
 *
 * The per-collection intercepts are solved for so that the mean probability of each
 * collection lands on the overdue rate LibrariesWest bills (Adult Fiction ~9%, Child Fiction
 * ~7%, Large Print ~4%, DVDs 10-18%); the outcome is then drawn from that probability.
 */
import type { Random } from '../util/random';
import type { Calendar } from './calendar';
import { COLLECTIONS, LOAN_PERIOD_DAYS, type CatalogueBook, type Collection } from './catalogue';
import type { SimMember } from './members';
import { LATE_LOGIT_BY_DUE_MONTH } from './seasonality';

const RELIABILITY_WEIGHT = 6;
const RELIABILITY_CENTRE = 0.78;
const RENEWAL_WEIGHT = 0.3;
const POPULARITY_WEIGHT = 0.3;
const VISIT_SIZE_WEIGHT = 0.08;

/** Mean probability of a late return per collection (LibrariesWest overdue bills per loan). */
export const LATE_TARGETS: Readonly<Record<Collection, number>> = {
  'Adult Fiction': 0.09,
  'Adult Non Fiction': 0.08,
  'Adult Graphic Novel': 0.1,
  'Child Fiction': 0.07,
  'Child Non Fiction': 0.06,
  'YA / Teen Fiction': 0.1,
  'Large Print': 0.04,
  DVD: 0.14,
};

/** A late item that never comes back (lost, or kept and billed): likelier for unreliable members. */
const NEVER_RETURNED_BASE = 0.02;
const NEVER_RETURNED_PER_UNRELIABILITY = 0.08;
/** Mean days late of a late return, plus this much per unit of unreliability. */
const MEAN_DAYS_LATE_BASE = 3;
const MEAN_DAYS_LATE_PER_UNRELIABILITY = 25;
/** Half of on-time returns come in the last days before the due date. */
const LAST_MINUTE_SHARE = 0.5;
const LAST_MINUTE_DAYS = 4;

export const NEVER_RETURNED = -1;

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The member's reliability's part of a loan's late log-odds. */
export function reliabilityLogit(reliability: number): number {
  return RELIABILITY_WEIGHT * (RELIABILITY_CENTRE - reliability);
}

/** The loan's late log-odds without its collection's intercept. */
export function lateLogitWithoutIntercept(
  member: SimMember,
  book: CatalogueBook,
  renewals: number,
  dueDay: number,
  itemsOnVisit: number,
  calendar: Calendar,
): number {
  return (
    reliabilityLogit(member.reliability) +
    LATE_LOGIT_BY_DUE_MONTH[calendar.month(dueDay)]! +
    RENEWAL_WEIGHT * renewals +
    POPULARITY_WEIGHT * book.popularity +
    VISIT_SIZE_WEIGHT * (itemsOnVisit - 1)
  );
}

/**
 * Intercepts (in COLLECTIONS order) that make each collection's mean late probability equal
 * its target: Newton's method on b for mean(sigmoid(b + x)) = target, which is increasing and
 * smooth in b, started from the logit of the target.
 */
export function calibrateLateIntercepts(logits: Float64Array, collectionOfLoan: Uint8Array): Float64Array {
  return calibrateLateInterceptsByPasses((visit) => {
    for (let i = 0; i < logits.length; i++) visit(collectionOfLoan[i]!, logits[i]!);
  });
}

/** One pass over every loan in loan order, calling `visit` with its collection index and logit. */
export type LoanLogitPass = (visit: (collection: number, logit: number) => void) => void;

/**
 * `calibrateLateIntercepts` over loans that are read pass by pass rather than held in memory
 * (a generated library of a million members has about 50 million loans, spilled to disk):
 * one pass for the means, then one pass per Newton step, every collection still moving
 * stepped in the same pass. Each collection's sums run over its loans in loan order, as the
 * in-memory method's did, so the intercepts are the same doubles, bit for bit, and so is
 * every late probability derived from them.
 */
export function calibrateLateInterceptsByPasses(pass: LoanLogitPass): Float64Array {
  const n = COLLECTIONS.length;
  const count = new Float64Array(n);
  const sum = new Float64Array(n);
  pass((c, x) => {
    count[c]!++;
    sum[c]! += x;
  });
  const intercepts = new Float64Array(n);
  const moving = new Uint8Array(n);
  COLLECTIONS.forEach((collection, c) => {
    const target = LATE_TARGETS[collection];
    intercepts[c] = Math.log(target / (1 - target)) - (count[c]! > 0 ? sum[c]! / count[c]! : 0);
    moving[c] = count[c]! > 0 ? 1 : 0;
  });
  const mean = new Float64Array(n);
  const slope = new Float64Array(n);
  for (let step = 0; step < 50 && moving.some((m) => m === 1); step++) {
    mean.fill(0);
    slope.fill(0);
    pass((c, x) => {
      if (moving[c] !== 1) return;
      const p = sigmoid(intercepts[c]! + x);
      mean[c]! += p;
      slope[c]! += p * (1 - p);
    });
    COLLECTIONS.forEach((collection, c) => {
      if (moving[c] !== 1) return;
      const change = (mean[c]! - LATE_TARGETS[collection] * count[c]!) / slope[c]!;
      // Damped: a step of more than one logit unit could overshoot into a flat region.
      intercepts[c]! -= Math.max(-1, Math.min(1, change));
      if (Math.abs(change) < 1e-10) moving[c] = 0;
    });
  }
  return intercepts;
}

/**
 * The day a loan checked out on `checkoutDay`, renewed `renewals` times (each renewal on the
 * day before it fell due), comes back, given whether it is late; NEVER_RETURNED if it does not.
 */
export function drawReturn(
  rng: Random,
  late: boolean,
  member: Pick<SimMember, 'reliability'>,
  checkoutDay: number,
  renewals: number,
  periodDays: number,
): number {
  const dueDay = checkoutDay + periodDays * (1 + renewals);
  const unreliability = 1 - member.reliability;
  if (late) {
    if (rng.next() < NEVER_RETURNED_BASE + NEVER_RETURNED_PER_UNRELIABILITY * unreliability) {
      return NEVER_RETURNED;
    }
    const meanDaysLate = MEAN_DAYS_LATE_BASE + MEAN_DAYS_LATE_PER_UNRELIABILITY * unreliability;
    return dueDay + 1 + Math.floor(-Math.log(1 - rng.next()) * meanDaysLate);
  }
  const earliest = renewals > 0 ? checkoutDay + renewals * periodDays : checkoutDay + 1;
  const from = rng.next() < LAST_MINUTE_SHARE ? Math.max(earliest, dueDay - LAST_MINUTE_DAYS) : earliest;
  return from + rng.int(dueDay - from + 1);
}

export function loanPeriodDays(book: CatalogueBook): number {
  return LOAN_PERIOD_DAYS[book.format];
}
