import type { Tokenizer } from '../../../core/index.js';
import type { Qwen3Config } from '../../../plugins/engine-tfjs/model/config.js';
import type { HostTensor } from '../../../plugins/engine-tfjs/model/weights.js';

/** Test tokenizer: one id per printable ASCII char (id = code - 32 + 2); 0 = pad, 1 = eos. */
export class CharTokenizer implements Tokenizer {
  readonly vocabSize = 98;
  readonly eosIds = [1];
  readonly padId = 0;
  encode(text: string): number[] {
    return [...text].map((ch) => Math.min(97, Math.max(2, ch.charCodeAt(0) - 30)));
  }
  decode(ids: readonly number[]): string {
    return ids
      .filter((i) => i >= 2)
      .map((i) => String.fromCharCode(i + 30))
      .join('');
  }
}

export const TEST_CONFIG: Qwen3Config = {
  vocab_size: 98,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 8,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: true,
  max_position_embeddings: 128,
};

/** Deterministic pseudo-random HF-named weights (LCG), norms near 1 so they matter. */
export function randomHfWeights(c: Qwen3Config, seed = 1, scale = 0.2): Map<string, HostTensor> {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const mk = (shape: number[], norm = false): HostTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = norm ? 1 + rnd() * 0.5 : rnd() * 2 * scale;
    return { shape, data };
  };
  const d = c.hidden_size,
    hd = c.head_dim,
    H = c.num_attention_heads,
    KV = c.num_key_value_heads,
    ff = c.intermediate_size;
  const m = new Map<string, HostTensor>();
  m.set('model.embed_tokens.weight', mk([c.vocab_size, d]));
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const h = `model.layers.${i}.`;
    m.set(`${h}input_layernorm.weight`, mk([d], true));
    m.set(`${h}post_attention_layernorm.weight`, mk([d], true));
    m.set(`${h}self_attn.q_norm.weight`, mk([hd], true));
    m.set(`${h}self_attn.k_norm.weight`, mk([hd], true));
    m.set(`${h}self_attn.q_proj.weight`, mk([H * hd, d]));
    m.set(`${h}self_attn.k_proj.weight`, mk([KV * hd, d]));
    m.set(`${h}self_attn.v_proj.weight`, mk([KV * hd, d]));
    m.set(`${h}self_attn.o_proj.weight`, mk([d, H * hd]));
    m.set(`${h}mlp.gate_proj.weight`, mk([ff, d]));
    m.set(`${h}mlp.up_proj.weight`, mk([ff, d]));
    m.set(`${h}mlp.down_proj.weight`, mk([d, ff]));
  }
  m.set('model.norm.weight', mk([d], true));
  if (!c.tie_word_embeddings) m.set('lm_head.weight', mk([c.vocab_size, d]));
  return m;
}

/**
 * Plain-loop Qwen3 forward in float64, written from the HF modeling_qwen3 equations (independent of
 * the tfjs code: HF [out, in] weights, separate q/k/v, explicit repeat_kv and rotate_half).
 * ids [T] → logits [T][V].
 */
export function referenceLogits(c: Qwen3Config, w: Map<string, HostTensor>, ids: number[]): number[][] {
  const d = c.hidden_size,
    hd = c.head_dim,
    H = c.num_attention_heads,
    KV = c.num_key_value_heads,
    ff = c.intermediate_size;
  const W = (n: string): Float32Array => w.get(n)!.data;
  const lin = (x: number[], wt: Float32Array, outDim: number): number[] => {
    const inDim = x.length;
    const y = new Array<number>(outDim).fill(0);
    for (let o = 0; o < outDim; o++) for (let i = 0; i < inDim; i++) y[o] += wt[o * inDim + i]! * x[i]!;
    return y;
  };
  const rms = (x: number[], g: Float32Array): number[] => {
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    const r = 1 / Math.sqrt(ms + c.rms_norm_eps);
    return x.map((v, i) => v * r * g[i]!);
  };
  const rope = (x: number[], pos: number): number[] => {
    const half = hd / 2;
    const out = new Array<number>(hd);
    for (let i = 0; i < hd; i++) {
      const fi = i % half;
      const ang = pos / Math.pow(c.rope_theta, (2 * fi) / hd);
      const rot = i < half ? -x[i + half]! : x[i - half]!;
      out[i] = x[i]! * Math.cos(ang) + rot * Math.sin(ang);
    }
    return out;
  };
  const E = W('model.embed_tokens.weight');
  let hs = ids.map((id) => Array.from(E.subarray(id * d, (id + 1) * d)));
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const xs = hs.map((h) => rms(h, W(`${p}input_layernorm.weight`)));
    const qs = xs.map((x, t) => {
      const q = lin(x, W(`${p}self_attn.q_proj.weight`), H * hd);
      return Array.from({ length: H }, (_, h) =>
        rope(rms(q.slice(h * hd, (h + 1) * hd), W(`${p}self_attn.q_norm.weight`)), t),
      );
    });
    const ks = xs.map((x, t) => {
      const k = lin(x, W(`${p}self_attn.k_proj.weight`), KV * hd);
      return Array.from({ length: KV }, (_, h) =>
        rope(rms(k.slice(h * hd, (h + 1) * hd), W(`${p}self_attn.k_norm.weight`)), t),
      );
    });
    const vs = xs.map((x) => {
      const v = lin(x, W(`${p}self_attn.v_proj.weight`), KV * hd);
      return Array.from({ length: KV }, (_, h) => v.slice(h * hd, (h + 1) * hd));
    });
    const G = H / KV;
    hs = hs.map((h, t) => {
      const att: number[] = [];
      for (let head = 0; head < H; head++) {
        const kvh = Math.floor(head / G);
        const sc = [];
        for (let j = 0; j <= t; j++)
          sc.push(qs[t]![head]!.reduce((a, v, i) => a + v * ks[j]![kvh]![i]!, 0) / Math.sqrt(hd));
        const mx = Math.max(...sc);
        const e = sc.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < hd; i++) att.push(e.reduce((a, p2, j) => a + (p2 / z) * vs[j]![kvh]![i]!, 0));
      }
      const o = lin(att, W(`${p}self_attn.o_proj.weight`), d);
      const h1 = h.map((v, i) => v + o[i]!);
      const x2 = rms(h1, W(`${p}post_attention_layernorm.weight`));
      const g = lin(x2, W(`${p}mlp.gate_proj.weight`), ff);
      const u = lin(x2, W(`${p}mlp.up_proj.weight`), ff);
      const a = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
      const dn = lin(a, W(`${p}mlp.down_proj.weight`), d);
      return h1.map((v, i) => v + dn[i]!);
    });
  }
  const head = c.tie_word_embeddings ? E : W('lm_head.weight');
  return hs.map((h) => lin(rms(h, W('model.norm.weight')), head, c.vocab_size));
}

/** A policy over TEST_CONFIG with the LCG weights and the char tokenizer (no backend switch). */
export async function testPolicy(
  seed = 5,
  opts: Partial<import('../../../plugins/engine-tfjs/policy.js').TfjsPolicyOptions> = {},
  cfg: Qwen3Config = TEST_CONFIG,
): Promise<import('../../../plugins/engine-tfjs/policy.js').TfjsPolicy> {
  const { Qwen3Model } = await import('../../../plugins/engine-tfjs/model/qwen3.js');
  const { TfjsPolicy, DEFAULT_POLICY_OPTIONS } = await import('../../../plugins/engine-tfjs/policy.js');
  return new TfjsPolicy(Qwen3Model.fromHf(cfg, randomHfWeights(cfg, seed)), new CharTokenizer(), {
    ...DEFAULT_POLICY_OPTIONS,
    ...opts,
  });
}

/** log-softmax of one row, in float64. */
export function logSoftmax(row: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp(row[i]! - max);
  const lz = Math.log(z) + max;
  return Array.from(row, (v) => v - lz);
}
