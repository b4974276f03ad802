import type { TokenBatch } from '../../core/index.js';
import { tensorValues } from './codec.js';

/**
 * Right-padded rows ↔ Tinker Datums. A row of n real tokens x_0..x_{n-1} becomes model_input
 * x_0..x_{n-2} and target_tokens x_1..x_{n-1}: position t predicts target t, so the service's
 * log-prob t is our column t + 1 (column 0 has no prediction and stays 0). Rows of fewer than two
 * tokens have nothing to predict and are left out.
 */
export interface RowPlan {
  /** Batch rows sent, in order. */
  sent: number[];
  /** Real tokens of every batch row. */
  lengths: number[];
  T: number;
}

export function planRows(batch: TokenBatch): RowPlan {
  const lengths = batch.attentionMask.map((m) => m.reduce((a, v) => a + (v > 0 ? 1 : 0), 0));
  const T = batch.inputIds[0]?.length ?? 0;
  return { sent: lengths.map((n, i) => (n >= 2 ? i : -1)).filter((i) => i >= 0), lengths, T };
}

/** Per-token inputs of a datum: column t + 1 of each [T] row (the token position t predicts). */
export type ColumnRows = Record<string, ArrayLike<number>[]>;

export function datums(
  batch: TokenBatch,
  plan: RowPlan,
  inputs: ColumnRows = {},
  scalars: Record<string, number[]> = {},
): Record<string, unknown>[] {
  return plan.sent.map((r) => {
    const n = plan.lengths[r] as number;
    const ids = batch.inputIds[r] as number[];
    const lfi: Record<string, unknown> = { target_tokens: Int32Array.from(ids.slice(1, n)) };
    for (const [name, rows] of Object.entries(inputs)) {
      const row = rows[r] as ArrayLike<number>;
      const out = new Float64Array(n - 1);
      for (let t = 1; t < n; t++) out[t - 1] = row[t] as number;
      lfi[name] = out;
    }
    for (const [name, perRow] of Object.entries(scalars)) lfi[name] = new Float64Array(n - 1).fill(perRow[r] as number);
    return {
      model_input: { chunks: [{ type: 'encoded_text', tokens: Int32Array.from(ids.slice(0, n - 1)) }] },
      loss_fn_inputs: lfi,
    };
  });
}

/** The service's per-datum outputs (logprobs, entropy) as full [T] rows for every batch row. */
export function outputRows(outputs: unknown, plan: RowPlan, B: number, key: 'logprobs' | 'entropy'): Float32Array[] {
  const list = outputs as Record<string, unknown>[];
  if (!Array.isArray(list) || list.length !== plan.sent.length) {
    throw new Error(`trainer reply: ${Array.isArray(list) ? list.length : 'no'} outputs for ${plan.sent.length} rows`);
  }
  const rows = Array.from({ length: B }, () => new Float32Array(plan.T));
  plan.sent.forEach((r, i) => {
    const v = tensorValues(list[i]?.[key], `loss_fn_outputs[${i}].${key}`);
    const n = plan.lengths[r] as number;
    if (v.length !== n - 1) throw new Error(`trainer reply: ${v.length} ${key} for row ${r} of ${n} tokens`);
    const row = rows[r] as Float32Array;
    for (let t = 1; t < n; t++) row[t] = v[t - 1] as number;
  });
  return rows;
}
