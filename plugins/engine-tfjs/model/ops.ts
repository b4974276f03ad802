import * as tf from '@tensorflow/tfjs';

/**
 * Layer math written for the wasm backend's fast path: XNNPACK serves only rank-2, batch-1,
 * untransposed matmuls, so weights are stored [in, out] and backward passes transpose explicitly
 * instead of letting autodiff emit transposed matmuls (a scalar loop ~20x slower there).
 * With `rank2Grads` off (tfjs-node, cpu) plain autodiff is used.
 */
export interface OpsMode {
  rank2Grads: boolean;
  /**
   * Attention runs as per-(row, kv head) rank-2 matmuls once each slice does at least this many
   * multiply-adds (M·tK·hd); below it one batched matmul's dispatch is cheaper. Default 32768.
   */
  slicedAttentionMinWork?: number;
}

type GradFn = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
/** tf.customGrad with the loose typing its overloads need (inputs..., save) → {value, gradFunc}. */
function custom(f: (...args: never[]) => { value: tf.Tensor; gradFunc: GradFn }): (...xs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (
    ...xs: tf.Tensor[]
  ) => tf.Tensor;
}

/**
 * tf.tidy for functions returning plain objects of tensors (typed interfaces lack TensorContainer's index signature).
 */
export function tidyObj<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

const linearRank2 = custom((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(sw)), tf.matMul(tf.transpose(sx), dy as tf.Tensor2D)];
    },
  };
});

/** x [N, in] @ w [in, out] → [N, out]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, mode: OpsMode): tf.Tensor2D {
  return mode.rank2Grads ? (linearRank2(x, w) as tf.Tensor2D) : tf.matMul(x, w);
}

/**
 * Rows of `table` [V, d] at `ids` [N] → [N, d]. Gather's own gradient needs UnsortedSegmentSum,
 * which wasm lacks; scatterND sums duplicate ids the same way.
 */
export function embedRows(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  // ids is an input (and saved) rather than captured: the tape frees forward-pass intermediates
  // that a gradient function did not save before it runs the backward pass.
  const f = custom((t: tf.Tensor2D, i: tf.Tensor1D, save: tf.GradSaveFunc) => {
    save([i]);
    return {
      value: tf.gather(t, i),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const si = saved[0] as tf.Tensor1D;
        return [tf.scatterND(tf.reshape(si, [-1, 1]), dy, t.shape), tf.zerosLike(si)];
      },
    };
  });
  return f(table, ids) as tf.Tensor2D;
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) * w. */
export function rmsNorm(x: tf.Tensor, w: tf.Tensor1D, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w);
}

/**
 * rotate_half as a matmul with a signed permutation R [hd, hd] (y = x @ R), avoiding slice and
 * concat. R is antisymmetric, so the backward pass is dy @ Rᵀ = -(dy @ R).
 */
export function rotateHalfMatrix(hd: number): tf.Tensor2D {
  const h = hd / 2;
  const r = new Float32Array(hd * hd);
  for (let i = 0; i < h; i++) {
    r[(i + h) * hd + i] = -1; // y[i] = -x[i + h]
    r[i * hd + (i + h)] = 1; // y[i + h] = x[i]
  }
  return tf.tensor2d(r, [hd, hd]);
}

export function rotateHalf(x2d: tf.Tensor2D, r: tf.Tensor2D): tf.Tensor2D {
  const f = custom((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
    save([]);
    return { value: tf.matMul(x, r), gradFunc: (dy: tf.Tensor) => [tf.neg(tf.matMul(dy as tf.Tensor2D, r))] };
  });
  return f(x2d) as tf.Tensor2D;
}

/** cos/sin tables [maxPos, hd] as HF Qwen3 builds them (frequencies duplicated across halves). */
export function ropeTables(maxPos: number, hd: number, theta: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const h = hd / 2;
  const cos = new Float32Array(maxPos * hd);
  const sin = new Float32Array(maxPos * hd);
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < h; i++) {
      // HF computes inv_freq in fp32 and the angle in fp32; match its rounding.
      const invFreq = Math.fround(1 / Math.pow(theta, (2 * i) / hd));
      const a = Math.fround(p * invFreq);
      cos[p * hd + i] = cos[p * hd + i + h] = Math.cos(a);
      sin[p * hd + i] = sin[p * hd + i + h] = Math.sin(a);
    }
  }
  return { cos: tf.tensor2d(cos, [maxPos, hd]), sin: tf.tensor2d(sin, [maxPos, hd]) };
}

/**
 * log p(target) per row of logits [N, V] → [N]. Written by hand so the backward pass is one
 * fused expression, dlogits = dy · (onehot − softmax), instead of autodiff through logSoftmax.
 */
export function tokenLogProbs(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D {
  const v = logits.shape[1];
  const f = custom((l: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const lse = tf.logSumExp(l, 1, true);
    const oh = tf.oneHot(targets, v);
    save([l, lse, oh]);
    const picked = tf.sum(tf.mul(l, oh), 1);
    return {
      value: tf.sub(picked, tf.reshape(lse, [-1])),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sl, slse, soh] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const p = tf.exp(tf.sub(sl, slse));
        return [tf.mul(tf.reshape(dy, [-1, 1]), tf.sub(soh, p))];
      },
    };
  });
  return f(logits) as tf.Tensor1D;
}

/** Entropy of softmax(logits) per row [N, V] → [N] (differentiable by autodiff). */
export function rowEntropy(logits: tf.Tensor2D): tf.Tensor1D {
  const lsm = tf.logSoftmax(logits, 1);
  return tf.neg(tf.sum(tf.mul(tf.exp(lsm), lsm), 1)) as tf.Tensor1D;
}

/** [N, a, b] → N rank-2 slices (Unpack; our wasm Unpack copies only each slice). */
function slices(x: tf.Tensor3D): tf.Tensor2D[] {
  return tf.unstack(x) as tf.Tensor2D[];
}

/** Σᵢ xsᵢ @ ysᵢ stacked: N untransposed rank-2 matmuls, the only kind wasm runs through XNNPACK. */
function sliceMatMul(xs: tf.Tensor2D[], ys: tf.Tensor2D[]): tf.Tensor3D {
  return tf.stack(xs.map((x, i) => tf.matMul(x, ys[i] as tf.Tensor2D))) as tf.Tensor3D;
}

/**
 * softmax(q kᵀ · scale + mask) v for q [B, KV, M, hd], k and v [B, KV, tK, hd], mask broadcastable
 * to [B, KV, M, tK] (additive, constant). On wasm, when slices are large enough, every matmul
 * (forward and backward) is a rank-2 untransposed one with explicit transposes, instead of batched
 * matmuls with transpose flags that wasm runs as a scalar loop (~10x slower).
 */
export function attention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  mask: tf.Tensor,
  scale: number,
  mode: OpsMode,
): tf.Tensor4D {
  const [B, KV, M, hd] = q.shape;
  const tK = k.shape[2];
  if (!mode.rank2Grads || M * tK * hd < (mode.slicedAttentionMinWork ?? 32768)) {
    const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), scale), mask);
    return tf.matMul(tf.softmax(scores), v) as tf.Tensor4D;
  }
  const N = B * KV;
  const f = custom((q3: tf.Tensor3D, k3: tf.Tensor3D, v3: tf.Tensor3D, save: tf.GradSaveFunc) => {
    const kT = slices(tf.transpose(k3, [0, 2, 1]));
    const s = tf.reshape(sliceMatMul(slices(q3), kT), [B, KV, M, tK]);
    const p = tf.reshape(tf.softmax(tf.add(tf.mul(s, scale), mask)), [N, M, tK]) as tf.Tensor3D;
    save([q3, k3, v3, p]);
    return {
      value: sliceMatMul(slices(p), slices(v3)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sq, sk, sv, sp] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
        const dO = slices(dy as tf.Tensor3D);
        const dV = sliceMatMul(slices(tf.transpose(sp, [0, 2, 1])), dO);
        const dP = sliceMatMul(dO, slices(tf.transpose(sv, [0, 2, 1])));
        // softmax backward: dS = P ⊙ (dP − Σⱼ dP ⊙ P), then the scale.
        const dS = tf.mul(tf.mul(sp, tf.sub(dP, tf.sum(tf.mul(dP, sp), -1, true))), scale) as tf.Tensor3D;
        const dQ = sliceMatMul(slices(dS), slices(sk));
        const dK = sliceMatMul(slices(tf.transpose(dS, [0, 2, 1])), slices(sq));
        return [dQ, dK, dV];
      },
    };
  });
  const out = f(tf.reshape(q, [N, M, hd]), tf.reshape(k, [N, tK, hd]), tf.reshape(v, [N, tK, hd]));
  return tf.reshape(out, [B, KV, M, hd]) as tf.Tensor4D;
}
