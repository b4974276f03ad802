import type { SymbolicCheck } from './compare.js';

/**
 * Symbolic equality through @cortex-js/compute-engine, for expressions outside the local grammar.
 * Invalid parses and undecided comparisons (`isEqual` returning undefined) count as "not equal".
 * Loaded lazily: the import costs ~100 ms, so only workers pay it.
 */
export async function loadSymbolic(): Promise<SymbolicCheck> {
  const { ComputeEngine } = await import('@cortex-js/compute-engine');
  const ce = new ComputeEngine();
  return (gold, pred) => {
    try {
      const a = ce.parse(gold);
      const b = ce.parse(pred);
      if (!a.isValid || !b.isValid) return null;
      const same = a.isEqual(b);
      return same === undefined ? null : same;
    } catch {
      return null;
    }
  };
}
