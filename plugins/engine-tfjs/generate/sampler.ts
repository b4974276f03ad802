import type { Rng, TopLogProb } from '../../../core/index.js';

export interface SampleConfig {
  /** 0 = greedy. */
  temperature: number;
  /** 1 = off. */
  topP: number;
  /** 0 = off. */
  topK: number;
}

/** log softmax(logits)[i] for one row. */
export function logSoftmaxAt(logits: Float32Array, i: number): number {
  let max = -Infinity;
  for (let j = 0; j < logits.length; j++) if ((logits[j] as number) > max) max = logits[j] as number;
  let sum = 0;
  for (let j = 0; j < logits.length; j++) sum += Math.exp((logits[j] as number) - max);
  return (logits[i] as number) - max - Math.log(sum);
}

/**
 * The `k` largest entries of log softmax(logits), most likely first, ties by lower id; each value
 * is computed as logSoftmaxAt computes it, so the sampled token's entry equals its log-prob.
 */
export function topLogProbs(logits: Float32Array, k: number): TopLogProb[] {
  const V = logits.length;
  const want = Math.min(k, V);
  if (want <= 0) return [];
  let max = -Infinity;
  for (let j = 0; j < V; j++) if ((logits[j] as number) > max) max = logits[j] as number;
  let sum = 0;
  for (let j = 0; j < V; j++) sum += Math.exp((logits[j] as number) - max);
  const logSum = Math.log(sum);
  // A descending list of the best `want` so far: k is small (<= 20), one pass over the vocabulary.
  const ids: number[] = [];
  const vals: number[] = [];
  for (let j = 0; j < V; j++) {
    const v = logits[j] as number;
    if (ids.length === want && !(v > (vals[want - 1] as number))) continue;
    let at = ids.length === want ? want - 1 : ids.length;
    while (at > 0 && v > (vals[at - 1] as number)) at--;
    ids.splice(at, 0, j);
    vals.splice(at, 0, v);
    if (ids.length > want) {
      ids.pop();
      vals.pop();
    }
  }
  return ids.map((id, i) => ({ id, logProb: (vals[i] as number) - max - logSum }));
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let j = 1; j < logits.length; j++) if ((logits[j] as number) > (logits[best] as number)) best = j;
  return best;
}

/**
 * Draws one token id from a row of logits: temperature, then top-k, then top-p (the smallest set
 * of most likely tokens whose probability reaches p), as HF's warpers apply them.
 */
export function sampleToken(logits: Float32Array, cfg: SampleConfig, rng: Rng): number {
  if (!(cfg.temperature > 0)) return argmax(logits);
  const V = logits.length;
  const inv = 1 / cfg.temperature;
  let max = -Infinity;
  for (let j = 0; j < V; j++) if ((logits[j] as number) > max) max = logits[j] as number;
  const probs = new Float64Array(V);
  let sum = 0;
  for (let j = 0; j < V; j++) {
    const e = Math.exp(((logits[j] as number) - max) * inv);
    probs[j] = e;
    sum += e;
  }
  const restrict = (cfg.topK > 0 && cfg.topK < V) || cfg.topP < 1;
  if (!restrict) {
    let u = rng.next() * sum;
    for (let j = 0; j < V; j++) {
      u -= probs[j] as number;
      if (u < 0) return j;
    }
    return argmax(logits);
  }
  const order = sortedHead(probs, sum, cfg);
  let keep = cfg.topK > 0 ? Math.min(cfg.topK, order.length) : order.length;
  if (cfg.topP < 1) {
    // The mass top-p is taken of: the top-k ids', or the whole distribution's.
    let kept = 0;
    if (cfg.topK > 0) for (let n = 0; n < keep; n++) kept += probs[order[n] as number] as number;
    else kept = sum;
    let cum = 0;
    for (let n = 0; n < keep; n++) {
      cum += probs[order[n] as number] as number;
      if (cum >= cfg.topP * kept) {
        keep = n + 1;
        break;
      }
    }
  }
  let total = 0;
  for (let n = 0; n < keep; n++) total += probs[order[n] as number] as number;
  let u = rng.next() * total;
  for (let n = 0; n < keep; n++) {
    u -= probs[order[n] as number] as number;
    if (u < 0) return order[n] as number;
  }
  return order[keep - 1] as number;
}

/**
 * Ids by probability, descending (ties by id, so the order is deterministic), as far down as
 * top-k / top-p can reach. With a 150k vocabulary a full sort per row per step is the slowest
 * part of sampling; usually a few hundred ids above max·1e-4 already hold the top-k ids or the
 * top-p mass, and only when they do not is everything sorted.
 */
function sortedHead(probs: Float64Array, sum: number, cfg: SampleConfig): number[] {
  const V = probs.length;
  const byProb = (a: number, b: number): number => (probs[b] as number) - (probs[a] as number) || a - b;
  let max = 0;
  for (let j = 0; j < V; j++) if ((probs[j] as number) > max) max = probs[j] as number;
  const cut = max * 1e-4;
  const head: number[] = [];
  let headMass = 0;
  for (let j = 0; j < V; j++) {
    if ((probs[j] as number) >= cut) {
      head.push(j);
      headMass += probs[j] as number;
    }
  }
  head.sort(byProb);
  // Every id left out is below `cut` and so ranks below every id kept (ties included).
  const kEnough = cfg.topK > 0 && head.length >= cfg.topK;
  let pEnough = false;
  if (cfg.topP < 1 && !kEnough) {
    // Top-p over the whole distribution: the head must reach p of the total mass (cfg.topK = 0).
    pEnough = cfg.topK === 0 && headMass >= cfg.topP * sum;
  }
  if (kEnough || pEnough || head.length === V) return head;
  return Array.from({ length: V }, (_, j) => j).sort(byProb);
}
