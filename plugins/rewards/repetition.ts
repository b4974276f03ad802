import { ngramProfile, pySplit, sentenceBleuProfiles } from './bleu.js';
import { agglomerativeLabels } from './cluster.js';

/**
 * Agent0's question distance matrix: `1 - BLEU` on whitespace tokens with method1 smoothing.
 * BLEU is not symmetric; as the released code does, the pair (i, j) with i < j scores question i
 * as the hypothesis against question j as the reference and mirrors it; the diagonal is 0.
 */
export function bleuDistanceMatrix(sentences: readonly string[]): number[][] {
  const n = sentences.length;
  const profiles = sentences.map((s) => ngramProfile(pySplit(s)));
  const dist = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = 1 - sentenceBleuProfiles([profiles[j]!], profiles[i]!);
      (dist[i] as number[])[j] = d;
      (dist[j] as number[])[i] = d;
    }
  }
  return dist;
}

export interface RepetitionResult {
  /** Cluster label of each sentence (0.. in order of first appearance). */
  labels: number[];
  /** |cluster(i)| / batch size: the repetition penalty of each sentence. */
  shares: number[];
}

/**
 * Clusters a batch of sentences by BLEU distance (average linkage, distance threshold) and gives
 * each its cluster's share of the batch. A batch of one is its own cluster (share 1).
 */
export function repetitionShares(sentences: readonly string[], threshold = 0.5): RepetitionResult {
  if (sentences.length === 0) return { labels: [], shares: [] };
  const labels = agglomerativeLabels(bleuDistanceMatrix(sentences), threshold);
  const size = new Map<number, number>();
  for (const l of labels) size.set(l, (size.get(l) ?? 0) + 1);
  return { labels, shares: labels.map((l) => (size.get(l) as number) / sentences.length) };
}
