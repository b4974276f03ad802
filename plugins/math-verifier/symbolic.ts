import type { CompareOptions, SymbolicCheck } from './compare-options.js';
import { close, samplePoints } from './expr-compare.js';

/**
 * Symbolic equality through @cortex-js/compute-engine, for expressions outside the local grammar:
 * an invalid parse is "not equal"; `isEqual` decides when it can; when it is undecided, both sides
 * are evaluated at random points (all must agree, at least 3 defined). Loaded lazily: the import
 * costs ~100 ms, so only workers pay it.
 */
export async function loadSymbolic(): Promise<SymbolicCheck> {
  const { ComputeEngine } = await import('@cortex-js/compute-engine');
  const ce = new ComputeEngine();
  return (gold: string, pred: string, o: CompareOptions) => {
    try {
      const a = ce.parse(gold);
      const b = ce.parse(pred);
      if (!a.isValid || !b.isValid) return null;
      const same = a.isEqual(b);
      if (same !== undefined) return same;
      const vars = [...new Set([...a.unknowns, ...b.unknowns])];
      let valid = 0;
      for (const [env] of samplePoints(vars, new Map(), o.points)) {
        const subs = Object.fromEntries([...env].map(([k, v]) => [k, ce.number(v)]));
        const va = a.subs(subs).N();
        const vb = b.subs(subs).N();
        const [ra, ia, rb, ib] = [va.re, va.im, vb.re, vb.im];
        if (![ra, ia, rb, ib].every(Number.isFinite)) continue;
        if (!close(ra, rb, o) || !close(ia, ib, o)) return false;
        if (++valid >= o.points) break;
      }
      return valid >= Math.min(3, o.points) ? true : null;
    } catch {
      return null;
    }
  };
}
