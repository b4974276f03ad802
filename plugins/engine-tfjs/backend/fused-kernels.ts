import * as tf from '@tensorflow/tfjs';

/**
 * Fused inference kernels for the wasm backend, written in JS over views of the wasm heap. At
 * decode time (one new token per row, a few rows) each tfjs op costs more to dispatch than to run:
 * an RMSNorm is six kernels, q/k-norm + RoPE about twenty-four per layer. These do the same
 * arithmetic in one pass each. They have no gradients: the model uses them only outside a tape
 * (ForwardOptions.inference) and only on wasm; everywhere else it runs the plain ops.
 */

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown };

export const RMS_NORM = 'Agent0RmsNorm';
export const QKV_NORM_ROPE = 'Agent0QkvNormRope';
export const SWIGLU = 'Agent0SwiGlu';

/** out[r] = x[r] / sqrt(mean(x[r]²) + eps) · w, rows of length n starting at xOff + r·stride. */
function normRow(
  x: ArrayLike<number>,
  xOff: number,
  w: ArrayLike<number>,
  n: number,
  eps: number,
  out: Float32Array,
  oOff: number,
): void {
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xOff + i] as number;
    ss += v * v;
  }
  const inv = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) out[oOff + i] = (x[xOff + i] as number) * inv * (w[i] as number);
}

function rmsNormKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const x = inputs.x as tf.TensorInfo;
  const w = inputs.w as tf.TensorInfo;
  const eps = (attrs as { eps: number }).eps;
  const d = x.shape[x.shape.length - 1] as number;
  const rows = tf.util.sizeFromShape(x.shape) / d;
  const out = b.makeOutput(x.shape, 'float32');
  const [xv, wv, ov] = [b.typedArrayFromHeap(x), b.typedArrayFromHeap(w), b.typedArrayFromHeap(out) as Float32Array];
  for (let r = 0; r < rows; r++) normRow(xv, r * d, wv, d, eps, ov, r * d);
  return out;
}

/**
 * qkv [N, (H + 2·KV)·hd] (one row per token) → q [N, H, hd] and k [N, KV, hd], each RMS-normed
 * per head (q_norm / k_norm) and rotated by RoPE at that token's position (pos [N] int32, rows of
 * the cos/sin tables), and v [N, KV, hd] copied out. HF's rotate_half: the first half of a head
 * pairs with minus the second.
 */
function qkvNormRopeKernel({ inputs, attrs, backend }: KernelArgs): tf.TensorInfo[] {
  const b = backend as WasmBackendLike;
  const { qkv, qw, kw, cos, sin, pos } = inputs as Record<string, tf.TensorInfo>;
  const {
    heads: H,
    kvHeads: KV,
    headDim: hd,
    eps,
  } = attrs as { heads: number; kvHeads: number; headDim: number; eps: number };
  const N = (qkv as tf.TensorInfo).shape[0] as number;
  const q = b.makeOutput([N, H, hd], 'float32');
  const k = b.makeOutput([N, KV, hd], 'float32');
  const v = b.makeOutput([N, KV, hd], 'float32');
  const x = b.typedArrayFromHeap(qkv as tf.TensorInfo);
  const [qwv, kwv, cv, sv] = [qw, kw, cos, sin].map((t) => b.typedArrayFromHeap(t as tf.TensorInfo));
  const pv = b.typedArrayFromHeap(pos as tf.TensorInfo);
  const [qo, ko, vo] = [q, k, v].map((t) => b.typedArrayFromHeap(t) as Float32Array) as [
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const width = (H + 2 * KV) * hd;
  const half = hd / 2;
  const tmp = new Float32Array(hd);
  const rope = (out: Float32Array, off: number, p: number): void => {
    const c = p * hd;
    for (let i = 0; i < half; i++) {
      const a = tmp[i] as number;
      const z = tmp[i + half] as number;
      out[off + i] = a * (cv[c + i] as number) - z * (sv[c + i] as number);
      out[off + i + half] = z * (cv[c + i + half] as number) + a * (sv[c + i + half] as number);
    }
  };
  for (let n = 0; n < N; n++) {
    const row = n * width;
    const p = pv[n] as number;
    for (let h = 0; h < H; h++) {
      normRow(x, row + h * hd, qwv as ArrayLike<number>, hd, eps, tmp, 0);
      rope(qo, (n * H + h) * hd, p);
    }
    for (let h = 0; h < KV; h++) {
      normRow(x, row + (H + h) * hd, kwv as ArrayLike<number>, hd, eps, tmp, 0);
      rope(ko, (n * KV + h) * hd, p);
    }
    const vStart = row + (H + KV) * hd;
    vo.set((x as Float32Array).subarray(vStart, vStart + KV * hd), n * KV * hd);
  }
  return [q, k, v];
}

/** gu [N, 2·ff] (gate | up) → silu(gate) · up [N, ff]. */
function swigluKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const b = backend as WasmBackendLike;
  const gu = inputs.gu as tf.TensorInfo;
  const [N, twoFf] = gu.shape as [number, number];
  const ff = twoFf / 2;
  const out = b.makeOutput([N, ff], 'float32');
  const x = b.typedArrayFromHeap(gu);
  const o = b.typedArrayFromHeap(out) as Float32Array;
  for (let n = 0; n < N; n++) {
    const g0 = n * twoFf;
    for (let i = 0; i < ff; i++) {
      const g = x[g0 + i] as number;
      o[n * ff + i] = (g / (1 + Math.exp(-g))) * (x[g0 + ff + i] as number);
    }
  }
  return out;
}

let registered = false;

export function registerFusedKernels(): void {
  if (registered) return;
  for (const [name, fn] of [
    [RMS_NORM, rmsNormKernel],
    [QKV_NORM_ROPE, qkvNormRopeKernel],
    [SWIGLU, swigluKernel],
  ] as const) {
    if (!tf.getKernel(name, 'wasm'))
      tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fn as unknown as tf.KernelFunc });
  }
  registered = true;
}

/** Whether the fused kernels can run on the active backend. */
export function fusedAvailable(): boolean {
  return tf.getBackend() === 'wasm' && tf.getKernel(RMS_NORM, 'wasm') !== undefined;
}

export function fusedRmsNorm(x: tf.Tensor2D, w: tf.Tensor1D, eps: number): tf.Tensor2D {
  return tf.engine().runKernel(RMS_NORM, { x, w }, { eps }) as tf.Tensor2D;
}

export function fusedQkvNormRope(
  qkv: tf.Tensor2D,
  qw: tf.Tensor1D,
  kw: tf.Tensor1D,
  cos: tf.Tensor2D,
  sin: tf.Tensor2D,
  pos: tf.Tensor1D,
  heads: number,
  kvHeads: number,
  headDim: number,
  eps: number,
): [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D] {
  return tf
    .engine()
    .runKernel(QKV_NORM_ROPE, { qkv, qw, kw, cos, sin, pos }, { heads, kvHeads, headDim, eps }) as unknown as [
    tf.Tensor3D,
    tf.Tensor3D,
    tf.Tensor3D,
  ];
}

export function fusedSwiGlu(gu: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel(SWIGLU, { gu }, {}) as tf.Tensor2D;
}
