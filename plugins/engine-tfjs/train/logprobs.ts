import * as tf from '@tensorflow/tfjs';
import type { TokenBatch } from '../../../core/index.js';
import type { Qwen3Model } from '../model/qwen3.js';
import { rowEntropy, tokenLogProbs } from '../model/ops.js';

/** Rows `rows` of a right-padded batch as tensors: ids [b, T] int32 and the shifted targets. */
export function batchTensors(
  batch: TokenBatch,
  rows: number[],
): { ids: tf.Tensor2D; targets: tf.Tensor1D; targetMask: tf.Tensor2D; T: number } {
  const T = batch.inputIds[0]?.length ?? 0;
  const b = rows.length;
  const ids = new Int32Array(b * T);
  const targets = new Int32Array(b * T);
  const tmask = new Float32Array(b * T);
  rows.forEach((r, i) => {
    const row = batch.inputIds[r] as number[];
    const m = batch.attentionMask[r] as number[];
    if (row.length !== T || m.length !== T)
      throw new Error(`TokenBatch row ${r} has length ${row.length}/${m.length}, expected ${T}`);
    for (let t = 0; t < T; t++) {
      ids[i * T + t] = row[t] as number;
      // position t predicts token t+1; the last position predicts nothing.
      targets[i * T + t] = t + 1 < T ? (row[t + 1] as number) : 0;
      // Output column t holds log p(x_t | x_<t): defined for t ≥ 1 where x_t is a real token.
      tmask[i * T + t] = t >= 1 && (m[t] as number) > 0 ? 1 : 0;
    }
  });
  return {
    ids: tf.tensor2d(ids, [b, T], 'int32'),
    targets: tf.tensor1d(targets, 'int32'),
    targetMask: tf.tensor2d(tmask, [b, T]),
    T,
  };
}

/**
 * [b·T] values computed at position t (about token t+1) → [b, T] with column 0 = 0 and the rest shifted right by one.
 */
function shiftRight(v: tf.Tensor1D, b: number, T: number): tf.Tensor2D {
  const m = tf.reshape(v, [b, T]);
  return tf.pad(tf.slice(m, [0, 0], [b, T - 1]), [
    [0, 0],
    [1, 0],
  ]) as tf.Tensor2D;
}

/**
 * logProbs [b, T] (logProbs[i, t] = log p(x_t | x_<t), 0 at column 0 and at padding) and, when
 * asked, the entropy of the distribution that produced position t. Differentiable unless `inference`
 * (no tape will follow: faster kernels); call inside a tape or tidy.
 */
export function forwardLogProbs(
  model: Qwen3Model,
  batch: TokenBatch,
  rows: number[],
  needEntropy: boolean,
  inference = false,
): { logProbs: tf.Tensor2D; entropy?: tf.Tensor2D } {
  const { ids, targets, targetMask, T } = batchTensors(batch, rows);
  const b = rows.length;
  if (T < 2) {
    return {
      logProbs: tf.zeros([b, T]) as tf.Tensor2D,
      ...(needEntropy ? { entropy: tf.zeros([b, T]) as tf.Tensor2D } : {}),
    };
  }
  const { hidden } = model.forward(ids, { inference });
  const logits = model.head(hidden, undefined, inference);
  const logProbs = tf.mul(shiftRight(tokenLogProbs(logits, targets), b, T), targetMask) as tf.Tensor2D;
  if (!needEntropy) return { logProbs };
  const entropy = tf.mul(shiftRight(rowEntropy(logits), b, T), targetMask) as tf.Tensor2D;
  return { logProbs, entropy };
}

/**
 * Rows per micro-batch: the asked count (else `dflt`), lowered so rows × T stays within
 * `maxTokens` × `budgetScale` (0 = no cap).
 */
export function rowsPerMicroBatch(
  batch: TokenBatch,
  asked: number | undefined,
  dflt: number,
  maxTokens: number,
  budgetScale: number,
): number {
  const rows = asked ?? dflt;
  const T = batch.inputIds[0]?.length ?? 0;
  const budget = maxTokens * budgetScale;
  if (budget <= 0 || T === 0) return rows;
  return Math.max(1, Math.min(rows, Math.floor(budget / T)));
}

/** Micro-batches of row indices. */
export function microBatches(n: number, size: number): number[][] {
  const s = Math.max(1, Math.floor(size) || n);
  const out: number[][] = [];
  for (let i = 0; i < n; i += s) out.push(Array.from({ length: Math.min(s, n - i) }, (_, j) => i + j));
  return out;
}
