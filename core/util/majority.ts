import type { Verifier } from '../contracts/verifier.js';

export interface MajorityResult {
  /** A representative of the largest class (its first member), or null for no answers. */
  answer: string | null;
  /** Size of the largest class / number of answers (0 for no answers). */
  share: number;
  /** Every class, largest first: a representative, its size and the indices of its members. */
  classes: { answer: string; count: number; members: number[] }[];
}

/**
 * Groups answers into equivalence classes under the verifier and returns the largest class.
 * Each answer is compared with one representative per class (the class's first member), and
 * identical strings are compared once, so k answers cost at most k·classes verifier calls.
 * Ties go to the class seen first, which keeps the vote deterministic for a given order.
 */
export async function majorityVote(
  verifier: Pick<Verifier, 'equivalent'>,
  answers: readonly string[],
): Promise<MajorityResult> {
  const classes: { answer: string; count: number; members: number[] }[] = [];
  const classOf = new Map<string, number>();
  for (const [i, a] of answers.entries()) {
    let c = classOf.get(a);
    if (c === undefined) {
      for (const [j, cls] of classes.entries()) {
        if (await verifier.equivalent(cls.answer, a)) {
          c = j;
          break;
        }
      }
      if (c === undefined) {
        c = classes.length;
        classes.push({ answer: a, count: 0, members: [] });
      }
      classOf.set(a, c);
    }
    const cls = classes[c] as { count: number; members: number[] };
    cls.count++;
    cls.members.push(i);
  }
  const order = classes.map((_, j) => j).sort((x, y) => classes[y]!.count - classes[x]!.count || x - y);
  const sorted = order.map((j) => classes[j]!);
  const top = sorted[0];
  return { answer: top?.answer ?? null, share: top ? top.count / answers.length : 0, classes: sorted };
}
