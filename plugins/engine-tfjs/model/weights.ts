import type { Qwen3Config } from './config.js';

/** A host-side tensor as the safetensors reader returns it (HF layout: linear weights [out, in]). */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
  dtype?: string;
}

/**
 * Internal parameter layout. Linear weights are stored [in, out] (the wasm fast path), q|k|v and
 * gate|up are fused column-wise so each needs one matmul:
 *   embed [V, d]; norm [d]; lm_head [d, V] (untied only)
 *   layers.i.{in_norm,post_norm} [d]; layers.i.{q_norm,k_norm} [hd]
 *   layers.i.qkv [d, (H + 2·KV)·hd]; layers.i.o [H·hd, d]; layers.i.gate_up [d, 2·ff]; layers.i.down [ff, d]
 */
export function internalShapes(c: Qwen3Config): Map<string, number[]> {
  const d = c.hidden_size;
  const hd = c.head_dim;
  const m = new Map<string, number[]>();
  m.set('embed', [c.vocab_size, d]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `layers.${i}.`;
    m.set(`${p}in_norm`, [d]);
    m.set(`${p}qkv`, [d, (c.num_attention_heads + 2 * c.num_key_value_heads) * hd]);
    m.set(`${p}q_norm`, [hd]);
    m.set(`${p}k_norm`, [hd]);
    m.set(`${p}o`, [c.num_attention_heads * hd, d]);
    m.set(`${p}post_norm`, [d]);
    m.set(`${p}gate_up`, [d, 2 * c.intermediate_size]);
    m.set(`${p}down`, [c.intermediate_size, d]);
  }
  m.set('norm', [d]);
  if (!c.tie_word_embeddings) m.set('lm_head', [d, c.vocab_size]);
  return m;
}

/** [rows, cols] row-major → [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c] as number;
  }
  return out;
}

/** HF linear weights [out_k, in] for k parts → one [in, Σ out_k] matrix. */
function fuseColumns(parts: HostTensor[]): Float32Array {
  const inDim = parts[0]!.shape[1] as number;
  const total = parts.reduce((a, p) => a + (p.shape[0] as number), 0);
  const out = new Float32Array(inDim * total);
  let col0 = 0;
  for (const p of parts) {
    const outDim = p.shape[0] as number;
    if (p.shape[1] !== inDim) throw new Error(`fused weights disagree on the input width: ${p.shape} vs ${inDim}`);
    for (let o = 0; o < outDim; o++) {
      for (let i = 0; i < inDim; i++) out[i * total + col0 + o] = p.data[o * inDim + i] as number;
    }
    col0 += outDim;
  }
  return out;
}

/** One [in, Σ out_k] matrix → HF parts [out_k, in]. */
function splitColumns(data: Float32Array, inDim: number, outs: number[]): Float32Array[] {
  const total = outs.reduce((a, b) => a + b, 0);
  const res: Float32Array[] = [];
  let col0 = 0;
  for (const outDim of outs) {
    const p = new Float32Array(outDim * inDim);
    for (let o = 0; o < outDim; o++) {
      for (let i = 0; i < inDim; i++) p[o * inDim + i] = data[i * total + col0 + o] as number;
    }
    res.push(p);
    col0 += outDim;
  }
  return res;
}

function need(hf: Map<string, HostTensor>, name: string, shape: number[]): HostTensor {
  const t = hf.get(name);
  if (!t) throw new Error(`checkpoint lacks tensor '${name}'`);
  if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
    throw new Error(`tensor '${name}' has shape [${t.shape}], config expects [${shape}]`);
  }
  return t;
}

/** HF-named tensors → internal layout (see internalShapes). */
export function fromHfTensors(c: Qwen3Config, hf: Map<string, HostTensor>): Map<string, Float32Array> {
  const d = c.hidden_size;
  const hd = c.head_dim;
  const H = c.num_attention_heads;
  const KV = c.num_key_value_heads;
  const ff = c.intermediate_size;
  const m = new Map<string, Float32Array>();
  m.set('embed', need(hf, 'model.embed_tokens.weight', [c.vocab_size, d]).data);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const h = `model.layers.${i}.`;
    const p = `layers.${i}.`;
    m.set(`${p}in_norm`, need(hf, `${h}input_layernorm.weight`, [d]).data);
    m.set(`${p}post_norm`, need(hf, `${h}post_attention_layernorm.weight`, [d]).data);
    m.set(`${p}q_norm`, need(hf, `${h}self_attn.q_norm.weight`, [hd]).data);
    m.set(`${p}k_norm`, need(hf, `${h}self_attn.k_norm.weight`, [hd]).data);
    m.set(
      `${p}qkv`,
      fuseColumns([
        need(hf, `${h}self_attn.q_proj.weight`, [H * hd, d]),
        need(hf, `${h}self_attn.k_proj.weight`, [KV * hd, d]),
        need(hf, `${h}self_attn.v_proj.weight`, [KV * hd, d]),
      ]),
    );
    m.set(`${p}o`, fuseColumns([need(hf, `${h}self_attn.o_proj.weight`, [d, H * hd])]));
    m.set(
      `${p}gate_up`,
      fuseColumns([need(hf, `${h}mlp.gate_proj.weight`, [ff, d]), need(hf, `${h}mlp.up_proj.weight`, [ff, d])]),
    );
    m.set(`${p}down`, fuseColumns([need(hf, `${h}mlp.down_proj.weight`, [d, ff])]));
  }
  m.set('norm', need(hf, 'model.norm.weight', [d]).data);
  if (!c.tie_word_embeddings) m.set('lm_head', fuseColumns([need(hf, 'lm_head.weight', [c.vocab_size, d])]));
  return m;
}

/** Internal layout → HF-named tensors (linear weights back to [out, in]). */
export function toHfTensors(c: Qwen3Config, w: Map<string, Float32Array>): Map<string, HostTensor> {
  const d = c.hidden_size;
  const hd = c.head_dim;
  const H = c.num_attention_heads;
  const KV = c.num_key_value_heads;
  const ff = c.intermediate_size;
  const get = (k: string): Float32Array => {
    const v = w.get(k);
    if (!v) throw new Error(`missing internal weight ${k}`);
    return v;
  };
  const m = new Map<string, HostTensor>();
  m.set('model.embed_tokens.weight', { shape: [c.vocab_size, d], data: get('embed') });
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const h = `model.layers.${i}.`;
    const p = `layers.${i}.`;
    m.set(`${h}input_layernorm.weight`, { shape: [d], data: get(`${p}in_norm`) });
    m.set(`${h}post_attention_layernorm.weight`, { shape: [d], data: get(`${p}post_norm`) });
    m.set(`${h}self_attn.q_norm.weight`, { shape: [hd], data: get(`${p}q_norm`) });
    m.set(`${h}self_attn.k_norm.weight`, { shape: [hd], data: get(`${p}k_norm`) });
    const [q, k, v] = splitColumns(get(`${p}qkv`), d, [H * hd, KV * hd, KV * hd]) as [
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    m.set(`${h}self_attn.q_proj.weight`, { shape: [H * hd, d], data: q });
    m.set(`${h}self_attn.k_proj.weight`, { shape: [KV * hd, d], data: k });
    m.set(`${h}self_attn.v_proj.weight`, { shape: [KV * hd, d], data: v });
    m.set(`${h}self_attn.o_proj.weight`, { shape: [d, H * hd], data: splitColumns(get(`${p}o`), H * hd, [d])[0]! });
    const [g, u] = splitColumns(get(`${p}gate_up`), d, [ff, ff]) as [Float32Array, Float32Array];
    m.set(`${h}mlp.gate_proj.weight`, { shape: [ff, d], data: g });
    m.set(`${h}mlp.up_proj.weight`, { shape: [ff, d], data: u });
    m.set(`${h}mlp.down_proj.weight`, { shape: [d, ff], data: splitColumns(get(`${p}down`), ff, [d])[0]! });
  }
  m.set('model.norm.weight', { shape: [d], data: get('norm') });
  if (!c.tie_word_embeddings)
    m.set('lm_head.weight', { shape: [c.vocab_size, d], data: splitColumns(get('lm_head'), d, [c.vocab_size])[0]! });
  return m;
}
