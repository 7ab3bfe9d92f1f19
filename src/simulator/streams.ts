/**
 * Independent random streams derived from the run's seed: one per phase, or one per member
 * within a phase, so each draw sequence depends only on (seed, stream, index) and a change in
 * one phase does not shift the draws of another.
 */
import { Random } from '../util/random';

export const STREAMS = {
  catalogue: 1,
  branches: 2,
  members: 3,
  names: 4,
  borrowing: 5,
  returns: 6,
  /** Days simulated after the generated window (`npm run simulate`), per member. */
  living: 7,
  /** Members who join in a simulated cohort, per member; and their names. */
  cohort: 8,
  cohortNames: 9,
  /** Members who register on a simulated day: the day's count, their names (per day), their traits (per member). */
  registrations: 10,
  registrationNames: 11,
  registered: 12,
  /** Loans still out when reliability falls, per loan: whether they now come back late. */
  reliabilityShift: 13,
} as const;
export type Stream = keyof typeof STREAMS;

/** The catalogue's shelving draws are fixed, so a book keeps its genre whatever the run's seed. */
export const CATALOGUE_SEED = 0x5eed_b00c;

/** A 32-bit avalanche mix (murmur3 finaliser) of several integers. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    h ^= part >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

export function streamRandom(seed: number, stream: Stream, index = 0): Random {
  return new Random(mixSeed(seed, STREAMS[stream], index));
}
