import * as tf from '@tensorflow/tfjs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type {
  Completion,
  LossOutput,
  Policy,
  PolicyForward,
  SamplingParams,
  TokenBatch,
  Tokenizer,
  TrainStepOptions,
  TrainStepStats,
} from '../../core/index.js';

/**
 * A real, trainable causal LM small enough to check by hand: p(x_t | x_<t) = softmax(W[x_{t-1}]),
 * W a [V, V] logits table. trainStep does micro-batched tf.variableGrads (each micro-batch's loss
 * weighted by its share of rows, as the Policy contract says) and one plain SGD step.
 */
export class BigramPolicy implements Policy {
  readonly W: tf.Variable;
  /** Gradient of the last trainStep (the accumulated sum), as a plain [V][V] array. */
  lastGrad: number[][] = [];
  steps = 0;
  readonly tokenizer: Tokenizer;

  constructor(
    readonly V: number,
    init: number[][],
    readonly lr = 0.1,
    readonly frozen = false,
  ) {
    this.W = tf.tidy(() => tf.variable(tf.tensor2d(init, [V, V], 'float32'), !frozen));
    this.tokenizer = {
      vocabSize: V,
      eosIds: [V - 1],
      padId: 0,
      encode: (s) => [...s].map((c) => Number(c)),
      decode: (ids) => ids.join(''),
    };
  }

  /** logProbs (and entropy) [b, T] of the given rows; column 0 is 0. */
  forward(batch: TokenBatch, rows: number[], withEntropy: boolean): { logProbs: tf.Tensor2D; entropy?: tf.Tensor2D } {
    return tf.tidy(() => {
      const ids = rows.map((r) => batch.inputIds[r] as number[]);
      const b = ids.length,
        T = (ids[0] as number[]).length;
      const zeros = tf.zeros([b, 1]);
      if (T === 1) return { logProbs: zeros as tf.Tensor2D, ...(withEntropy ? { entropy: zeros as tf.Tensor2D } : {}) };
      const prev = tf.tensor1d(
        ids.flatMap((r) => r.slice(0, T - 1)),
        'int32',
      );
      const next = tf.tensor1d(
        ids.flatMap((r) => r.slice(1)),
        'int32',
      );
      // oneHot · W rather than tf.gather: gather's gradient has no kernel on the wasm backend.
      const lsm = tf.logSoftmax(tf.matMul(tf.oneHot(prev, this.V).toFloat(), this.W));
      const lp = tf.reshape(tf.sum(tf.mul(lsm, tf.oneHot(next, this.V)), 1), [b, T - 1]);
      const out: { logProbs: tf.Tensor2D; entropy?: tf.Tensor2D } = {
        logProbs: tf.concat([zeros, lp], 1) as tf.Tensor2D,
      };
      if (withEntropy) {
        const h = tf.reshape(tf.neg(tf.sum(tf.mul(tf.exp(lsm), lsm), 1)), [b, T - 1]);
        out.entropy = tf.concat([zeros, h], 1) as tf.Tensor2D;
      }
      return out;
    }) as { logProbs: tf.Tensor2D; entropy?: tf.Tensor2D };
  }

  describe(): Record<string, unknown> {
    return { arch: 'bigram', vocab: this.V };
  }

  async computeLogProbs(batch: TokenBatch, opts?: { microBatchSize?: number }): Promise<Float32Array[]> {
    const B = batch.inputIds.length;
    const out: Float32Array[] = [];
    for (const rows of microBatches(B, opts?.microBatchSize ?? B)) {
      const { logProbs } = this.forward(batch, rows, false);
      const T = logProbs.shape[1];
      const v = logProbs.dataSync() as Float32Array;
      rows.forEach((_, j) => out.push(v.slice(j * T, (j + 1) * T)));
      logProbs.dispose();
    }
    return out;
  }

  async trainStep(
    batch: TokenBatch,
    lossFn: (fwd: PolicyForward) => LossOutput,
    opts?: TrainStepOptions,
  ): Promise<TrainStepStats> {
    if (this.frozen) throw new Error('trainStep on a frozen snapshot');
    const B = batch.inputIds.length;
    let acc = tf.zeros([this.V, this.V]);
    let loss = 0;
    const metrics: Record<string, number> = {};
    for (const rows of microBatches(B, opts?.microBatchSize ?? B)) {
      const share = rows.length / B;
      const { value, grads } = tf.variableGrads(() => {
        const fwd = this.forward(batch, rows, opts?.needEntropy ?? false);
        const o = lossFn({ ...fwd, rows });
        for (const [k, m] of Object.entries(o.metrics ?? {}))
          metrics[k] = (metrics[k] ?? 0) + share * (typeof m === 'number' ? m : (m.dataSync()[0] as number));
        return tf.mul(o.loss, share) as tf.Scalar;
      }, [this.W]);
      loss += value.dataSync()[0] as number;
      const g = grads[this.W.name] as tf.Tensor;
      const next = tf.add(acc, g);
      tf.dispose([acc, value, g]);
      acc = next;
    }
    this.lastGrad = acc.arraySync() as number[][];
    const lr = opts?.lr ?? this.lr;
    const gradNorm = Math.sqrt(this.lastGrad.flat().reduce((a, x) => a + x * x, 0));
    tf.tidy(() => {
      this.W.assign(tf.sub(this.W, tf.mul(acc, lr)));
    });
    acc.dispose();
    this.steps++;
    let tokens = 0;
    for (const m of batch.attentionMask) for (const x of m) tokens += x > 0 ? 1 : 0;
    return { loss, gradNorm, lr, step: this.steps, tokens, metrics };
  }

  /** Greedy (temperature 0) or sampled continuation with a seeded generator. */
  async generate(prompts: number[][], params: SamplingParams): Promise<Completion[]> {
    const table = this.W.arraySync() as number[][];
    let state = (params.seed ?? 1) >>> 0;
    const rand = () => {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return prompts.map((p) => {
      const tokenIds: number[] = [],
        logProbs: number[] = [];
      let last = p[p.length - 1] ?? 0;
      let finishReason: Completion['finishReason'] = 'length';
      while (tokenIds.length < params.maxNewTokens) {
        const probs = softmax(table[last] as number[]);
        let tok = probs.indexOf(Math.max(...probs));
        if ((params.temperature ?? 1) > 0) {
          let u = rand();
          tok = probs.findIndex((q) => (u -= q) < 0);
          if (tok < 0) tok = probs.length - 1;
        }
        tokenIds.push(tok);
        logProbs.push(Math.log(probs[tok] as number));
        last = tok;
        if (this.tokenizer.eosIds.includes(tok)) {
          finishReason = 'eos';
          break;
        }
      }
      return { tokenIds, text: this.tokenizer.decode(tokenIds), logProbs, finishReason };
    });
  }

  async snapshot(): Promise<BigramPolicy> {
    return new BigramPolicy(this.V, this.W.arraySync() as number[][], this.lr, true);
  }

  async save(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'bigram.json'), JSON.stringify(this.W.arraySync()));
  }

  async load(dir: string): Promise<void> {
    const w = JSON.parse(await fs.readFile(path.join(dir, 'bigram.json'), 'utf8')) as number[][];
    tf.tidy(() => {
      this.W.assign(tf.tensor2d(w, [this.V, this.V], 'float32'));
    });
  }

  dispose(): void {
    this.W.dispose();
  }
}

export function microBatches(B: number, size: number): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < B; s += size) out.push(Array.from({ length: Math.min(size, B - s) }, (_, j) => s + j));
  return out;
}

export function softmax(row: readonly number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((x) => Math.exp(x - m));
  const z = e.reduce((a, x) => a + x, 0);
  return e.map((x) => x / z);
}
