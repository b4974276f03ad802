/**
 * Average-linkage agglomerative clustering on a precomputed distance matrix, cut at a distance
 * threshold: the labels of scikit-learn's `AgglomerativeClustering(metric="precomputed",
 * linkage="average", distance_threshold=t, n_clusters=None)` up to relabelling.
 *
 * scikit-learn builds the tree with SciPy's `linkage(..., method="average")`, which runs the
 * nearest-neighbour-chain algorithm on the upper triangle of the matrix. With tied distances the
 * merge order decides the tree (and so the clusters), so this follows that algorithm step by step,
 * including its scan order, its strict `<` and the Lance–Williams update of average linkage, rather
 * than a textbook greedy merge that would split ties differently.
 */

export interface Merge {
  /** Cluster ids as SciPy numbers them: 0..n-1 leaves, n+k the cluster made by merge k. */
  a: number;
  b: number;
  distance: number;
  size: number;
}

/** Reads the upper triangle (i < j) of a square matrix, the only part SciPy sees. */
function condensed(dist: readonly (readonly number[])[]): Float64Array {
  const n = dist.length;
  const out = new Float64Array((n * (n - 1)) / 2);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const row = dist[i];
    if (!row || row.length !== n)
      throw new Error(`distance matrix must be square: row ${i} has ${row?.length ?? 0} entries, expected ${n}`);
    for (let j = i + 1; j < n; j++) {
      const d = row[j] as number;
      if (!Number.isFinite(d)) throw new Error(`distance matrix entry (${i}, ${j}) is not finite: ${d}`);
      out[k++] = d;
    }
  }
  return out;
}

/**
 * The full average-linkage tree: n-1 merges sorted by distance (stable), with SciPy's cluster ids.
 * Input: a square matrix; only entries above the diagonal are read.
 */
export function averageLinkage(dist: readonly (readonly number[])[]): Merge[] {
  const n = dist.length;
  if (n < 2) return [];
  const D = condensed(dist);
  const idx = (i: number, j: number): number => {
    const [x, y] = i < j ? [i, j] : [j, i];
    return n * x - (x * (x + 1)) / 2 + (y - x - 1);
  };
  const size = new Int32Array(n).fill(1);
  const chain = new Int32Array(n);
  let chainLength = 0;
  const raw: { x: number; y: number; d: number; size: number }[] = [];
  for (let k = 0; k < n - 1; k++) {
    if (chainLength === 0) {
      chainLength = 1;
      for (let i = 0; i < n; i++)
        if (size[i]! > 0) {
          chain[0] = i;
          break;
        }
    }
    let x: number;
    let y = 0;
    let currentMin: number;
    for (;;) {
      x = chain[chainLength - 1]!;
      // Prefer the previous chain element on ties, so the chain cannot cycle.
      if (chainLength > 1) {
        y = chain[chainLength - 2]!;
        currentMin = D[idx(x, y)]!;
      } else {
        currentMin = Infinity;
      }
      for (let i = 0; i < n; i++) {
        if (size[i] === 0 || i === x) continue;
        const d = D[idx(x, i)]!;
        if (d < currentMin) {
          currentMin = d;
          y = i;
        }
      }
      if (chainLength > 1 && y === chain[chainLength - 2]) break;
      chain[chainLength++] = y;
    }
    chainLength -= 2;
    if (x > y) [x, y] = [y, x];
    const nx = size[x]!;
    const ny = size[y]!;
    raw.push({ x, y, d: currentMin, size: nx + ny });
    size[x] = 0;
    size[y] = nx + ny;
    for (let i = 0; i < n; i++) {
      const ni = size[i]!;
      if (ni === 0 || i === y) continue;
      D[idx(i, y)] = (nx * D[idx(i, x)]! + ny * D[idx(i, y)]!) / (nx + ny);
    }
  }
  // Stable sort by distance, then name clusters by merge order (SciPy's `label`), via union-find.
  const order = raw.map((_, i) => i).sort((p, q) => raw[p]!.d - raw[q]!.d || p - q);
  const parent = Array.from({ length: 2 * n - 1 }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  let next = n;
  return order.map((o) => {
    const m = raw[o]!;
    const a = find(m.x);
    const b = find(m.y);
    const id = next++;
    parent[a] = id;
    parent[b] = id;
    return { a: Math.min(a, b), b: Math.max(a, b), distance: m.d, size: m.size };
  });
}

/**
 * Flat clusters: merges at a distance below the threshold are kept, the rest undone (scikit-learn
 * sets n_clusters = #{merges with distance >= threshold} + 1 and cuts the top of the tree).
 * Labels are 0.. in order of each cluster's first member.
 */
export function agglomerativeLabels(dist: readonly (readonly number[])[], threshold: number): number[] {
  const n = dist.length;
  if (n === 0) return [];
  const merges = averageLinkage(dist);
  const parent = Array.from({ length: 2 * n - 1 }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]!]!;
      i = parent[i]!;
    }
    return i;
  };
  merges.forEach((m, k) => {
    if (m.distance >= threshold) return;
    parent[find(m.a)] = n + k;
    parent[find(m.b)] = n + k;
  });
  const labelOf = new Map<number, number>();
  return Array.from({ length: n }, (_, i) => {
    const r = find(i);
    let l = labelOf.get(r);
    if (l === undefined) {
      l = labelOf.size;
      labelOf.set(r, l);
    }
    return l;
  });
}
