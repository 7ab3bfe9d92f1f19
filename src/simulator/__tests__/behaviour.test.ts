/**
 * The hidden causes come out of a medium-sized library (2,000 members, ~100,000 loans) the
 * way they were put in: calibrated overdue rates, honest probabilities, churn and seasons.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { GENRES, simulateLibrary, summariseLibrary, type SimulatedLibrary } from '..';
import { realisedChurn } from '../churn';
import { drawRegistrations } from '../members';
import { arrangeShelves } from '../shelves';
import { isOverdueOnRecord } from '../summary';

let library: SimulatedLibrary;
let summary: ReturnType<typeof summariseLibrary>;

beforeAll(() => {
  library = simulateLibrary({ seed: 11, members: 2_000 });
  summary = summariseLibrary(library);
});

describe('a medium-sized simulated library', () => {
  it('lends on the order of fifty items per member over three years', () => {
    expect(library.loans.length).toBeGreaterThan(2_000 * 35);
    expect(library.loans.length).toBeLessThan(2_000 * 70);
  });

  it.each([
    ['Adult Fiction', 0.08, 0.1],
    ['Child Fiction', 0.06, 0.08],
    ['Large Print', 0.03, 0.05],
    ['DVD', 0.1, 0.18],
  ])('has %s overdue shares in the real range', (collection, low, high) => {
    const row = summary.overdueByCollection.find((r) => r.collection === collection)!;
    expect(row.matured).toBeGreaterThan(500);
    expect(row.share).toBeGreaterThanOrEqual(low);
    expect(row.share).toBeLessThanOrEqual(high);
  });

  it('records late probabilities that match the late outcomes bin by bin', () => {
    const { loans, asOfDay } = library;
    const bins = 10;
    const sums = Array.from({ length: bins }, () => ({ n: 0, probability: 0, late: 0 }));
    const ordered = Array.from({ length: loans.length }, (_, i) => i)
      .filter((i) => isOverdueOnRecord(loans, i, asOfDay) !== undefined)
      .sort((a, b) => loans.lateProbability[a]! - loans.lateProbability[b]!);
    ordered.forEach((loan, rank) => {
      const bin = sums[Math.floor((rank * bins) / ordered.length)]!;
      bin.n++;
      bin.probability += loans.lateProbability[loan]!;
      bin.late += isOverdueOnRecord(loans, loan, asOfDay) ? 1 : 0;
    });
    for (const bin of sums) {
      const expected = bin.probability / bin.n;
      const standardError = Math.sqrt((expected * (1 - expected)) / bin.n);
      expect(Math.abs(bin.late / bin.n - expected)).toBeLessThan(4 * standardError + 0.005);
    }
    expect(sums[bins - 1]!.late / sums[bins - 1]!.n).toBeGreaterThan(3 * (sums[0]!.late / sums[0]!.n));
    expect(summary.lateOracleAuc).toBeGreaterThan(0.7);
  });

  it('makes unreliable members late more often', () => {
    const { loans, members } = library;
    const lateBy = (keep: (reliability: number) => boolean) => {
      let n = 0;
      let late = 0;
      for (let i = 0; i < loans.length; i++) {
        if (!keep(members[loans.member[i]!]!.reliability)) continue;
        n++;
        late += loans.late[i]!;
      }
      return late / n;
    };
    expect(lateBy((r) => r < 0.6)).toBeGreaterThan(2 * lateBy((r) => r > 0.85));
  });

  it('gives members with declining engagement a higher churn probability', () => {
    const { members, churn } = library;
    const cutoff = library.churnCutoffDays[1]!;
    const mean = (keep: (trend: number) => boolean) => {
      let n = 0;
      let total = 0;
      for (let r = 0; r < churn.cutoff.length; r++) {
        if (churn.cutoff[r] !== cutoff || !keep(members[churn.member[r]!]!.engagementTrend)) continue;
        n++;
        total += churn.probability[r]!;
      }
      return total / n;
    };
    expect(mean((t) => t < 0.97)).toBeGreaterThan(mean((t) => t >= 0.99) + 0.1);
  });

  it('has churn probabilities whose mean is the realised churn rate', () => {
    expect(summary.churn).toHaveLength(2);
    for (const check of summary.churn) {
      const standardError = Math.sqrt((check.meanProbability * (1 - check.meanProbability)) / check.members);
      expect(Math.abs(check.realisedRate - check.meanProbability)).toBeLessThan(4 * standardError);
      expect(check.oracleAuc).toBeGreaterThan(0.8);
    }
    const asOf = library.churnCutoffDays[2]!;
    const atAsOf = Array.from(library.churn.cutoff).filter((c) => c === asOf).length;
    expect(atAsOf).toBe(library.members.length);
    // The realised outcome at the last cut-off is not yet known, so only the oracle has it.
    expect(realisedChurn(library.loans, library.members.length, asOf).length).toBe(library.members.length);
  });

  it('peaks in summer and dips in December, every year', () => {
    const { loans, calendar } = library;
    const byMonth = new Map<string, number>();
    for (let i = 0; i < loans.length; i++) {
      const month = calendar.iso(loans.checkoutDay[i]!).slice(0, 7);
      byMonth.set(month, (byMonth.get(month) ?? 0) + 1);
    }
    for (const year of ['2022', '2023', '2024']) {
      const months = Array.from({ length: 12 }, (_, m) => byMonth.get(`${year}-${String(m + 1).padStart(2, '0')}`) ?? 0);
      const peak = months.indexOf(Math.max(...months));
      expect([6, 7]).toContain(peak);
      expect(months.indexOf(Math.min(...months))).toBe(11);
      const mean = months.reduce((a, b) => a + b, 0) / 12;
      expect(months[7]!).toBeGreaterThan(1.1 * mean);
      expect(months[11]!).toBeLessThan(0.9 * mean);
    }
  });

  it('lends by taste: a member borrows mostly from the genres they like, and rarely a book twice', () => {
    const { loans, members, catalogue } = library;
    let liked = 0;
    const seen = new Set<number>();
    let repeats = 0;
    for (let i = 0; i < loans.length; i++) {
      const member = members[loans.member[i]!]!;
      const book = catalogue[loans.book[i]!]!;
      if (member.taste[GENRES.indexOf(book.genre)]! >= 0.1) liked++;
      const key = loans.member[i]! * 100_000 + loans.book[i]!;
      if (seen.has(key)) repeats++;
      seen.add(key);
    }
    expect(liked / loans.length).toBeGreaterThan(0.7);
    expect(repeats / loans.length).toBeLessThan(0.01);
  });

  it('keeps registering members after its window at the rate and in the seasons of the window, the same ones for the same day', () => {
    const { calendar, catalogue, windowStartDay, asOfDay } = library;
    const shelves = arrangeShelves(catalogue);
    const membership = { members: 2_000, window: { startDay: windowStartDay, endDay: asOfDay } };
    const summer = (day: number) => [5, 6, 7].includes(calendar.month(day));
    const generated = library.members.filter((m) => m.joinDay >= windowStartDay);
    let registered = 0;
    let inSummer = 0;
    for (let day = windowStartDay; day <= asOfDay; day++) {
      const joined = drawRegistrations(day, 10_000 + registered, 11, membership, calendar, shelves, catalogue);
      expect(joined.every((m) => m.joinDay === day && m.startDay === day && m.churnDay === -1)).toBe(true);
      registered += joined.length;
      if (summer(day)) inSummer += joined.length;
    }
    expect(registered / generated.length).toBeGreaterThan(0.9);
    expect(registered / generated.length).toBeLessThan(1.1);
    expect(Math.abs(inSummer / registered - generated.filter((m) => summer(m.joinDay)).length / generated.length)).toBeLessThan(0.05);
    const again = drawRegistrations(asOfDay + 200, 5_000, 11, membership, calendar, shelves, catalogue);
    expect(drawRegistrations(asOfDay + 200, 5_000, 11, membership, calendar, shelves, catalogue)).toEqual(again);
  });
});
