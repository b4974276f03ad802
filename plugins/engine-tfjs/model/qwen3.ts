import * as tf from '@tensorflow/tfjs';
import { hashSeed } from '../../../core/index.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { type Qwen3Config, countParams, resolveConfig } from './config.js';
import { readSafetensors } from '../io/safetensors.js';
import { type HostTensor, fromHfTensors, internalShapes, toHfTensors } from './weights.js';
import { fusedAvailable, fusedQkvNormRope, fusedRmsNorm, fusedSwiGlu } from '../backend/fused-kernels.js';
import {
  type OpsMode,
  attention,
  embedRows,
  linear,
  rmsNorm,
  rotateHalf,
  rotateHalfMatrix,
  ropeTables,
} from './ops.js';

/** Keys and values of one layer for the positions seen so far: [B, KV, Tpast, hd] each. */
export interface LayerCache {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

export interface ForwardOptions {
  /** [B, T] int32 RoPE positions; 0..T-1 for every row when absent (right-padded batches). */
  positions?: tf.Tensor2D;
  /** [B, Tpast + T] 1 for keys that may be attended (real tokens), 0 for left padding. */
  keyMask?: tf.Tensor2D;
  /** Per-layer caches of earlier positions (decoding). */
  cache?: LayerCache[];
  /**
   * No gradient will be taken (sampling, log-probs): plain matmuls instead of the custom-gradient
   * wrappers (whose per-call scope cost a third of a decode step), and on wasm, for small batches,
   * the fused kernels of backend/fused-kernels.ts instead of dozens of tiny ops per layer.
   */
  inference?: boolean;
}

/**
 * Above this many token rows per forward the plain (SIMD) ops beat the fused JS kernels (measured: 10% slower at 512).
 */
const FUSED_MAX_ROWS = 128;

export interface ForwardResult {
  /** Final-norm hidden states [B·T, d] (row b·T + t). */
  hidden: tf.Tensor2D;
  /** Per-layer caches including these positions. */
  cache: LayerCache[];
}

const NEG = -1e9;
let tfVarId = 0;

/** A Qwen3 decoder (Qwen3ForCausalLM) in tfjs: weights are tf.Variables in the layout of weights.ts. */
export class Qwen3Model {
  readonly config: Qwen3Config;
  readonly params: Map<string, tf.Variable>;
  mode: OpsMode;
  private consts?: { cos: tf.Tensor2D; sin: tf.Tensor2D; rot: tf.Tensor2D };

  constructor(
    config: Qwen3Config,
    weights: Map<string, Float32Array>,
    opts: { trainable?: boolean; mode?: OpsMode } = {},
  ) {
    this.config = config;
    this.mode = opts.mode ?? { rank2Grads: tf.getBackend() === 'wasm' };
    this.params = new Map();
    for (const [name, shape] of internalShapes(config)) {
      const data = weights.get(name);
      if (!data) throw new Error(`missing weight ${name}`);
      if (data.length !== tf.util.sizeFromShape(shape))
        throw new Error(`weight ${name}: ${data.length} values for shape [${shape}]`);
      // tf.variable(t) keeps t alive: create inside tidy so the initial tensor is freed.
      this.params.set(
        name,
        tf.tidy(() => tf.variable(tf.tensor(data, shape), opts.trainable ?? true, `${name}_${tfVarId++}`)),
      );
    }
  }

  /** A freshly initialised model (HF's init: N(0, 0.02) for matrices, ones for norms). */
  static random(config: Qwen3Config, seed = 0): Qwen3Model {
    const w = new Map<string, Float32Array>();
    for (const [name, shape] of internalShapes(config)) {
      // tfjs reads a falsy seed (0) as "no seed" and draws from Math.random: never pass it 0
      const s = hashSeed(seed, `init/${name}`) >>> 0 || 1;
      w.set(
        name,
        shape.length === 1
          ? new Float32Array(shape[0] as number).fill(1)
          : tf.tidy(() => tf.randomNormal(shape, 0, 0.02, 'float32', s).dataSync() as Float32Array),
      );
    }
    return new Qwen3Model(config, w);
  }

  static fromHf(config: Qwen3Config, hf: Map<string, HostTensor>): Qwen3Model {
    return new Qwen3Model(config, fromHfTensors(config, hf));
  }

  /** Loads config.json + model.safetensors (or a sharded index) from an HF-style folder. */
  static async fromPretrained(dir: string): Promise<Qwen3Model> {
    const cfg = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')) as Partial<Qwen3Config>;
    const tensors = await readSafetensors(dir);
    return Qwen3Model.fromHf(resolveConfig(cfg, cfg as Qwen3Config), tensors as Map<string, HostTensor>);
  }

  get numParams(): number {
    return countParams(this.config);
  }

  p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (!v) throw new Error(`no parameter ${name}`);
    return v;
  }

  trainableVariables(): tf.Variable[] {
    return [...this.params.values()];
  }

  /** Current weights in the internal layout (host copies). */
  readWeights(): Map<string, Float32Array> {
    const m = new Map<string, Float32Array>();
    for (const [k, v] of this.params) m.set(k, v.dataSync() as Float32Array);
    return m;
  }

  hfTensors(): Map<string, HostTensor> {
    return toHfTensors(this.config, this.readWeights());
  }

  setWeights(w: Map<string, Float32Array>): void {
    for (const [k, v] of this.params) {
      const data = w.get(k);
      if (!data) throw new Error(`missing weight ${k}`);
      tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
    }
  }

  private constants(): { cos: tf.Tensor2D; sin: tf.Tensor2D; rot: tf.Tensor2D } {
    if (!this.consts) {
      const c = this.config;
      const { cos, sin } = ropeTables(c.max_position_embeddings, c.head_dim, c.rope_theta);
      this.consts = { cos: tf.keep(cos), sin: tf.keep(sin), rot: tf.keep(rotateHalfMatrix(c.head_dim)) };
    }
    return this.consts;
  }

  /** Runs the decoder on ids [B, T] (int32). Call inside tf.tidy. */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const [B, T] = ids.shape;
    const H = c.num_attention_heads;
    const KV = c.num_key_value_heads;
    const G = H / KV;
    const hd = c.head_dim;
    const d = c.hidden_size;
    const { cos, sin, rot } = this.constants();
    const tPast = opts.cache?.[0]?.k.shape[2] ?? 0;
    const tK = tPast + T;
    if (tPast + T > c.max_position_embeddings && !opts.positions) {
      throw new Error(`sequence of ${tPast + T} tokens exceeds max_position_embeddings ${c.max_position_embeddings}`);
    }

    const fused = opts.inference === true && B * T <= FUSED_MAX_ROWS && fusedAvailable();

    // RoPE tables per row: [B or 1, T, 1, hd] (the fused kernel reads the tables by position itself).
    let cosR: tf.Tensor4D | undefined;
    let sinR: tf.Tensor4D | undefined;
    let pos1d: tf.Tensor1D | undefined;
    if (fused) {
      if (opts.positions) {
        pos1d = tf.reshape(opts.positions, [-1]) as tf.Tensor1D;
      } else {
        const p = new Int32Array(B * T);
        for (let i = 0; i < B * T; i++) p[i] = tPast + (i % T);
        pos1d = tf.tensor1d(p, 'int32');
      }
    } else if (opts.positions) {
      const pos = tf.reshape(opts.positions, [-1]);
      cosR = tf.reshape(tf.gather(cos, pos), [B, T, 1, hd]);
      sinR = tf.reshape(tf.gather(sin, pos), [B, T, 1, hd]);
    } else {
      cosR = tf.reshape(tf.slice(cos, [tPast, 0], [T, hd]), [1, T, 1, hd]);
      sinR = tf.reshape(tf.slice(sin, [tPast, 0], [T, hd]), [1, T, 1, hd]);
    }

    // Additive mask [B or 1, 1, G·T, tK]: causal (query t sees keys ≤ tPast + t), plus padded keys.
    // One new position per row sees every key: only the padding part remains.
    let mask: tf.Tensor;
    const padMask = opts.keyMask ? tf.reshape(tf.mul(tf.sub(1, opts.keyMask), NEG), [B, 1, 1, tK]) : undefined;
    if (T === 1 && padMask) {
      mask = padMask;
    } else {
      const causal = new Float32Array(G * T * tK);
      for (let g = 0; g < G; g++) {
        for (let t = 0; t < T; t++) {
          const row = (g * T + t) * tK;
          for (let j = tPast + t + 1; j < tK; j++) causal[row + j] = NEG;
        }
      }
      mask = tf.tensor4d(causal, [1, 1, G * T, tK]);
      if (padMask) mask = tf.add(mask, padMask);
    }

    const rope = (x: tf.Tensor2D, nHeads: number): tf.Tensor4D => {
      // x [B·T·nHeads, hd] → [B, T, nHeads, hd] with RoPE applied.
      const x4 = tf.reshape(x, [B, T, nHeads, hd]);
      const xr = tf.reshape(rotateHalf(x, rot), [B, T, nHeads, hd]);
      return tf.add(tf.mul(x4, cosR as tf.Tensor4D), tf.mul(xr, sinR as tf.Tensor4D));
    };

    // [B, T, n, hd] <-> [B, n, T, hd]; with one position (decoding) that is a reshape, not a copy.
    const headsFirst = (x: tf.Tensor4D): tf.Tensor4D =>
      (T === 1
        ? tf.reshape(x, [x.shape[0], x.shape[2], x.shape[1], x.shape[3]])
        : tf.transpose(x, [0, 2, 1, 3])) as tf.Tensor4D;
    const norm = (x: tf.Tensor2D, w: string): tf.Tensor2D =>
      fused
        ? fusedRmsNorm(x, this.p(w) as tf.Tensor1D, c.rms_norm_eps)
        : (rmsNorm(x, this.p(w) as tf.Tensor1D, c.rms_norm_eps) as tf.Tensor2D);

    // Without a tape the custom-gradient wrapper of linear() is pure overhead (a scope per call).
    const mode: OpsMode = opts.inference ? { ...this.mode, rank2Grads: false } : this.mode;
    const flatIds = tf.reshape(ids, [-1]) as tf.Tensor1D;
    let h = tf.reshape(
      opts.inference ? tf.gather(this.p('embed'), flatIds) : embedRows(this.p('embed') as tf.Tensor2D, flatIds),
      [B * T, d],
    ) as tf.Tensor2D;
    const newCache: LayerCache[] = [];
    const scale = 1 / Math.sqrt(hd);
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const p = `layers.${i}.`;
      const x = norm(h, `${p}in_norm`);
      const qkv = linear(x, this.p(`${p}qkv`) as tf.Tensor2D, mode);
      let q: tf.Tensor4D;
      let k: tf.Tensor4D;
      let v: tf.Tensor4D;
      if (fused) {
        const [q3, k3, v3] = fusedQkvNormRope(
          qkv,
          this.p(`${p}q_norm`) as tf.Tensor1D,
          this.p(`${p}k_norm`) as tf.Tensor1D,
          cos,
          sin,
          pos1d as tf.Tensor1D,
          H,
          KV,
          hd,
          c.rms_norm_eps,
        );
        q = tf.reshape(headsFirst(tf.reshape(q3, [B, T, H, hd])), [B, KV, G * T, hd]);
        k = headsFirst(tf.reshape(k3, [B, T, KV, hd]));
        v = headsFirst(tf.reshape(v3, [B, T, KV, hd]));
      } else {
        const q0 = tf.slice(qkv, [0, 0], [B * T, H * hd]);
        const k0 = tf.slice(qkv, [0, H * hd], [B * T, KV * hd]);
        const v0 = tf.slice(qkv, [0, (H + KV) * hd], [B * T, KV * hd]);
        const qn = rmsNorm(
          tf.reshape(q0, [B * T * H, hd]),
          this.p(`${p}q_norm`) as tf.Tensor1D,
          c.rms_norm_eps,
        ) as tf.Tensor2D;
        const kn = rmsNorm(
          tf.reshape(k0, [B * T * KV, hd]),
          this.p(`${p}k_norm`) as tf.Tensor1D,
          c.rms_norm_eps,
        ) as tf.Tensor2D;
        // q: [B, H, T, hd] → [B, KV, G·T, hd] (query head h uses kv head ⌊h / G⌋, as HF's repeat_kv).
        q = tf.reshape(headsFirst(rope(qn, H)), [B, KV, G * T, hd]);
        k = headsFirst(rope(kn, KV));
        v = headsFirst(tf.reshape(v0, [B, T, KV, hd]) as tf.Tensor4D);
      }
      const prev = opts.cache?.[i];
      if (prev) {
        k = tf.concat([prev.k, k], 2);
        v = tf.concat([prev.v, v], 2);
      }
      newCache.push({ k, v });
      const att = attention(q, k, v, mask, scale, this.mode); // [B, KV, G·T, hd]
      const merged = tf.reshape(headsFirst(tf.reshape(att, [B, H, T, hd]) as tf.Tensor4D), [
        B * T,
        H * hd,
      ]) as tf.Tensor2D;
      h = tf.add(h, linear(merged, this.p(`${p}o`) as tf.Tensor2D, mode));
      const x2 = norm(h, `${p}post_norm`);
      const gu = linear(x2, this.p(`${p}gate_up`) as tf.Tensor2D, mode);
      const ff = c.intermediate_size;
      let act: tf.Tensor2D;
      if (fused) {
        act = fusedSwiGlu(gu);
      } else {
        const gate = tf.slice(gu, [0, 0], [B * T, ff]);
        const up = tf.slice(gu, [0, ff], [B * T, ff]);
        act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D;
      }
      h = tf.add(h, linear(act, this.p(`${p}down`) as tf.Tensor2D, mode));
    }
    const hidden = norm(h, 'norm');
    return { hidden, cache: newCache };
  }

  /**
   * hidden [N, d] → logits [N, V] (tied: the embedding matrix transposed). `headWeight` is that
   * [d, V] matrix computed once by the caller (decoding loops): transposing it every step would
   * copy the whole embedding, and wasm re-packs a matmul's fresh right operand on every call.
   */
  head(hidden: tf.Tensor2D, headWeight?: tf.Tensor2D, inference = false): tf.Tensor2D {
    return linear(hidden, headWeight ?? this.headWeight(), inference ? { ...this.mode, rank2Grads: false } : this.mode);
  }

  /** The [d, V] output projection: lm_head, or the tied embedding transposed (a new tensor). */
  headWeight(): tf.Tensor2D {
    return this.config.tie_word_embeddings
      ? (tf.transpose(this.p('embed')) as tf.Tensor2D)
      : (this.p('lm_head') as tf.Tensor2D);
  }

  /** Full forward, fp32: inputIds [B][T] (equal lengths) → logits [B, T, V]. */
  logits(inputIds: number[][]): tf.Tensor3D {
    const B = inputIds.length;
    const T = inputIds[0]?.length ?? 0;
    if (inputIds.some((r) => r.length !== T)) throw new Error('logits(): rows must have equal length');
    return tf.tidy(() => {
      const ids = tf.tensor2d(inputIds.flat(), [B, T], 'int32');
      const { hidden } = this.forward(ids);
      return tf.reshape(this.head(hidden), [B, T, this.config.vocab_size]) as tf.Tensor3D;
    });
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    if (this.consts) {
      this.consts.cos.dispose();
      this.consts.sin.dispose();
      this.consts.rot.dispose();
      this.consts = undefined;
    }
  }
}
