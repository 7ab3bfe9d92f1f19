import { describe, expect, it } from '@jest/globals';
import { Random } from '../../util/random';
import { fitRfmGrid, fitSegmentOutcomes, rfmSegment, scoreSegmentUse, segmentStability, type MemberOutcome, type RfmMeasures } from '../segmentation-use';

/** Members whose lapse risk falls with recent loans; frequency also sets next-quarter loans. */
function members(count: number, seed: number): (RfmMeasures & { lapsed: 0 | 1; loans: number })[] {
  const random = new Random(seed);
  return Array.from({ length: count }, () => {
    const frequency = random.poisson(random.next() * 30);
    const recencyDays = frequency > 0 ? random.int(Math.ceil(365 / frequency)) : 365 + random.int(400);
    const lapsed = random.bernoulli(frequency === 0 ? 0.9 : 0.5 / (1 + frequency)) ? 1 : 0;
    return { recencyDays, frequency, monetary: frequency * (10 + random.int(20)), lapsed, loans: lapsed ? 0 : random.poisson(frequency / 4 + 0.5) };
  });
}

describe('RFM grid', () => {
  it('cuts each measure at its quintiles, scoring recent, frequent and valuable members 5', () => {
    const rows = Array.from({ length: 100 }, (_, i) => ({ recencyDays: i, frequency: i, monetary: 99 - i }));
    const grid = fitRfmGrid(rows);
    expect(grid.edges.frequency).toEqual([20, 40, 60, 80]);
    expect(rfmSegment(grid, { recencyDays: 0, frequency: 99, monetary: 0 })).toBe('R5F5M1');
    expect(rfmSegment(grid, { recencyDays: 45, frequency: 20, monetary: 60 })).toBe('R3F2M4');
    // A value beyond what the grid was fitted on falls in the outer cell.
    expect(rfmSegment(grid, { recencyDays: 1000, frequency: -1, monetary: 500 })).toBe('R1F1M5');
  });

  it('refuses rows it cannot place', () => {
    expect(() => fitRfmGrid([])).toThrow('no members to fit an RFM grid on');
    expect(() => fitRfmGrid([{ recencyDays: NaN, frequency: 1, monetary: 1 }])).toThrow('row 0: recencyDays is NaN');
    expect(() => fitRfmGrid([{ recencyDays: 1, frequency: 1, monetary: 1 }], 1)).toThrow('bins must be an integer of at least 2, got 1');
  });
});

describe('segment outcomes', () => {
  it('shrinks small segments towards the overall rate', () => {
    const rows: MemberOutcome[] = [
      { segment: 'a', lapsed: 1, loans: 0 },
      { segment: 'b', lapsed: 0, loans: 4 },
      { segment: 'b', lapsed: 0, loans: 2 },
      { segment: 'b', lapsed: 1, loans: 0 },
    ];
    const fitted = fitSegmentOutcomes(rows, { priorMembers: 1 });
    expect(fitted.overall).toEqual({ members: 4, lapseRate: 0.5, meanLoans: 1.5 });
    expect(fitted.segments.get('a')).toEqual({ members: 1, lapseRate: 0.75, meanLoans: 0.75 });
    expect(fitted.segments.get('b')).toEqual({ members: 3, lapseRate: 1.5 / 4, meanLoans: 7.5 / 4 });
  });

  it('scores an RFM grid fitted at an earlier cut-off against having no segments', () => {
    const earlier = members(3000, 1);
    const later = members(3000, 2);
    const grid = fitRfmGrid(earlier);
    const outcomes = (rows: typeof earlier): MemberOutcome[] => rows.map((r) => ({ segment: rfmSegment(grid, r), lapsed: r.lapsed, loans: r.loans }));
    const use = scoreSegmentUse(fitSegmentOutcomes(outcomes(earlier)), outcomes(later));
    expect(use.members).toBe(3000);
    expect(use.lapse.auc).toBeGreaterThan(0.7);
    expect(use.lapse.logLoss).toBeLessThan(use.noSegments.logLoss);
    expect(use.volume.meanAbsoluteError).toBeLessThan(use.noSegments.meanAbsoluteError);
    // One segment for everyone tells nothing: AUC ½ and the no-segment log loss.
    const flat = (rows: typeof earlier): MemberOutcome[] => rows.map((r) => ({ segment: 'all', lapsed: r.lapsed, loans: r.loans }));
    const none = scoreSegmentUse(fitSegmentOutcomes(flat(earlier), { priorMembers: 0 }), flat(later));
    expect(none.lapse.auc).toBe(0.5);
    expect(none.lapse.logLoss).toBeCloseTo(none.noSegments.logLoss, 12);
  });

  it('gives members of a segment the fit never saw the overall figures, and counts them', () => {
    const fitted = fitSegmentOutcomes([
      { segment: 'a', lapsed: 1, loans: 0 },
      { segment: 'a', lapsed: 0, loans: 2 },
    ]);
    const use = scoreSegmentUse(fitted, [
      { segment: 'z', lapsed: 1, loans: 0 },
      { segment: 'a', lapsed: 0, loans: 3 },
    ]);
    expect(use.unseenSegmentMembers).toBe(1);
    expect(use.volume.meanAbsoluteError).toBe((1 + 2) / 2);
  });
});

describe('segmentStability', () => {
  it('counts members present at both cut-offs who kept their segment', () => {
    const before = new Map([[1, 'Champions'], [2, 'Loyal'], [3, 'Hibernating'], [4, 'Loyal']]);
    const after = new Map([[1, 'Champions'], [2, 'Champions'], [3, 'Hibernating'], [5, 'New']]);
    expect(segmentStability(before, after)).toEqual({ members: 3, kept: 2, share: 2 / 3 });
    expect(() => segmentStability(new Map([[1, 'a']]), new Map([[2, 'a']]))).toThrow('no member has a segment at both cut-offs');
  });
});
