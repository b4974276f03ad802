import * as tf from '@tensorflow/tfjs';
import { type AdamWConfig, lrAt } from '../../../core/index.js';

export { type AdamWConfig, lrAt };

export const DEFAULT_ADAMW: AdamWConfig = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  warmupSteps: 0,
  maxGradNorm: 1,
};

/** Decoupled weight decay (Loshchilov & Hutter), applied to matrices only (not norms). */
export class AdamW {
  step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(public cfg: AdamWConfig) {}

  /**
   * Clips `grads` to maxGradNorm (global L2), then updates `params` in place. Returns the
   * pre-clip norm and the lr used (`lrOverride` replaces the schedule for this step). Does not
   * dispose `grads`.
   */
  apply(
    params: Map<string, tf.Variable>,
    grads: Map<string, tf.Tensor>,
    lrOverride?: number,
  ): { gradNorm: number; lr: number } {
    this.step += 1;
    const lr = lrOverride ?? lrAt(this.cfg, this.step);
    const { beta1: b1, beta2: b2, eps, weightDecay: wd } = this.cfg;
    const gradNorm = tf.tidy(() => {
      const sq = [...grads.values()].map((g) => tf.sum(tf.square(g)));
      return Math.sqrt(tf.addN(sq).dataSync()[0] as number);
    });
    const clip =
      this.cfg.maxGradNorm > 0 && gradNorm > this.cfg.maxGradNorm ? this.cfg.maxGradNorm / (gradNorm + 1e-6) : 1;
    const bc1 = 1 - Math.pow(b1, this.step);
    const bc2 = 1 - Math.pow(b2, this.step);
    for (const [name, p] of params) {
      const g0 = grads.get(name);
      if (!g0) continue;
      if (!this.m.has(name)) {
        this.m.set(
          name,
          tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
        );
        this.v.set(
          name,
          tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
        );
      }
      const m = this.m.get(name) as tf.Variable;
      const v = this.v.get(name) as tf.Variable;
      tf.tidy(() => {
        const g = clip === 1 ? g0 : tf.mul(g0, clip);
        const m1 = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const v1 = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        m.assign(m1);
        v.assign(v1);
        const upd = tf.div(tf.div(m1, bc1), tf.add(tf.sqrt(tf.div(v1, bc2)), eps));
        const decayed = wd > 0 && p.rank >= 2 ? tf.mul(p, 1 - lr * wd) : p;
        p.assign(tf.sub(decayed, tf.mul(upd, lr)));
      });
    }
    return { gradNorm, lr };
  }

  /** Moments and step as host arrays (for the checkpoint's optimizer file). */
  state(): { step: number; m: Map<string, Float32Array>; v: Map<string, Float32Array> } {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const [k, t] of this.m) m.set(k, t.dataSync() as Float32Array);
    for (const [k, t] of this.v) v.set(k, t.dataSync() as Float32Array);
    return { step: this.step, m, v };
  }

  setState(
    step: number,
    m: Map<string, { shape: number[]; data: Float32Array }>,
    v: Map<string, { shape: number[]; data: Float32Array }>,
  ): void {
    this.dispose();
    this.step = step;
    for (const [k, t] of m)
      this.m.set(
        k,
        tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape), false)),
      );
    for (const [k, t] of v)
      this.v.set(
        k,
        tf.tidy(() => tf.variable(tf.tensor(t.data, t.shape), false)),
      );
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
