import * as tf from '@tensorflow/tfjs';

/** x where mask > 0, else 0; `where` (not a product) so inf/NaN at masked positions cannot leak. */
export function applyMask<T extends tf.Tensor>(x: T, mask: tf.Tensor): T {
  return tf.tidy(() => tf.where(tf.greater(mask, 0), x, tf.zerosLike(x))) as T;
}

/** Σ x·m / max(Σ m, 1) over all elements → scalar. */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(applyMask(x, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar);
}

/** Max / min of x over masked elements; 0 when nothing is masked in. */
export function maskedMax(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const any = tf.greater(tf.sum(mask), 0);
    const m = tf.max(tf.where(tf.greater(mask, 0), x, tf.fill(x.shape, -Infinity)));
    return tf.where(any, m, tf.scalar(0)) as tf.Scalar;
  });
}

export function maskedMin(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.neg(maskedMax(tf.neg(x), mask)) as tf.Scalar);
}

/** Row-major copy of a [B, T] mask as plain arrays (advantages are computed in float64 on the CPU). */
export function maskRows(mask: tf.Tensor2D): number[][] {
  return mask.arraySync();
}

/**
 * Whitening over the masked elements of a whole batch, in float64:
 *   (x - μ) / sqrt(σ² + eps),  μ, σ² the masked mean and unbiased (n - 1) variance; 0 off the mask.
 */
export function maskedWhitenRows(x: number[][], mask: number[][], eps = 1e-8): number[][] {
  let n = 0,
    sum = 0;
  x.forEach((row, i) =>
    row.forEach((v, t) => {
      if (mask[i][t] > 0) {
        n++;
        sum += v;
      }
    }),
  );
  const mean = n > 0 ? sum / n : 0;
  let ss = 0;
  x.forEach((row, i) =>
    row.forEach((v, t) => {
      if (mask[i][t] > 0) ss += (v - mean) ** 2;
    }),
  );
  const variance = n > 1 ? ss / (n - 1) : 0;
  const inv = 1 / Math.sqrt(variance + eps);
  return x.map((row, i) => row.map((v, t) => (mask[i][t] > 0 ? (v - mean) * inv : 0)));
}

/** tf.tidy for results typed as interfaces (tfjs wants an index signature); tensors inside are kept. */
export function tidyResult<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}
