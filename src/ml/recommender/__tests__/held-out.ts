import { Random } from '../../../util/random';
import type { Interaction } from '../model';

export interface HeldOutSplit {
  training: Interaction[];
  heldOut: Map<number, Set<number>>;
  historyOf: (member: number) => number[];
}

/** Holds out 20% of the loans of each member with at least 5, seeded, like the real-data evaluation. */
export function holdOutPerMember(interactions: readonly Interaction[], seed: number): HeldOutSplit {
  const random = new Random(seed);
  const byMember = new Map<number, Interaction[]>();
  for (const interaction of interactions) {
    const list = byMember.get(interaction.userIndex) ?? [];
    list.push(interaction);
    byMember.set(interaction.userIndex, list);
  }
  const training: Interaction[] = [];
  const heldOut = new Map<number, Set<number>>();
  const history = new Map<number, number[]>();
  for (const [member, list] of byMember) {
    let kept = list;
    if (list.length >= 5) {
      const shuffled = random.shuffle(list.slice());
      const hide = Math.round(list.length * 0.2);
      heldOut.set(member, new Set(shuffled.slice(0, hide).map((i) => i.itemIndex)));
      kept = shuffled.slice(hide);
    }
    training.push(...kept);
    history.set(member, [...new Set(kept.map((i) => i.itemIndex))]);
  }
  return { training, heldOut, historyOf: (member) => history.get(member) ?? [] };
}
