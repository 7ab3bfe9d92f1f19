/**
 * Each member's segments as served, for slicing judged predictions by the segment a member was
 * in on the prediction's day.
 *
 * Contract: `add(member, day, segment)` records a segment served on `day` (in any order; of two
 * on the same day, the one added later stands). `on(member, day)` is the segment of the latest
 * entry on or before `day`, or null before the first. Only changes are kept: an entry that
 * repeats the segment before it is left out, which changes no answer of `on` for entries
 * added in day order. Memory: at most `kept` changes per member (the oldest are dropped).
 */
export interface SegmentEntry {
  day: string;
  segment: string;
}

export class SegmentHistory {
  private readonly members = new Map<string, SegmentEntry[]>();

  constructor(private readonly kept = 30) {}

  add(memberId: string, day: string, segment: string): void {
    const history = this.members.get(memberId) ?? [];
    // After the entries of earlier days; in place of an entry of the same day.
    let at = history.length;
    while (at > 0 && history[at - 1]!.day > day) at--;
    if (at > 0 && history[at - 1]!.day === day) history[at - 1] = { day, segment };
    else history.splice(at, 0, { day, segment });
    this.members.set(memberId, runsOf(history).slice(-this.kept));
  }

  on(memberId: string, day: string): string | null {
    let found: string | null = null;
    for (const entry of this.members.get(memberId) ?? []) if (entry.day <= day) found = entry.segment;
    return found;
  }

  /** The entries kept for `memberId`, oldest first. */
  entries(memberId: string): readonly SegmentEntry[] {
    return this.members.get(memberId) ?? [];
  }
}

/** A day-ordered history without the entries that repeat the segment before them. */
function runsOf(history: readonly SegmentEntry[]): SegmentEntry[] {
  return history.filter((entry, i) => i === 0 || history[i - 1]!.segment !== entry.segment);
}
