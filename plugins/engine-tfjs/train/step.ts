import * as tf from '@tensorflow/tfjs';
import type { LossOutput, PolicyForward, TokenBatch, TrainStepOptions, TrainStepStats } from '../../../core/index.js';
import type { Qwen3Model } from '../model/qwen3.js';
import type { AdamW } from './adamw.js';
import { forwardLogProbs, microBatches } from './logprobs.js';

/** Adds `grads` (by variable name) into `accum` (by parameter key), taking ownership of them. */
export function accumulateGrads(
  accum: Map<string, tf.Tensor>,
  grads: tf.NamedTensorMap,
  nameOf: Map<string, string>,
): void {
  for (const [vn, g] of Object.entries(grads)) {
    const k = nameOf.get(vn) ?? vn;
    const prev = accum.get(k);
    if (prev) {
      accum.set(k, tf.add(prev, g));
      prev.dispose();
      g.dispose();
    } else {
      accum.set(k, g);
    }
  }
}

/**
 * One optimizer step with gradient accumulation: the loss of each micro-batch is scaled by its
 * share of rows, its gradients added into accumulators, then AdamW clips and applies the sum.
 */
export function trainStep(
  model: Qwen3Model,
  opt: AdamW,
  batch: TokenBatch,
  lossFn: (fwd: PolicyForward) => LossOutput,
  opts: TrainStepOptions & { microBatchSize: number },
): TrainStepStats {
  const B = batch.inputIds.length;
  if (B === 0) throw new Error('trainStep: empty batch');
  const vars = model.trainableVariables();
  const nameOf = new Map<string, string>();
  for (const [k, v] of model.params) nameOf.set(v.name, k);
  const accum = new Map<string, tf.Tensor>();
  const metricSums: Record<string, number> = {};
  let loss = 0;
  try {
    for (const rows of microBatches(B, opts.microBatchSize)) {
      const share = rows.length / B;
      const kept: Record<string, tf.Scalar | number> = {};
      const { value, grads } = tf.variableGrads(() => {
        const fwd = forwardLogProbs(model, batch, rows, opts.needEntropy ?? false);
        const out = lossFn({ logProbs: fwd.logProbs, ...(fwd.entropy ? { entropy: fwd.entropy } : {}), rows });
        for (const [k, m] of Object.entries(out.metrics ?? {})) kept[k] = typeof m === 'number' ? m : tf.keep(m);
        return tf.mul(out.loss, share) as tf.Scalar;
      }, vars);
      loss += value.dataSync()[0] as number;
      value.dispose();
      for (const [k, m] of Object.entries(kept)) {
        const x = typeof m === 'number' ? m : (m.dataSync()[0] as number);
        if (typeof m !== 'number') m.dispose();
        metricSums[k] = (metricSums[k] ?? 0) + x * share;
      }
      accumulateGrads(accum, grads, nameOf);
    }
    const { gradNorm, lr } = opt.apply(model.params, accum, opts.lr);
    let tokens = 0;
    for (const m of batch.attentionMask) for (const x of m) tokens += x > 0 ? 1 : 0;
    return { loss, gradNorm, lr, step: opt.step, tokens, metrics: metricSums };
  } finally {
    for (const g of accum.values()) g.dispose();
  }
}
