import type { Rng, TokenBatch, Tokenizer } from '../../core/index.js';
import type { BootstrapOptions } from './bootstrap.js';
import {
  type Segment,
  type WorldFormat,
  DEFAULT_FORMAT,
  curriculumOutput,
  executorPrompt,
  executorSolution,
} from './formats.js';

/** One pretraining document: a prompt and the completion the model should learn to write. */
export interface CorpusExample {
  role: 'executor' | 'curriculum';
  tool: boolean;
  prompt: string;
  completion: Segment[];
  answer: string;
}

/** The corpus's shares, as stage/bootstrap's options name and describe them (factToolRate unset: toolRate). */
export type CorpusOptions = Pick<BootstrapOptions, 'curriculumShare' | 'toolRate'> &
  Partial<Pick<BootstrapOptions, 'factToolRate'>> & { format: WorldFormat };

/** Builds one example per problem; the role and tool use are drawn from `rng`. */
export function buildExamples(
  problems: readonly { text: string; expr: string; answer: bigint | string; fact?: boolean }[],
  rng: Rng,
  opts: CorpusOptions,
): CorpusExample[] {
  const fmt = opts.format ?? DEFAULT_FORMAT;
  return problems.map((p) => {
    const role = rng.next() < opts.curriculumShare ? 'curriculum' : 'executor';
    const tool = rng.next() < (p.fact ? (opts.factToolRate ?? opts.toolRate) : opts.toolRate);
    return role === 'curriculum'
      ? { role, tool, prompt: fmt.curriculumPrompt, completion: curriculumOutput(p, tool), answer: p.answer.toString() }
      : {
          role,
          tool,
          prompt: executorPrompt(p.text, fmt),
          completion: executorSolution(p, tool, fmt),
          answer: p.answer.toString(),
        };
  });
}

/** Token ids of an example and the loss mask: 1 on tokens the model writes (eos included). */
export interface EncodedExample {
  ids: number[];
  lossMask: number[];
}

/**
 * Encodes prompt, each completion segment and eos separately, exactly as a rollout assembles its
 * tokens (prompt ids, generated ids, observation ids appended by the agent loop), so pretraining
 * sees the token boundaries RL will see. Observations get mask 0 unless `trainObservations`.
 * Returns null when longer than `maxLen` tokens.
 */
export function encodeExample(
  ex: CorpusExample,
  tok: Tokenizer,
  maxLen: number,
  trainObservations = false,
): EncodedExample | null {
  const ids = tok.encode(ex.prompt);
  const lossMask = ids.map(() => 0);
  for (const s of ex.completion) {
    const part = tok.encode(s.text);
    ids.push(...part);
    lossMask.push(...part.map(() => (s.observation && !trainObservations ? 0 : 1)));
  }
  const eos = tok.eosIds[0];
  if (eos === undefined) throw new Error('tokenizer has no eos id');
  ids.push(eos);
  lossMask.push(1);
  return ids.length > maxLen ? null : { ids, lossMask };
}

/** Right-pads rows into a TokenBatch; `lossMask` is [B, T] with 0 on padding. */
export function makeBatch(rows: readonly EncodedExample[], padId: number): { batch: TokenBatch; lossMask: number[][] } {
  const T = Math.max(...rows.map((r) => r.ids.length));
  const pad = <V>(a: readonly V[], v: V): V[] => [...a, ...new Array<V>(T - a.length).fill(v)];
  return {
    batch: {
      inputIds: rows.map((r) => pad(r.ids, padId)),
      attentionMask: rows.map((r) =>
        pad(
          r.ids.map(() => 1),
          0,
        ),
      ),
    },
    lossMask: rows.map((r) => pad(r.lossMask, 0)),
  };
}

/**
 * Row indices of step `step` (0-based): epochs are independent shuffles keyed by the epoch number,
 * so a resumed run draws exactly the batches it would have drawn.
 */
export function batchRows(n: number, batchSize: number, step: number, rng: Rng): number[] {
  const perEpoch = Math.max(1, Math.floor(n / batchSize));
  const epoch = Math.floor(step / perEpoch);
  const order = rng.fork(`epoch-${epoch}`).shuffle(Array.from({ length: n }, (_, i) => i));
  const start = (step % perEpoch) * batchSize;
  return order.slice(start, start + batchSize);
}
