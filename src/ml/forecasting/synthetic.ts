/**
 * Synthetic loan series with a known shape, for tests and for comparing forecasting
 * strategies where the truth is known: a library-like season (summer peak, dip in the last
 * period of the season, as in the LibrariesWest data), a level per series, a steady
 * year-over-year growth per series, and Poisson noise. Deterministic for a seed.
 */
import { Random } from '../../util/random';
import type { DemandSeries } from './series';

export interface SyntheticDemandOptions {
  series: number;
  periods: number;
  seasonLength?: number;
  seed?: number;
  /** Range of mean loans per period across series (drawn log-uniformly). */
  meanLoans?: [number, number];
  /** Range of growth per season across series, e.g. [0.1, 0.3] for +10% to +30% a year. */
  growthPerSeason?: [number, number];
  /** Swing of the season around the level (0.3 = +-30%). */
  seasonalAmplitude?: number;
}

/** Multiplier of period `phase` in the season: high in summer, a dip in the last period. */
export function seasonalProfile(phase: number, seasonLength: number, amplitude: number): number {
  const x = phase / seasonLength;
  const summer = Math.cos(2 * Math.PI * (x - 0.6));
  const dip = phase === seasonLength - 1 ? -0.5 : 0;
  return Math.max(0.05, 1 + amplitude * (summer + dip));
}

export function syntheticDemand({
  series,
  periods,
  seasonLength = 12,
  seed = 1,
  meanLoans = [20, 2000],
  growthPerSeason = [-0.15, 0.25],
  seasonalAmplitude = 0.3,
}: SyntheticDemandOptions): DemandSeries[] {
  const random = new Random(seed);
  return Array.from({ length: series }, () => {
    const firstPhase = random.int(seasonLength);
    const mean = Math.exp(Math.log(meanLoans[0]) + random.next() * (Math.log(meanLoans[1]) - Math.log(meanLoans[0])));
    const growth = growthPerSeason[0] + random.next() * (growthPerSeason[1] - growthPerSeason[0]);
    const values = Array.from({ length: periods }, (_, t) => {
      const trend = (1 + growth) ** (t / seasonLength);
      return random.poisson(mean * trend * seasonalProfile((firstPhase + t) % seasonLength, seasonLength, seasonalAmplitude));
    });
    return { values, firstPhase };
  });
}
