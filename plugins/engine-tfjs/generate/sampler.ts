import type { Rng } from '../../../core/index.js';

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
  // Sort ids by probability, descending (ties by id, so the order is deterministic).
  const order = Array.from({ length: V }, (_, j) => j).sort((a, b) => (probs[b] as number) - (probs[a] as number) || a - b);
  let keep = cfg.topK > 0 ? Math.min(cfg.topK, V) : V;
  if (cfg.topP < 1) {
    let kept = 0;
    for (let n = 0; n < keep; n++) kept += probs[order[n] as number] as number;
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
