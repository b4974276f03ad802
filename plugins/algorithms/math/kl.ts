import * as tf from '@tensorflow/tfjs';

export const KL_TYPES = ['k1', 'abs', 'k2', 'mse', 'k3', 'low_var_kl'] as const;
export type KlBase = (typeof KL_TYPES)[number];
/** A base type, or `<base>+`: the base's value with k2's (unbiased) gradient, straight-through. */
export type KlType = KlBase | `${KlBase}+`;

/**
 * Per-token KL estimates of π against the reference, with d = logp - ref: [B, T] → [B, T]
 *   k1: d;  abs: |d| (gradient sign d, 0 at d = 0);  k2 / mse: d²/2;  k3 / low_var_kl: clamp(e^{-d} + d - 1, -10, 10).
 */
export function klBase(type: KlBase, logp: tf.Tensor2D, ref: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const d = tf.sub(logp, ref);
    switch (type) {
      case 'k1':
        return d as tf.Tensor2D;
      // d · sign(d), not tf.abs: tf.abs has gradient -1 at d = 0, i.e. at every token while the policy still
      // equals its reference; this form has the subgradient 0 there.
      case 'abs':
        return tf.mul(d, tf.sign(d)) as tf.Tensor2D;
      case 'k2':
      case 'mse':
        return tf.mul(tf.square(d), 0.5) as tf.Tensor2D;
      case 'k3':
      case 'low_var_kl': {
        // |d| > 20 already lands on the ±10 clamp; bounding it first keeps exp finite (no NaN gradient).
        const kl = tf.clipByValue(tf.neg(d), -20, 20);
        return tf.clipByValue(tf.sub(tf.sub(tf.exp(kl), kl), 1), -10, 10) as tf.Tensor2D;
      }
      default:
        throw new Error(
          `unknown KL type '${type as string}'; supported: ${KL_TYPES.join(', ')} and their '+' variants`,
        );
    }
  });
}

/** Value of `fwd`, gradient d(logp - ref) w.r.t. logp (k2's), none to the reference. */
const straightThrough = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [fwd, logp, ref] = args as tf.Tensor[];
  (args[3] as tf.GradSaveFunc)([logp, ref]);
  return {
    value: tf.clone(fwd),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      tf.zerosLike(dy),
      tf.mul(dy, tf.sub(saved[0], saved[1])),
      tf.zerosLike(dy),
    ],
  };
});

export function parseKlType(type: string): { base: KlBase; straightThrough: boolean } {
  const st = type.endsWith('+');
  const base = (st ? type.slice(0, -1) : type) as KlBase;
  if (!(KL_TYPES as readonly string[]).includes(base)) {
    throw new Error(`unknown KL type '${type}'; supported: ${KL_TYPES.join(', ')} and their '+' variants`);
  }
  return { base, straightThrough: st };
}

export function klPenalty(type: KlType | string, logp: tf.Tensor2D, ref: tf.Tensor2D): tf.Tensor2D {
  const { base, straightThrough: st } = parseKlType(type);
  if (!st) return klBase(base, logp, ref);
  return tf.tidy(() => straightThrough(klBase(base, logp, ref), logp, ref) as tf.Tensor2D);
}
