import type { PeerProbe } from './peer.js';

/** Whether a tfjs / PyTorch ratio means anything, given how the peer ran. */
export interface PeerVerdict {
  /** The peer is crippled: a ratio against it would mislead, so it is not printed unless asked for. */
  withhold: boolean;
  /** Why the ratio is withheld or should be read with care; empty for a sound peer. */
  problems: string[];
}

export const OPTIMISED_BLAS_HINT =
  "install an optimised BLAS (Debian/Ubuntu: apt-get install libopenblas0-pthread) or use PyTorch's own wheels (MKL)";

/**
 * Judges the peer against the tfjs side. The reference BLAS (netlib, Debian's libblas3) is the
 * plain loop-nest implementation, single-threaded: PyTorch on it ran the small model's training step
 * 12x and its log-probs 19x slower than on OpenBLAS here, so a ratio against it is withheld. A peer
 * on fewer threads than the tfjs side uses, or whose BLAS could not be named, is flagged.
 */
export function judgePeer(peer: PeerProbe, threads: number): PeerVerdict {
  const problems: string[] = [];
  let withhold = false;
  const b = peer.blas as PeerProbe['blas'] | undefined;
  if (!b) {
    problems.push('the peer did not report its BLAS (an older bench/peers/qwen3_torch.py?)');
  } else if (b.library === 'reference') {
    withhold = true;
    problems.push(
      `PyTorch's matmuls ran on the reference BLAS (${b.detail}${b.path ? `, ${b.path}` : ''}): ${OPTIMISED_BLAS_HINT}`,
    );
  } else if (b.library === 'unknown') {
    problems.push(
      `could not tell which BLAS PyTorch's matmuls ran on (${b.detail || 'sgemm_ not found'}${b.path ? `, ${b.path}` : ''})`,
    );
  }
  const budget = Math.max(peer.threads, b?.threads ?? 0);
  if (budget < threads)
    problems.push(`PyTorch ran on ${budget} thread(s), fewer than the ${threads} the tfjs side uses`);
  return { withhold, problems };
}

/** One line naming the peer's kernel library and threads, for the report. */
export function describePeer(p: PeerProbe): string {
  const b = p.blas as PeerProbe['blas'] | undefined;
  const lib = b ? `${b.detail || b.library}${b.path ? ` [${b.path}]` : ''}` : 'an unreported BLAS';
  return `PyTorch ${p.torch} on ${lib}; BLAS threads ${b?.threads ?? '?'}, torch threads ${p.threads}`;
}
