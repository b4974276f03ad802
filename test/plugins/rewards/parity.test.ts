import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import {
  agglomerativeLabels,
  bleuDistanceMatrix,
  repetitionShares,
  sentenceBleuText,
} from '../../../plugins/rewards/public.js';

// Vectors from scripts/rewards_reference.py (Debian python3-nltk 3.8, python3-sklearn 1.2.1, scipy 1.10.1).
function fixture<T>(name: string): { versions: Record<string, string>; cases: T[] } {
  return JSON.parse(readFileSync(new URL(`../../fixtures/rewards/${name}.json`, import.meta.url), 'utf8'));
}

/** Canonical form of a labelling: clusters renamed in order of first appearance. */
function partition(labels: readonly number[]): number[] {
  const m = new Map<number, number>();
  return labels.map((l) => {
    if (!m.has(l)) m.set(l, m.size);
    return m.get(l) as number;
  });
}

interface BleuCase {
  reference: string;
  hypothesis: string;
  bleu: number;
}
interface ClusterCase {
  name: string;
  threshold: number;
  distances: number[][];
  labels: number[];
}
interface RepetitionCase {
  sentences: string[];
  threshold: number;
  distances: number[][];
  labels: number[];
  shares: number[];
}

describe('rewards parity with NLTK and scikit-learn', () => {
  const bleu = fixture<BleuCase>('bleu');
  it(`sentence BLEU (method1) equals NLTK ${bleu.versions.nltk} to 1e-12 on ${bleu.cases.length} pairs`, () => {
    let exact = 0;
    for (const c of bleu.cases) {
      const got = sentenceBleuText(c.reference, c.hypothesis);
      if (!(Math.abs(got - c.bleu) <= 1e-12))
        expect.fail(
          `BLEU(ref=${JSON.stringify(c.reference)}, hyp=${JSON.stringify(c.hypothesis)}): got ${got}, NLTK ${c.bleu}`,
        );
      if (got === c.bleu) exact++;
    }
    // most agree to the last bit; the rest differ by an ulp of log/exp between V8 and libm
    expect(exact).to.be.greaterThan(bleu.cases.length * 0.8);
  });

  const cl = fixture<ClusterCase>('clustering');
  it(`average-linkage labels equal AgglomerativeClustering (sklearn ${cl.versions.sklearn}) as partitions on ${cl.cases.length} matrices, ties included`, () => {
    for (const c of cl.cases) {
      expect(partition(agglomerativeLabels(c.distances, c.threshold)), c.name).to.deep.equal(partition(c.labels));
    }
  });

  const rep = fixture<RepetitionCase>('repetition');
  it(`Agent0's cluster_share_per_problem: distance matrices, clusters and shares on ${rep.cases.length} batches`, () => {
    for (const [k, c] of rep.cases.entries()) {
      const d = bleuDistanceMatrix(c.sentences);
      d.forEach((row, i) =>
        row.forEach((x, j) => {
          if (!(Math.abs(x - (c.distances[i]?.[j] as number)) <= 1e-12))
            expect.fail(`batch ${k} distance (${i}, ${j}): got ${x}, reference ${c.distances[i]?.[j]}`);
        }),
      );
      const r = repetitionShares(c.sentences, c.threshold);
      expect(partition(r.labels), `batch ${k}`).to.deep.equal(partition(c.labels));
      expect(r.shares, `batch ${k}`).to.deep.equal(c.shares);
    }
  });
});
