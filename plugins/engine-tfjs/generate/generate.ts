import * as tf from '@tensorflow/tfjs';
import { hashSeed, Rng } from '../../../core/index.js';
import type {
  Completion,
  FinishReason,
  SamplingParams,
  TokenEvent,
  Tokenizer,
  TopLogProb,
} from '../../../core/index.js';
import type { LayerCache, Qwen3Model } from '../model/qwen3.js';
import { logSoftmaxAt, sampleToken, topLogProbs } from './sampler.js';
import { tidyObj } from '../model/ops.js';

export interface GenerateConfig {
  /** Rows decoded together; larger prompt lists are processed in chunks of this size. */
  batchSize: number;
  /** Prompt + new tokens never exceed this. */
  maxSeqLen: number;
  /** Default seed when the sampling params carry none. */
  seed: number;
  /** Per-prompt stream keys (GenerateOptions.sampleKeys): row streams independent of batch composition. */
  sampleKeys?: string[];
  /**
   * Position of prompts[0] in the caller's whole list: rows without a key are seeded by their
   * position in that list, so a list split across workers samples what one worker would.
   */
  rowOffset?: number;
  signal?: AbortSignal;
  /** Told of every token as it is decoded; `row` indexes `prompts` of this generate() call. */
  onToken?: (e: TokenEvent) => void;
}

interface Row {
  index: number;
  prompt: number[];
  ids: number[];
  logProbs: number[];
  top: TopLogProb[][];
  text: string;
  finish?: FinishReason;
  stopString?: string;
  rng: Rng;
}

/** The sampling seed of a policy's `calls`-th generate() call (unseeded calls draw fresh samples). */
export function callSeed(policySeed: number, calls: number): number {
  return hashSeed(policySeed, `generate/${calls}`) >>> 0;
}

/** The first stop string found in `text` at or after `from` (the earliest end wins). */
export function findStop(
  text: string,
  stops: readonly string[],
  from: number,
): { stop: string; end: number } | undefined {
  let best: { stop: string; end: number } | undefined;
  for (const s of stops) {
    if (!s) continue;
    const at = text.indexOf(s, Math.max(0, from - s.length + 1));
    if (at >= 0 && (!best || at + s.length < best.end)) best = { stop: s, end: at + s.length };
  }
  return best;
}

/**
 * Batched sampling with a KV cache. Prompts are left-padded to a common length, so every row's
 * next token sits in the last column; RoPE positions and the key mask skip the padding. Rows that
 * finish are dropped from the batch (and their cache rows gathered away) so the rest decode faster.
 */
export async function generate(
  model: Qwen3Model,
  tokenizer: Tokenizer,
  prompts: number[][],
  params: SamplingParams,
  cfg: GenerateConfig,
): Promise<Completion[]> {
  const out: Completion[] = new Array(prompts.length);
  for (let s = 0; s < prompts.length; s += cfg.batchSize) {
    const chunk = prompts.slice(s, s + cfg.batchSize);
    const res = await generateChunk(model, tokenizer, chunk, s, params, cfg);
    res.forEach((c, i) => {
      out[s + i] = c;
    });
  }
  return out;
}

async function generateChunk(
  model: Qwen3Model,
  tokenizer: Tokenizer,
  prompts: number[][],
  offset: number,
  params: SamplingParams,
  cfg: GenerateConfig,
): Promise<Completion[]> {
  const V = model.config.vocab_size;
  const seed = params.seed ?? cfg.seed;
  const sampleCfg = { temperature: params.temperature ?? 1, topP: params.topP ?? 1, topK: params.topK ?? 0 };
  const stops = params.stop ?? [];
  const eos = new Set([...tokenizer.eosIds, ...(params.stopTokenIds ?? [])]);
  const nTop = params.topLogprobs ?? 0;
  const rows: Row[] = prompts.map((p, i) => {
    if (p.length === 0)
      throw new Error(`generate(): prompt ${offset + i} is empty (a causal LM needs at least one token)`);
    // The seed is repeated in the label: core hashSeed(seed, label) collides for single-digit seeds.
    const key = cfg.sampleKeys?.[offset + i];
    const label = key === undefined ? `gen/${seed}/${(cfg.rowOffset ?? 0) + offset + i}` : `gen/${seed}/key/${key}`;
    return { index: i, prompt: p, ids: [], logProbs: [], top: [], text: '', rng: new Rng(seed, label) };
  });
  const L = Math.max(...prompts.map((p) => p.length));
  const room = Math.min(params.maxNewTokens, cfg.maxSeqLen - L, model.config.max_position_embeddings - L);
  if (room <= 0) {
    return rows.map(() => ({
      tokenIds: [],
      text: '',
      logProbs: [],
      finishReason: 'length' as FinishReason,
      ...(nTop > 0 ? { topLogProbs: [] } : {}),
    }));
  }

  // Prefill.
  const B = rows.length;
  const padIds: number[] = [];
  const maskVals: number[] = [];
  const posVals: number[] = [];
  for (const r of rows) {
    const pad = L - r.prompt.length;
    for (let t = 0; t < L; t++) {
      padIds.push(t < pad ? tokenizer.padId : (r.prompt[t - pad] as number));
      maskVals.push(t < pad ? 0 : 1);
      posVals.push(Math.max(0, t - pad));
    }
  }
  // Weights do not change while decoding: the output projection is built once.
  const headW = model.config.tie_word_embeddings ? tf.keep(tf.tidy(() => model.headWeight())) : undefined;
  // Which key positions each active row may attend to (left padding is 0), grown by one per step.
  let keyRows = rows.map((_, b) => maskVals.slice(b * L, (b + 1) * L));
  let nextPos = rows.map((r) => r.prompt.length);
  let active = rows.slice();
  let logits: tf.Tensor2D | undefined;
  let cache: LayerCache[] = [];
  const keyMaskOf = (width: number): tf.Tensor2D => {
    const m = new Float32Array(keyRows.length * width);
    keyRows.forEach((r, i) => m.set(r.slice(0, width), i * width));
    return tf.tensor2d(m, [keyRows.length, width]);
  };
  try {
    ({ logits, cache } = tidyObj(() => {
      const ids = tf.tensor2d(padIds, [B, L], 'int32');
      const positions = tf.tensor2d(posVals, [B, L], 'int32');
      const f = model.forward(ids, { positions, keyMask: keyMaskOf(L), inference: true });
      const last = tf.reshape(tf.slice(tf.reshape(f.hidden, [B, L, -1]), [0, L - 1, 0], [B, 1, -1]), [
        B,
        -1,
      ]) as tf.Tensor2D;
      return { logits: model.head(last, headW, true), cache: f.cache };
    }));
    for (let step = 0; step < room && active.length > 0; step++) {
      // data() resolves as a microtask on wasm: without a macrotask turn now and then, the abort
      // (a timer, a client hanging up, a message to a worker thread) could not arrive until the end.
      // A streaming consumer gets a turn every step, so what it writes reaches the client now.
      if ((cfg.signal && step % 4 === 3) || (cfg.onToken && step > 0)) await new Promise((r) => setImmediate(r));
      if (cfg.signal?.aborted) {
        for (const r of active) r.finish = 'abort';
        break;
      }
      const lv = (await (logits as tf.Tensor2D).data()) as Float32Array;
      (logits as tf.Tensor2D).dispose();
      logits = undefined;
      const tokens: number[] = [];
      for (let a = 0; a < active.length; a++) {
        const r = active[a] as Row;
        const row = lv.subarray(a * V, (a + 1) * V);
        const tok = sampleToken(row, sampleCfg, r.rng);
        const lp = logSoftmaxAt(row, tok);
        r.ids.push(tok);
        r.logProbs.push(lp);
        tokens.push(tok);
        const top = nTop > 0 ? topLogProbs(row, nTop) : undefined;
        if (top) r.top.push(top);
        cfg.onToken?.({ row: offset + r.index, tokenId: tok, logProb: lp, ...(top ? { topLogProbs: top } : {}) });
        if (eos.has(tok)) {
          r.finish = 'eos';
        } else if (stops.length > 0) {
          const prevLen = r.text.length;
          r.text = tokenizer.decode(r.ids);
          const hit = findStop(r.text, stops, prevLen);
          if (hit) {
            r.finish = 'stop';
            r.stopString = hit.stop;
            r.text = r.text.slice(0, hit.end);
          }
        }
        if (!r.finish && r.ids.length >= room) r.finish = 'length';
      }
      const keep = active.map((r, a) => (r.finish ? -1 : a)).filter((a) => a >= 0);
      if (keep.length === 0) break;
      const nb = keep.length;
      const prevCache = cache;
      const len = prevCache[0]!.k.shape[2];
      const compact = nb < active.length;
      keyRows = keep.map((a) => [...(keyRows[a] as number[]), 1]);
      const res = tidyObj(() => {
        const idx = compact ? tf.tensor1d(keep, 'int32') : undefined;
        const pick = <T extends tf.Tensor>(t: T): T => (idx ? (tf.gather(t, idx) as T) : t);
        const c: LayerCache[] = prevCache.map((l) => ({ k: pick(l.k), v: pick(l.v) }));
        const ids = tf.tensor2d(
          keep.map((a) => tokens[a] as number),
          [nb, 1],
          'int32',
        );
        const positions = tf.tensor2d(
          keep.map((a) => nextPos[a] as number),
          [nb, 1],
          'int32',
        );
        const f = model.forward(ids, { positions, keyMask: keyMaskOf(len + 1), cache: c, inference: true });
        return { logits: model.head(f.hidden, headW, true), cache: f.cache };
      });
      for (const l of prevCache) {
        l.k.dispose();
        l.v.dispose();
      }
      logits = res.logits;
      cache = res.cache;
      nextPos = keep.map((a) => (nextPos[a] as number) + 1);
      active = keep.map((a) => active[a] as Row);
    }
  } finally {
    logits?.dispose();
    for (const l of cache) {
      l.k.dispose();
      l.v.dispose();
    }
    headW?.dispose();
  }
  return rows.map((r) => ({
    tokenIds: r.ids,
    text: r.finish === 'stop' ? r.text : tokenizer.decode(r.ids),
    logProbs: r.logProbs,
    finishReason: r.finish ?? 'length',
    ...(r.stopString !== undefined ? { stopString: r.stopString } : {}),
    ...(nTop > 0 ? { topLogProbs: r.top } : {}),
  }));
}
