/**
 * A member's borrowing process, and the churn oracle derived from it analytically.
 *
 * From its first simulated day, each day a still-active member
 *   1. stops borrowing for good with probability `stopHazard(member, day)` (not on the first
 *      day), and otherwise
 *   2. visits the library (borrowing one or more items) with probability
 *      `visitProbability(member, day)`.
 * Intensity (visits per month) drifts by the member's engagement trend each month, the visit
 * probability follows the season and weekday, and the stop hazard rises as intensity falls:
 * declining engagement leads to churn. The simulator and the oracle call these same functions,
 * so the probabilities recorded are exactly the ones the outcomes were drawn from.
 */
import { DAYS_PER_MONTH, type Calendar } from './calendar';
import type { SimMember } from './members';

/** Most people borrow something on the day they join. */
export const JOIN_DAY_VISIT_PROBABILITY = 0.85;
const MAX_DAILY_VISIT_PROBABILITY = 0.8;
const MIN_INTENSITY = 0.02;
const MAX_INTENSITY = 20;
/** Daily stop hazard of a member visiting once a month: ~14% stop within a year. */
const BASE_STOP_HAZARD = 0.0004;
const REFERENCE_INTENSITY = 1;
/** Hazard x (intensity / reference)^-elasticity: halving intensity raises the hazard by half. */
const HAZARD_ELASTICITY = 0.6;
/** New members are the likeliest to lapse: a higher hazard in their first three months. */
const NEW_MEMBER_DAYS = 90;
const NEW_MEMBER_HAZARD_FACTOR = 2.5;
const MAX_STOP_HAZARD = 0.03;

/** Visits per month on `day`, before season and weekday. */
export function intensityOn(member: SimMember, day: number): number {
  const drifted = member.intensity * Math.exp((member.logTrend * (day - member.startDay)) / DAYS_PER_MONTH);
  return Math.min(MAX_INTENSITY, Math.max(MIN_INTENSITY, drifted));
}

export function visitProbability(member: SimMember, day: number, calendar: Calendar): number {
  if (day === member.joinDay) return JOIN_DAY_VISIT_PROBABILITY;
  const daily = (intensityOn(member, day) / DAYS_PER_MONTH) * calendar.seasonalFactor(member.shape, day);
  return Math.min(MAX_DAILY_VISIT_PROBABILITY, daily);
}

export function stopHazard(member: SimMember, day: number): number {
  const relative = intensityOn(member, day) / REFERENCE_INTENSITY;
  const newness = day - member.joinDay < NEW_MEMBER_DAYS ? NEW_MEMBER_HAZARD_FACTOR : 1;
  return Math.min(MAX_STOP_HAZARD, BASE_STOP_HAZARD * Math.pow(relative, -HAZARD_ELASTICITY) * newness);
}

/**
 * The true probability that `member` makes no loan on days cutoff+1 .. cutoff+windowDays,
 * given their hidden state at the end of `cutoff` (stopped or not, intensity, trend):
 *
 *   q(t) = P(active through t and no visit on cutoff+1..t)
 *        = prod_{s<=t} (1 - h(s)) (1 - v(s))
 *   P(no loan) = q(end) + sum_t q(t-1) h(t)      (quiet to the end, or stopped while quiet)
 *
 * A member who has already stopped by the cutoff makes no loan: probability 1.
 */
export function probabilityNoLoan(member: SimMember, cutoff: number, windowDays: number, calendar: Calendar): number {
  if (member.startDay > cutoff) {
    throw new RangeError(`member ${member.id} is simulated from day ${member.startDay}, after the cut-off ${cutoff}`);
  }
  if (member.churnDay >= 0 && member.churnDay <= cutoff) return 1;
  let quiet = 1;
  let stoppedQuietly = 0;
  for (let day = cutoff + 1; day <= cutoff + windowDays; day++) {
    const hazard = stopHazard(member, day);
    stoppedQuietly += quiet * hazard;
    quiet *= (1 - hazard) * (1 - visitProbability(member, day, calendar));
  }
  return stoppedQuietly + quiet;
}
