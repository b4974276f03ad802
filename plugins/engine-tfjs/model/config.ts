/**
 * Qwen3 hyper-parameters under their Hugging Face `config.json` names, so a checkpoint's config
 * loads unchanged. The io/ folder re-uses this type.
 */
export interface Qwen3Config {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  tie_word_embeddings: boolean;
  max_position_embeddings: number;
  bos_token_id?: number | null;
  eos_token_id?: number | number[] | null;
  model_type?: string;
  architectures?: string[];
  torch_dtype?: string;
  [extra: string]: unknown;
}

/** The embedded default: ~1M parameters, sized for the tiny tokenizer and 2 CPU cores. */
export const TINY_CONFIG: Qwen3Config = {
  vocab_size: 128,
  hidden_size: 128,
  intermediate_size: 384,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 32,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: true,
  max_position_embeddings: 1024,
  model_type: 'qwen3',
  architectures: ['Qwen3ForCausalLM'],
};

/** A ~5M-parameter size for the bench. */
export const SMALL_CONFIG: Qwen3Config = {
  ...TINY_CONFIG,
  hidden_size: 256,
  intermediate_size: 768,
  num_hidden_layers: 6,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 32,
};

/** Fills HF's defaults for fields a config.json may omit (Qwen3 derives head_dim from the width). */
export function resolveConfig(partial: Partial<Qwen3Config>, base: Qwen3Config = TINY_CONFIG): Qwen3Config {
  const c = { ...base, ...partial } as Qwen3Config;
  // transformers >= 5 writes rope_theta inside rope_parameters (4.x: top level).
  const ropeParams = partial.rope_parameters as { rope_theta?: number } | undefined;
  if (partial.rope_theta == null && typeof ropeParams?.rope_theta === 'number') c.rope_theta = ropeParams.rope_theta;
  if (partial.head_dim == null && partial.hidden_size != null && partial.num_attention_heads != null) {
    c.head_dim = Math.floor(partial.hidden_size / partial.num_attention_heads);
  }
  if (partial.num_key_value_heads == null && partial.num_attention_heads != null) {
    c.num_key_value_heads = partial.num_attention_heads;
  }
  if (c.num_attention_heads % c.num_key_value_heads !== 0) {
    throw new Error(
      `num_attention_heads (${c.num_attention_heads}) must be a multiple of num_key_value_heads (${c.num_key_value_heads})`,
    );
  }
  if (c.head_dim % 2 !== 0) throw new Error(`head_dim must be even for RoPE, got ${c.head_dim}`);
  return c;
}

/** Parameter count as HF counts it (tied embeddings once). */
export function countParams(c: Qwen3Config): number {
  const d = c.hidden_size;
  const hd = c.head_dim;
  const attn = d * hd * (c.num_attention_heads * 2 + c.num_key_value_heads * 2) + 2 * hd;
  const mlp = 3 * d * c.intermediate_size;
  const layer = attn + mlp + 2 * d;
  return c.vocab_size * d * (c.tie_word_embeddings ? 1 : 2) + c.num_hidden_layers * layer + d;
}
