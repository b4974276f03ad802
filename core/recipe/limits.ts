import { describeValue } from './errors.js';

/**
 * Upper bounds for Hugging Face config.json shape fields wherever a component's options give them
 * (engine schemas live in their plugins; this guard holds for all of them). Each is far above any
 * released model (Llama 3.1 405B: hidden 16384, intermediate 53248, 126 layers), yet refuses a
 * typo like `hidden_size: 1e8` that would try to allocate terabytes.
 */
export const MODEL_SHAPE_MAXIMA: Readonly<Record<string, number>> = {
  vocab_size: 4_194_304,
  hidden_size: 65_536,
  intermediate_size: 262_144,
  num_hidden_layers: 1_024,
  num_attention_heads: 1_024,
  num_key_value_heads: 1_024,
  head_dim: 4_096,
  max_position_embeddings: 16_777_216,
};

/** Shape fields above MODEL_SHAPE_MAXIMA anywhere under `value` (paths relative to `at`). */
export function shapeProblems(
  value: unknown,
  at: (string | number)[],
  out: { parts: (string | number)[]; message: string }[] = [],
): { parts: (string | number)[]; message: string }[] {
  if (Array.isArray(value)) value.forEach((v, i) => shapeProblems(v, [...at, i], out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const max = MODEL_SHAPE_MAXIMA[k];
      if (max !== undefined && typeof v === 'number' && v > max)
        out.push({
          parts: [...at, k],
          message: `expected a value <= ${max} (a model shape field), found ${describeValue(v)}`,
        });
      else shapeProblems(v, [...at, k], out);
    }
  }
  return out;
}
